/**
 * A reader for the block YAML that Kubernetes tools write (kubeadm's manifests and kubelet config,
 * hand-edited variants of them): mappings, sequences, single-line scalars, comments. It exists for
 * speed: the `yaml` package composes a full Document before it yields plain values, which was the
 * largest single cost of a cold audit (docs/performance.md).
 *
 * It never guesses. Anything outside that subset (anchors, aliases, tags, block scalars, multi-line
 * scalars, flow collections beyond a one-line list of scalars, tabs in indentation, several documents,
 * duplicate keys) makes it return `undefined`, and the caller parses with the `yaml` package, whose
 * answer (value or error) is the reference. Scalars resolve as that package's default YAML 1.2 core
 * schema does; test/unit/formats/plain-yaml.test.ts compares both on every fixture and on a corpus.
 */

/** A plain YAML value: what the `yaml` package's toJS gives for the same text. */
export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

/** Thrown inside the reader when the text leaves the subset; never escapes it. */
class Unsupported extends Error {}

interface Line {
  readonly indent: number;
  /** The line's content without indentation and without a trailing comment. */
  readonly text: string;
}

const NULLS = new Set(['~', 'null', 'Null', 'NULL', '']);
const TRUES = new Set(['true', 'True', 'TRUE']);
const FALSES = new Set(['false', 'False', 'FALSE']);
const INT = /^[-+]?[0-9]+$/;
const OCTAL = /^0o[0-7]+$/;
const HEX = /^0x[0-9a-fA-F]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const INFINITY = /^[-+]?\.(?:inf|Inf|INF)$/;
const NAN = /^\.(?:nan|NaN|NAN)$/;
/** First characters a plain scalar of this subset may not start with (YAML indicators). */
const INDICATORS = new Set(['&', '*', '!', '|', '>', '%', '@', '`', '?', '{', '[', ']', '}', ',', '#']);

/** A plain scalar as the core schema resolves it. */
function plainScalar(text: string): Plain {
  if (NULLS.has(text)) return null;
  if (TRUES.has(text)) return true;
  if (FALSES.has(text)) return false;
  if (INT.test(text)) return Number(text);
  if (OCTAL.test(text)) return parseInt(text.slice(2), 8);
  if (HEX.test(text)) return parseInt(text.slice(2), 16);
  if (FLOAT.test(text)) return Number(text);
  if (INFINITY.test(text)) return text.startsWith('-') ? -Infinity : Infinity;
  if (NAN.test(text)) return NaN;
  if (INDICATORS.has(text[0]!) || (text[0] === '-' && (text.length === 1 || text[1] === ' '))) throw new Unsupported();
  if (text.includes(': ') || text.endsWith(':') || text.includes(' #')) throw new Unsupported();
  return text;
}

const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\', '"': '"', '/': '/', n: '\n', t: '\t', r: '\r', '0': '\0', ' ': ' ' };

/** A quoted scalar starting at `text[0]`; returns the value and the rest of the text after the closing quote. */
function quoted(text: string): { value: string; rest: string } {
  if (text[0] === "'") {
    let value = '';
    for (let at = 1; at < text.length; at++) {
      if (text[at] !== "'") value += text[at];
      else if (text[at + 1] === "'") {
        value += "'"; // '' is an escaped quote
        at++;
      } else return { value, rest: text.slice(at + 1) };
    }
    throw new Unsupported(); // a single-quoted scalar that goes on over lines
  }
  let value = '';
  for (let at = 1; at < text.length; at++) {
    const char = text[at]!;
    if (char === '"') return { value, rest: text.slice(at + 1) };
    if (char !== '\\') {
      value += char;
      continue;
    }
    const next = text[++at];
    if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(at + 1, at + 5))) {
      value += String.fromCharCode(parseInt(text.slice(at + 1, at + 5), 16));
      at += 4;
    } else if (next !== undefined && next in ESCAPES) value += ESCAPES[next];
    else throw new Unsupported();
  }
  throw new Unsupported();
}

/** A scalar, quoted or plain, or a one-line flow list of scalars; the whole text must be used. */
function scalarOrFlow(text: string): Plain {
  if (text === '[]') return [];
  if (text === '{}') return {};
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1).trim();
    if (inner === '' || /[[\]{}'"]/.test(inner)) throw new Unsupported();
    return inner.split(',').map((item) => {
      const word = item.trim();
      if (word === '' || word.includes(': ') || word.endsWith(':')) throw new Unsupported();
      return plainScalar(word);
    });
  }
  if (text[0] === '"' || text[0] === "'") {
    const { value, rest } = quoted(text);
    if (rest.trim() !== '') throw new Unsupported();
    return value;
  }
  return plainScalar(text);
}

