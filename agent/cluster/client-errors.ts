import { ApiException } from '@kubernetes/client-node';
import { ConflictError, NotFoundError } from './api.js';

/** Translates client-node's ApiException into the seam's errors; anything else keeps its message. */
export function translate(error: unknown, what: string): Error {
  if (error instanceof ApiException) {
    if (error.code === 409) return new ConflictError(`${what}: conflict`);
    if (error.code === 404) return new NotFoundError(`${what}: not found`);
    const reason = typeof error.body === 'string' ? (safeJson(error.body)?.message ?? '') : '';
    return new Error(`${what}: HTTP ${error.code}${reason ? `: ${reason}` : ''}`);
  }
  return new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`);
}

export function safeJson(text: string): { message?: string } | null {
  try {
    return JSON.parse(text) as { message?: string };
  } catch {
    return null;
  }
}
