import { createHash } from 'node:crypto';

/**
 * Escaping-by-default HTML building: every value interpolated into `markup` is escaped unless it is
 * itself the result of `markup` (already safe). File contents and finding values are untrusted.
 */
export class SafeHtml {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** Escapes the five characters that matter in element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

type Part = SafeHtml | string | number | null | undefined | false | readonly Part[];

function renderPart(part: Part): string {
  if (part === null || part === undefined || part === false) return '';
  if (part instanceof SafeHtml) return part.text;
  if (Array.isArray(part)) return part.map(renderPart).join('');
  return escapeHtml(String(part));
}

/**
 * Tagged template: literal markup kept, interpolations escaped (arrays joined, null/false dropped).
 * (Not named `html`: Prettier would re-indent the markup, and with it <pre> and <style> contents.)
 */
export function markup(strings: TemplateStringsArray, ...values: readonly Part[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += renderPart(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** An inline <style> element with exactly `css` inside (CSS is raw text: it must not be escaped). */
export function styleElement(css: string): SafeHtml {
  if (/<\/style/i.test(css)) throw new Error('style sheet must not contain </style');
  return new SafeHtml(`<style>${css}</style>`);
}

/** The CSP source of an inline <style> element: its content's sha256, so no other style can apply. */
export function styleHashSource(css: string): string {
  return `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`;
}