/** Strips a trailing comment (a `#` after whitespace, outside quotes) and trailing blanks. */
function withoutComment(text: string): string {
  let quote: string | null = null;
  for (let at = 0; at < text.length; at++) {
    const char = text[at]!;
    if (quote) {
      if (char === quote) {
        if (quote === "'" && text[at + 1] === "'") at++;
        else quote = null;
      } else if (char === '\\' && quote === '"') at++;
    } else if ((char === '"' || char === "'") && (at === 0 || /[\s:[,-]/.test(text[at - 1]!))) quote = char;
    else if (char === '#' && (at === 0 || /\s/.test(text[at - 1]!))) return text.slice(0, at).trimEnd();
  }
  if (quote) throw new Unsupported();
  return text.trimEnd();
}

/** Splits `key: value` (value may be empty); null when the text is not a mapping entry. */
function splitKey(text: string): { key: string; value: string } | null {
  if (text[0] === '"' || text[0] === "'") {
    const { value: key, rest } = quoted(text);
    if (rest === ':') return { key, value: '' };
    if (rest.startsWith(': ')) return { key, value: rest.slice(2).trim() };
    return null;
  }
  const at = text.indexOf(': ');
  const end = at === -1 ? (text.endsWith(':') ? text.length - 1 : -1) : at;
  if (end <= 0) return null;
  const raw = text.slice(0, end).trimEnd();
  const key = plainScalar(raw);
  // Keys that the core schema reads as null, booleans or numbers would be turned into strings by the
  // yaml package in its own way: leave them to it.
  if (typeof key !== 'string' || key !== raw) throw new Unsupported();
  return { key, value: at === -1 ? '' : text.slice(at + 2).trim() };
}

function lines(text: string): Line[] {
  const result: Line[] = [];
  for (const line of text.split(/\r?\n/)) {
    // Tabs (as indentation or as separators) have rules of their own: left to the full parser.
    if (line.includes('\t')) throw new Unsupported();
    const body = line.trimStart();
    if (body === '' || body.startsWith('#')) continue;
    if (body === '---' && result.length === 0) continue;
    if (body.startsWith('---') || body.startsWith('...') || body.startsWith('%')) throw new Unsupported();
    result.push({ indent: line.length - body.length, text: withoutComment(body) });
  }
  return result;
}

class Reader {
  private at = 0;
  constructor(private readonly lines: readonly Line[]) {}

  done(): boolean {
    return this.at >= this.lines.length;
  }

  /** The block starting at the current line, whose lines are indented exactly `indent`. */
  block(indent: number): Plain {
    const line = this.lines[this.at];
    if (!line || line.indent !== indent) throw new Unsupported();
    return line.text === '-' || line.text.startsWith('- ') ? this.sequence(indent) : this.mapping(indent);
  }

  private mapping(indent: number): { [key: string]: Plain } {
    const map: { [key: string]: Plain } = {};
    while (!this.done() && this.lines[this.at]!.indent === indent) {
      const line = this.lines[this.at]!;
      if (line.text === '-' || line.text.startsWith('- ')) break;
      const entry = splitKey(line.text);
      if (!entry || Object.hasOwn(map, entry.key) || entry.key === '__proto__') throw new Unsupported();
      this.at++;
      map[entry.key] = this.valueAfter(entry.value, indent, true);
    }
    if (!this.done() && this.lines[this.at]!.indent > indent) throw new Unsupported();
    return map;
  }

  private sequence(indent: number): Plain[] {
    const list: Plain[] = [];
    while (!this.done() && this.lines[this.at]!.indent === indent) {
      const line = this.lines[this.at]!;
      if (line.text !== '-' && !line.text.startsWith('- ')) break;
      const rest = line.text === '-' ? '' : line.text.slice(2).trimStart();
      if (rest === '') {
        this.at++;
        list.push(this.valueAfter('', indent, false));
        continue;
      }
      if (rest === '-' || rest.startsWith('- ')) throw new Unsupported(); // a list directly in a list
      const itemIndent = indent + (line.text.length - rest.length);
      if (splitKey(rest)) {
        // `- key: value`: a mapping whose first line shares the dash's line; the rest align with it.
        this.at++;
        const shifted: Line[] = [{ indent: itemIndent, text: rest }];
        while (!this.done() && this.lines[this.at]!.indent >= itemIndent) shifted.push(this.lines[this.at++]!);
        const inner = new Reader(shifted);
        list.push(inner.block(itemIndent));
        if (!inner.done()) throw new Unsupported();
      } else {
        this.at++;
        list.push(scalarOrFlow(rest));
        if (!this.done() && this.lines[this.at]!.indent > indent) throw new Unsupported(); // a multi-line scalar
      }
    }
    if (!this.done() && this.lines[this.at]!.indent > indent) throw new Unsupported();
    return list;
  }

  /**
   * The value of a key or a `-` with `inline` text after it: that scalar, or the block on the next
   * lines (more indented; for a key, a list may also sit at the key's own indentation, as kubeadm
   * writes it).
   */
  private valueAfter(inline: string, indent: number, isKey: boolean): Plain {
    const next = this.lines[this.at];
    if (inline !== '') {
      if (next && next.indent > indent) throw new Unsupported(); // a multi-line plain scalar
      return scalarOrFlow(inline);
    }
    if (!next) return null;
    if (next.indent > indent) return this.block(next.indent);
    if (isKey && next.indent === indent && (next.text === '-' || next.text.startsWith('- '))) return this.sequence(indent);
    return null;
  }
}

/** The plain value of `text`, or undefined when it uses YAML beyond this reader's subset. */
export function readPlainYaml(text: string): Plain | undefined {
  try {
    const all = lines(text);
    if (all.length === 0) return null;
    const reader = new Reader(all);
    const value = reader.block(all[0]!.indent);
    return reader.done() ? value : undefined;
  } catch (error) {
    if (error instanceof Unsupported) return undefined;
    throw error;
  }
}

/** True for a mapping (not a list, not a scalar). */
export function isPlainMap(value: Plain | undefined): value is { [key: string]: Plain } {
  return value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value);
}
