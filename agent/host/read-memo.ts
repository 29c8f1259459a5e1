import { createHash } from 'node:crypto';
import { constants, lstatSync, type BigIntStats } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';

/** One version of a file: a new inode, size, modification or change time means new content. */
export function identityOf(info: BigIntStats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.ctimeNs}`;
}

/**
 * The kernel stamps changes with a coarse clock (a tick of several milliseconds), so two writes of the
 * same size within one tick leave every timestamp alone. A file is remembered only when its last change
 * is this much older than the moment the read began ("racy git"): any later write then gets a newer
 * change time. Files that just changed are simply read again.
 */
const SETTLE_NS = 1_000_000_000n;

const NS_PER_MS = 1_000_000n;

/**
 * procfs and sysfs change content without changing any timestamp (a sysctl write, a new process), and
 * report size 0: what is read there is never remembered.
 */
export function isPseudoFile(hostPath: string): boolean {
  return hostPath === '/proc' || hostPath === '/sys' || hostPath.startsWith('/proc/') || hostPath.startsWith('/sys/');
}

/** Remembers what was read from host files, by the identity of the file it came from. */
export interface ReadMemo<T> {
  /** The remembered value when the file it came from is still the same version; else null. */
  recall(hostPath: string): T | null;
  /**
   * Keeps `value`, read from `hostPath` whose identity was `info` when the read began at `startedMs`.
   * `probe` is the host path whose identity vouches for the value: the path itself, or for a missing
   * file the deepest directory that exists (no entry can appear in it without changing its times).
   */
  remember(hostPath: string, info: BigIntStats, startedMs: number, value: T, probe?: string): void;
}

/**
 * Lets the daemon re-observe an unchanged node with one lstat per file instead of open, stat, read and
 * close (and, through the parse memo, no parse). The lstat goes to the plain path under the root; that
 * is safe without resolving symlinks again because only an identical identity (same device, inode and
 * change time as the file read through the chroot-style resolver) is trusted: whatever the path leads
 * through now, it reaches that very file, unchanged.
 */
export class IdentityReadMemo<T> implements ReadMemo<T> {
  private readonly entries = new Map<string, { readonly probe: string; readonly identity: string; readonly value: T }>();

  constructor(
    private readonly root: string,
    private readonly limit = 1024,
  ) {}

  recall(hostPath: string): T | null {
    const known = this.entries.get(hostPath);
    if (!known) return null;
    // Synchronous on purpose: a local lstat takes ~4 us, its async form ~35 us of callbacks and a
    // thread-pool hop; an unchanged node is a hundred of these per reconcile.
    const info = lstatSync(path.join(this.root, known.probe), { bigint: true, throwIfNoEntry: false }) ?? null;
    if (info && identityOf(info) === known.identity) return known.value;
    this.entries.delete(hostPath);
    return null;
  }

  remember(hostPath: string, info: BigIntStats, startedMs: number, value: T, probe = hostPath): void {
    this.entries.delete(hostPath);
    if (isPseudoFile(probe) || probe.split('/').includes('..')) return;
    if (info.ctimeNs + SETTLE_NS > BigInt(Math.floor(startedMs)) * NS_PER_MS) return;
    if (this.entries.size >= this.limit) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(hostPath, { probe, identity: identityOf(info), value });
  }
}

/** The SHA-256 of a file (agent-side path, final symlink refused) and its identity when it was opened. */
export async function hashFile(file: string): Promise<{ readonly sha256: string; readonly info: BigIntStats }> {
  const handle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const info = await handle.stat({ bigint: true });
    return {
      sha256: createHash('sha256')
        .update(await handle.readFile())
        .digest('hex'),
      info,
    };
  } finally {
    await handle.close();
  }
}
