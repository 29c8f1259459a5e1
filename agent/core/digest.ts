import { createHash } from 'node:crypto';

/** A short, stable identity of a text (16 hex digits of its SHA-256): for signatures and keys, never for integrity. */
export function shortDigest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}
