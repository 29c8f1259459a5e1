import { createHash } from 'node:crypto';

/**
 * Escaping-by-default HTML building: every value interpolated into `html` is escaped unless it is
 * itself the result of `html` (already safe). File contents and finding values are untrusted.
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

/** Tagged template: literal markup kept, interpolations escaped (arrays joined, null/false dropped). */
export function html(strings: TemplateStringsArray, ...values: readonly Part[]): SafeHtml {
  let out = strings[0] ?? '';
  values.forEach((value, index) => {
    out += renderPart(value) + (strings[index + 1] ?? '');
  });
  return new SafeHtml(out);
}

/** The CSP source of an inline <style> element: its content's sha256, so no other style can apply. */
export function styleHashSource(css: string): string {
  return `'sha256-${createHash('sha256').update(css, 'utf8').digest('base64')}'`;
}
