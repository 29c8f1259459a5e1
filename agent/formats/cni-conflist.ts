import { parseDocument } from 'yaml';
import { FormatError } from './env-file.js';

/**
 * CNI network configuration files (`.conflist` with a `plugins` chain, `.conf`/`.json` with a single
 * plugin). Appending to the chain is a text insertion before the closing bracket of `plugins`, so the
 * rest of the file (field order, indentation, other plugins) stays byte for byte.
 */

export type JsonObject = { [key: string]: unknown };

/** A parsed network configuration, normalized to a chain. */
export interface CniConfig {
  readonly kind: 'conflist' | 'conf';
  readonly name: string | null;
  readonly cniVersion: string | null;
  readonly plugins: readonly JsonObject[];
  readonly raw: JsonObject;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** JSON.parse with the line of a syntax error, and duplicate keys refused (runtimes keep the last one). */
function parseStrictJson(text: string): unknown {
  try {
    rejectDuplicateKeys(text);
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    if (error instanceof FormatError) throw error;
    // V8's messages carry no position on every Node version; JSON is YAML 1.2, so the YAML parser can
    // point at the line.
    const located = parseDocument(text, { prettyErrors: true }).errors[0]?.linePos?.[0]?.line ?? null;
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]!.replace(/ in JSON at position \d+.*$/, '');
    throw new FormatError(`invalid JSON: ${message.slice(0, 120)}`, located);
  }
}

/** Scans the JSON text for a key repeated within one object. */
function rejectDuplicateKeys(text: string): void {
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = text.slice(i + 1, end);
        if (top.has(key)) throw new FormatError(`duplicate key "${key}"`, text.slice(0, i).split('\n').length);
        top.add(key);
        expectKey = false;
      }
      i = end;
    } else if (char === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (char === '[') stack.push(null);
    else if (char === '}' || char === ']') stack.pop();
    else if (char === ',') expectKey = stack[stack.length - 1] !== null && stack.length > 0;
  }
}

/** Parses a network config file; throws FormatError naming the line for anything runtimes would reject. */
export function parseCniConfig(text: string): CniConfig {
  const raw = parseStrictJson(text);
  if (!isObject(raw)) throw new FormatError('a CNI network configuration must be a JSON object', 1);
  const name = typeof raw.name === 'string' ? raw.name : null;
  const cniVersion = typeof raw.cniVersion === 'string' ? raw.cniVersion : null;
  if (Array.isArray(raw.plugins)) {
    if (!raw.plugins.every((plugin) => isObject(plugin) && typeof plugin.type === 'string'))
      throw new FormatError('every entry of "plugins" must be an object with a "type"');
    return { kind: 'conflist', name, cniVersion, plugins: raw.plugins as JsonObject[], raw };
  }
  if (typeof raw.type !== 'string') throw new FormatError('neither a "plugins" list nor a single plugin "type"');
  return { kind: 'conf', name, cniVersion, plugins: [raw], raw };
}

/** The bandwidth entry the chain needs (KUBERNETES-FACTS.md §10). */
export const BANDWIDTH_PLUGIN: JsonObject = { type: 'bandwidth', capabilities: { bandwidth: true } };

/**
 * True when the chain has exactly one bandwidth plugin with the bandwidth capability, after the plugin
 * that creates the interface (it shapes the host-side veth from prevResult). Its place relative to
 * portmap or tuning does not matter: Calico's stock chain is calico, bandwidth, portmap.
 */
export function chainsBandwidth(config: CniConfig): boolean {
  const positions = config.plugins.map((plugin, index) => (plugin.type === 'bandwidth' ? index : -1)).filter((index) => index >= 0);
  if (positions.length !== 1 || positions[0] === 0) return false;
  const capabilities = config.plugins[positions[0]!]!.capabilities;
  return isObject(capabilities) && capabilities.bandwidth === true;
}

/** The indentation unit of a JSON text (two spaces, four, a tab), defaulting to two spaces. */
function indentUnit(text: string): string {
  const match = /\n([ \t]+)"/.exec(text);
  if (!match) return '  ';
  const indent = match[1]!;
  return indent.startsWith('\t') ? '\t' : indent.length >= 4 && indent.length % 4 === 0 ? '    ' : '  ';
}

