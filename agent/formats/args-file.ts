import { FormatError } from './env-file.js';

/**
 * Canonical Kubernetes (k8s snap) args files, `/var/snap/k8s/common/args/<service>`: one `--flag=value`
 * a line. The snap reads them with bash (`declare -a args="($(cat file))"`), so values follow bash
 * quoting. Edits rewrite one line and keep every other line, and the quoting style, as it was.
 */

/** One flag line. */
export interface ArgLine {
  readonly name: string;
  readonly value: string;
  readonly quote: '"' | "'" | null;
  /** 0-based index into the file's lines. */
  readonly index: number;
}

export interface ArgsFile {
  readonly args: readonly ArgLine[];
}

function unquote(raw: string, lineNo: number): { value: string; quote: '"' | "'" | null } {
  const first = raw[0];
  if (first === '"' || first === "'") {
    if (raw.length < 2 || raw[raw.length - 1] !== first) throw new FormatError(`unterminated ${first === '"' ? 'double' : 'single'} quote`, lineNo);
    const inner = raw.slice(1, -1);
    if (first === "'") {
      if (inner.includes("'")) throw new FormatError('unexpected single quote inside a single-quoted value', lineNo);
      return { value: inner, quote: "'" };
    }
    if (/(^|[^\\])"/.test(inner)) throw new FormatError('unescaped double quote inside a double-quoted value', lineNo);
    return { value: inner.replace(/\\(["\\$`])/g, '$1'), quote: '"' };
  }
  if (/[\s"'`$\\;&|<>()]/.test(raw)) throw new FormatError('value has characters bash would interpret; quote it', lineNo);
  return { value: raw, quote: null };
}

/** Parses an args file; throws FormatError with the line for anything that is not one flag a line. */
export function parseArgsFile(text: string): ArgsFile {
  const args: ArgLine[] = [];
  text.split('\n').forEach((rawLine, index) => {
    const line = rawLine.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) return;
    const match = /^--([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?$/.exec(line);
    if (!match) throw new FormatError('expected one --flag=value per line', index + 1);
    const { value, quote } = match[2] === undefined ? { value: 'true', quote: null } : unquote(match[2], index + 1);
    args.push({ name: match[1]!, value, quote, index });
  });
  return { args };
}

/** Quotes a value for bash the way the line was quoted before (double quotes when it must be quoted). */
function render(value: string, quote: '"' | "'" | null): string {
  const needsQuotes = /[^A-Za-z0-9_,.:/=@%+-]/.test(value) || value === '';
  if (quote === "'" && !value.includes("'")) return `'${value}'`;
  if (quote === '"' || needsQuotes) return `"${value.replace(/(["\\$`])/g, '\\$1')}"`;
  return value;
}

/** Sets `--name` to `value`: rewrites its last line (earlier duplicates are removed), or appends one. */
export function setArg(text: string, name: string, value: string): string {
  const parsed = parseArgsFile(text);
  const matches = parsed.args.filter((arg) => arg.name === name);
  const lines = text.split('\n');
  const last = matches[matches.length - 1];
  if (!last) {
    const line = `--${name}=${render(value, null)}`;
    // The snap writes its args sorted; keep a sorted file sorted so the diff shows one added line.
    const names = parsed.args.map((arg) => arg.name);
    const sorted = names.length > 1 && names.every((arg, index) => index === 0 || names[index - 1]! <= arg);
    const before = sorted ? parsed.args.find((arg) => arg.name > name) : undefined;
    if (before) {
      lines.splice(before.index, 0, line);
      return lines.join('\n');
    }
    const body = text === '' || text.endsWith('\n') ? text : `${text}\n`;
    return `${body}${line}\n`;
  }
  const crlf = lines[last.index]!.endsWith('\r') ? '\r' : '';
  lines[last.index] = `--${name}=${render(value, last.quote)}${crlf}`;
  const drop = new Set(matches.slice(0, -1).map((arg) => arg.index));
  return lines.filter((_line, index) => !drop.has(index)).join('\n');
}

/** Removes every `--name` line. */
export function removeArg(text: string, name: string): string {
  const drop = new Set(
    parseArgsFile(text)
      .args.filter((arg) => arg.name === name)
      .map((arg) => arg.index),
  );
  if (drop.size === 0) return text;
  return text
    .split('\n')
    .filter((_line, index) => !drop.has(index))
    .join('\n');
}
