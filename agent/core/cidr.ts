import { isIP } from 'node:net';

/** An IP address as a number, with its family (4 or 6). */
interface Address {
  readonly family: 4 | 6;
  readonly value: bigint;
}

function parseAddress(text: string): Address | null {
  const family = isIP(text);
  if (family === 4) return { family, value: text.split('.').reduce((sum, part) => (sum << 8n) + BigInt(Number(part)), 0n) };
  if (family !== 6) return null;
  // Expand "::" and a trailing embedded IPv4 into eight 16-bit groups.
  let body = text;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (v4) {
    const value = parseAddress(v4[1]!)!.value;
    body = `${body.slice(0, -v4[1]!.length)}${(value >> 16n).toString(16)}:${(value & 0xffffn).toString(16)}`;
  }
  const [head, tail] = body.includes('::') ? body.split('::') : [body, null];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === null ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return { family: 6, value: groups.reduce((sum, group) => (sum << 16n) + BigInt(parseInt(group || '0', 16)), 0n) };
}

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function format(address: Address): string {
  if (address.family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((address.value >> shift) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, index) => ((address.value >> BigInt((7 - index) * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = { start: -1, length: 0 };
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === '0') length++;
    if (length > best.length && length > 1) best = { start, length };
  }
  if (best.start < 0) return groups.join(':');
  return `${groups.slice(0, best.start).join(':')}::${groups.slice(best.start + best.length).join(':')}`;
}

/** A CIDR block; null when `text` is not one (a bare IP is not a CIDR). */
export function parseCidr(text: string): { readonly address: Address; readonly prefix: number } | null {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  if (!match) return null;
  const address = parseAddress(match[1]!);
  const prefix = Number(match[2]);
  if (!address || prefix > bits(address.family)) return null;
  return { address, prefix };
}

/** True when `ip` lies inside `cidr`. */
export function cidrContains(cidr: string, ip: string): boolean {
  const block = parseCidr(cidr);
  const address = parseAddress(ip);
  if (!block || !address || block.address.family !== address.family) return false;
  const shift = BigInt(bits(address.family) - block.prefix);
  return block.address.value >> shift === address.value >> shift;
}

/**
 * The smallest single CIDR per address family that covers every IP (e.g. 10.0.1.5 and 10.0.12.7 give
 * 10.0.0.0/20). Pure.
 */
export function coveringCidrs(ips: readonly string[]): string[] {
  const result: string[] = [];
  for (const family of [4, 6] as const) {
    const addresses = ips.map(parseAddress).filter((address): address is Address => address?.family === family);
    if (addresses.length === 0) continue;
    const width = bits(family);
    let prefix = width;
    const first = addresses[0]!.value;
    while (prefix > 0 && addresses.some((address) => address.value >> BigInt(width - prefix) !== first >> BigInt(width - prefix))) prefix--;
    const network = (first >> BigInt(width - prefix)) << BigInt(width - prefix);
    result.push(`${format({ family, value: network })}/${prefix}`);
  }
  return result;
}

/** `IP:port` as kube-proxy's v1alpha1 bind addresses require (`[v6]:port` for IPv6). */
export function isIpPort(text: string): boolean {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!match) return false;
  const ip = match[1] ?? match[2]!;
  const port = Number(match[3]);
  return isIP(ip) !== 0 && port > 0 && port < 65536 && (match[1] === undefined || isIP(ip) === 6);
}

/** The host part of an IP:port bind address. */
export function bindHost(text: string): string {
  return /^\[([^\]]+)\]:\d+$/.exec(text)?.[1] ?? text.slice(0, text.lastIndexOf(':'));
}

export function isIpAddress(text: string): boolean {
  return isIP(text) !== 0;
}