/** Index of the `]` closing the top-level "plugins" array, and of its last element's start. */
function pluginsArraySpan(text: string): { open: number; close: number } | null {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (depth === 1 && text.slice(i + 1, end) === 'plugins' && /^\s*:\s*\[/.test(text.slice(end + 1))) {
        const open = text.indexOf('[', end);
        let inner = 0;
        for (let j = open; j < text.length; j++) {
          const c = text[j]!;
          if (c === '"') {
            let stop = j + 1;
            while (stop < text.length && text[stop] !== '"') stop += text[stop] === '\\' ? 2 : 1;
            j = stop;
          } else if (c === '[' || c === '{') inner++;
          else if (c === ']' || c === '}') {
            inner--;
            if (inner === 0) return { open, close: j };
          }
        }
        return null;
      }
      i = end;
    } else if (char === '{' || char === '[') depth++;
    else if (char === '}' || char === ']') depth--;
  }
  return null;
}

/** Index of the `{` that opens the last element of the array spanning `open`..`close`. */
function lastElementStart(text: string, open: number, close: number): number {
  let depth = 0;
  let start = open;
  for (let i = open + 1; i < close; i++) {
    const char = text[i]!;
    if (char === '"') {
      while (++i < close && text[i] !== '"') if (text[i] === '\\') i++;
    } else if (char === '{' || char === '[') {
      if (depth === 0) start = i;
      depth++;
    } else if (char === '}' || char === ']') depth--;
  }
  return start;
}

/**
 * Returns the conflist text with bandwidth chained exactly once. When the chain has no bandwidth entry,
 * the entry is appended as text (everything else byte for byte); duplicates, a first-position entry or
 * a missing capability make the file re-serialized with its own indentation, bandwidth last.
 */
export function chainBandwidth(text: string): string {
  const config = parseCniConfig(text);
  if (config.kind !== 'conflist') throw new FormatError('a single-plugin config must be converted to a .conflist first');
  if (chainsBandwidth(config)) return text;
  const unit = indentUnit(text);
  const span = pluginsArraySpan(text);
  const hasBandwidth = config.plugins.some((plugin) => plugin.type === 'bandwidth');
  if (span && !hasBandwidth && config.plugins.length > 0) {
    const lastBrace = text.slice(0, span.close).lastIndexOf('}');
    const lineStart = text.lastIndexOf('\n', lastElementStart(text, span.open, span.close)) + 1;
    const elementIndent = /^[ \t]*/.exec(text.slice(lineStart))![0];
    const multiLine = text.slice(span.open, span.close).includes('\n');
    const rendered = multiLine ? JSON.stringify(BANDWIDTH_PLUGIN, null, unit).replace(/\n/g, `\n${elementIndent}`) : JSON.stringify(BANDWIDTH_PLUGIN);
    const insert = multiLine ? `,\n${elementIndent}${rendered}` : `, ${rendered}`;
    return `${text.slice(0, lastBrace + 1)}${insert}${text.slice(lastBrace + 1)}`;
  }
  const kept = config.plugins.filter((plugin) => plugin.type !== 'bandwidth');
  const existing = config.plugins.find((plugin) => plugin.type === 'bandwidth');
  const bandwidth = {
    ...(existing ?? {}),
    ...BANDWIDTH_PLUGIN,
    capabilities: { ...(isObject(existing?.capabilities) ? existing.capabilities : {}), bandwidth: true },
  };
  const raw = { ...config.raw, plugins: [...kept, bandwidth] };
  return `${JSON.stringify(raw, null, unit)}\n`;
}

/**
 * Turns a single-plugin `.conf` into a conflist text with bandwidth chained: `name` and `cniVersion`
 * move to the list, the plugin keeps every other field in order.
 */
export function confToConflist(text: string): string {
  const config = parseCniConfig(text);
  if (config.kind !== 'conf') throw new FormatError('already a conflist');
  const { name, cniVersion, ...plugin } = config.raw;
  const list: JsonObject = {};
  if (cniVersion !== undefined) list.cniVersion = cniVersion;
  if (name !== undefined) list.name = name;
  list.plugins = [plugin, BANDWIDTH_PLUGIN];
  return `${JSON.stringify(list, null, indentUnit(text))}\n`;
}
