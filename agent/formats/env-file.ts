/**
 * systemd EnvironmentFile= files (`/var/lib/kubelet/kubeadm-flags.env`, `/etc/default/kubelet`).
 * Rules as systemd reads them: `#`/`;` comment lines, `KEY=VALUE`, optional `export `-free keys, values
 * in double quotes (backslash escapes) or single quotes (literal), backslash-newline continuation.
 * Edits replace only the value span of one assignment and keep its quoting.
 */

import { deepFreeze, memoizeParse } from './parse-memo.js';

/** One `KEY=VALUE` assignment with the span of its value text in the file. */
export interface EnvAssignment {
  readonly name: string;
  readonly value: string;
  readonly line: number;
  /** Span of the raw value text (inside the quotes when quoted). */
  readonly valueStart: number;
  readonly valueEnd: number;
  readonly quote: '"' | "'" | null;
}

export interface EnvFile {
  readonly assignments: readonly EnvAssignment[];
}

/** A parse error with a 1-based line number. */
export class FormatError extends Error {
  constructor(
    message: string,
    readonly line: number | null = null,
  ) {
    super(message);
    this.name = 'FormatError';
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses an EnvironmentFile; throws FormatError naming the line on anything systemd would not take.
 * Remembered by text (each reconcile reads the same few env files); the result is frozen.
 */
export const parseEnvFile = memoizeParse((text: string): EnvFile => deepFreeze(parseEnvFileText(text)));

function parseEnvFileText(text: string): EnvFile {
  const assignments: EnvAssignment[] = [];
  let offset = 0;
  let lineNo = 0;
  while (offset < text.length) {
    lineNo++;
    const lineEnd = text.indexOf('\n', offset);
    const end = lineEnd === -1 ? text.length : lineEnd;
    const line = text.slice(offset, end).replace(/\r$/, '');
    const trimmed = line.trimStart();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      offset = end + 1;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq === -1) throw new FormatError(`expected KEY=VALUE`, lineNo);
    const name = line.slice(0, eq).trim();
    if (!NAME.test(name)) throw new FormatError(`invalid variable name "${name.slice(0, 40)}"`, lineNo);
    let valueStart = offset + eq + 1;
    while (text[valueStart] === ' ' || text[valueStart] === '\t') valueStart++;
    const first = text[valueStart];
    if (first === '"' || first === "'") {
      const { value, close } = readQuoted(text, valueStart, first, lineNo);
      assignments.push({ name, value, line: lineNo, valueStart: valueStart + 1, valueEnd: close, quote: first });
      const rest = text.slice(close + 1, nextLineEnd(text, close + 1)).trim();
      if (rest !== '') throw new FormatError(`unexpected text after the closing quote of ${name}`, lineNo);
      lineNo += countNewlines(text, valueStart, close);
      offset = nextLineEnd(text, close + 1) + 1;
      continue;
    }
    // Unquoted: backslash-newline continues the value on the next line.
    let cursor = valueStart;
    let value = '';
    for (;;) {
      const stop = nextLineEnd(text, cursor);
      const chunk = text.slice(cursor, stop).replace(/\r$/, '');
      if (chunk.endsWith('\\') && stop < text.length) {
        value += chunk.slice(0, -1);
        cursor = stop + 1;
        lineNo++;
        continue;
      }
      value += chunk;
      cursor = stop;
      break;
    }
    const rawEnd = text[cursor - 1] === '\r' ? cursor - 1 : cursor;
    assignments.push({ name, value: value.trimEnd(), line: lineNo, valueStart, valueEnd: rawEnd, quote: null });
    offset = cursor + 1;
  }
  return { assignments };
}

function nextLineEnd(text: string, from: number): number {
  const index = text.indexOf('\n', from);
  return index === -1 ? text.length : index;
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) if (text[i] === '\n') count++;
  return count;
}

function readQuoted(text: string, start: number, quote: string, lineNo: number): { value: string; close: number } {
  let value = '';
  for (let i = start + 1; i < text.length; i++) {
    const char = text[i]!;
    if (char === quote) return { value, close: i };
    if (quote === '"' && char === '\\' && i + 1 < text.length) {
      const next = text[i + 1]!;
      if (next !== '\n') value += next;
      i++;
      continue;
    }
    value += char;
  }
  throw new FormatError(`unterminated ${quote === '"' ? 'double' : 'single'} quote`, lineNo);
}

/** The value of the last assignment of `name` (systemd: the last one wins), or undefined. */
export function lastAssignment(file: EnvFile, name: string): EnvAssignment | undefined {
  return [...file.assignments].reverse().find((assignment) => assignment.name === name);
}

function quoteFor(value: string, quote: '"' | "'" | null): string {
  if (quote === '"') return value.replace(/(["\\])/g, '\\$1');
  if (quote === "'" && value.includes("'")) throw new FormatError('a single-quoted value cannot hold a single quote');
  return value;
}

/**
 * Sets variable `name` to `value`. The last assignment is rewritten in place (same quoting); when the
 * variable is absent a double-quoted line is appended.
 */
export function setEnvVar(text: string, name: string, value: string): string {
  const existing = lastAssignment(parseEnvFile(text), name);
  if (!existing) {
    const separator = text === '' || text.endsWith('\n') ? '' : '\n';
    return `${text}${separator}${name}="${quoteFor(value, '"')}"\n`;
  }
  // Unquoted values end at the line end and a trailing backslash would continue them: refuse both.
  if (existing.quote === null && /[\\\n]/.test(value))
    throw new FormatError(`cannot write a backslash or newline into unquoted ${name}`, existing.line);
  return text.slice(0, existing.valueStart) + quoteFor(value, existing.quote) + text.slice(existing.valueEnd);
}
