/**
 * Plain-text layout for terminal reports: wrapping to a width and fixed columns. Pure: the width and
 * whether to colour come from the caller, never from process globals.
 */

/** Characters after which a long word (a rule id, a list, a path) may break: the break stays readable. */
const SOFT_BREAK_AFTER = new Set([',', ';', '.', '-', '/', '=', ':', '_']);

/** Splits one word longer than `width` into pieces, preferring a break after a separator character. */
function breakWord(word: string, width: number): string[] {
  const pieces: string[] = [];
  let rest = word;
  while (rest.length > width) {
    let cut = -1;
    for (let index = width - 1; index >= Math.floor(width / 3); index -= 1)
      if (SOFT_BREAK_AFTER.has(rest[index]!)) {
        cut = index + 1;
        break;
      }
    if (cut <= 0) cut = width;
    pieces.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest !== '') pieces.push(rest);
  return pieces;
}

/**
 * Wraps text to lines of at most `width` characters: at spaces, else inside a long word after a
 * separator, else hard. Embedded newlines start new lines. Empty text is one empty line.
 */
export function wrap(text: string, width: number): string[] {
  const limit = Math.max(1, width);
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ').filter((part) => part !== '')) {
      const candidate = line === '' ? word : `${line} ${word}`;
      if (candidate.length <= limit) {
        line = candidate;
        continue;
      }
      if (line !== '') lines.push(line);
      const pieces = breakWord(word, limit);
      line = pieces.pop() ?? '';
      lines.push(...pieces);
    }
    lines.push(line);
  }
  return lines;
}

/** Wraps text under a first-line prefix, later lines indented by the prefix's width. */
export function hanging(prefix: string, text: string, width: number): string[] {
  const indent = ' '.repeat(prefix.length);
  return wrap(text, width - prefix.length).map((line, index) => `${index === 0 ? prefix : indent}${line}`.trimEnd());
}

/** One table column: its width and how to style a cell's text (after padding, so widths stay exact). */
export interface Column {
  readonly width: number;
  readonly style?: (text: string) => string;
}

/** Space between columns. */
export const GAP = 2;

/**
 * Lays out one table row: every cell wrapped to its column, the row as tall as its tallest cell. The
 * last column is not padded (no trailing blanks).
 */
export function tableRow(cells: readonly string[], columns: readonly Column[]): string[] {
  const wrapped = cells.map((cell, index) => wrap(cell, columns[index]!.width));
  const height = Math.max(...wrapped.map((lines) => lines.length));
  const lines: string[] = [];
  for (let row = 0; row < height; row += 1) {
    const parts = columns.map((column, index) => {
      const text = wrapped[index]![row] ?? '';
      const last = index === columns.length - 1;
      const padded = last ? text : text.padEnd(column.width + GAP);
      return text !== '' && column.style ? column.style(text) + padded.slice(text.length) : padded;
    });
    lines.push(parts.join('').trimEnd());
  }
  return lines;
}

/**
 * Control characters (ESC, BEL, CR, C1 ...) shown as `\u001b` and the like, newlines and tabs kept.
 * Values come from host files and the API: printed raw, an escape sequence in a kubelet config could
 * retitle or clear the operator's terminal, or paint over a FAIL row.
 */
export function visibleText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** `visibleText` on every string of a plain value (a report model before it is laid out and coloured). */
export function visibleStrings<T>(value: T): T {
  if (typeof value === 'string') return visibleText(value) as T;
  if (Array.isArray(value)) return value.map((item: unknown) => visibleStrings(item)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visibleStrings(item)])) as T;
  return value;
}
