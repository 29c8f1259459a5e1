import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Policy } from '../core/policy.js';
import type { Env } from './common.js';
import type { ReportPolicy } from './report-model.js';

/** The terminal stdout is attached to, as main.ts sees it (tests pass their own). */
export interface Terminal {
  readonly isTTY: boolean;
  /** Columns when stdout is a terminal. */
  readonly columns?: number;
  /** stderr is a terminal (apply's progress while it waits on a health gate redraws one line). */
  readonly stderrIsTTY?: boolean;
}

/** Width when stdout is not a terminal (a pipe, a file, CI logs): what most viewers show unwrapped. */
export const DEFAULT_WIDTH = 80;

/**
 * Width and colour of terminal output: the terminal's columns, else 80; colour only on a terminal and
 * only when NO_COLOR is unset or empty (https://no-color.org).
 */
export function terminalLayout(terminal: Terminal | undefined, env: Env): { width: number; color: boolean } {
  const tty = terminal?.isTTY === true;
  const columns = tty && terminal?.columns && terminal.columns > 0 ? terminal.columns : DEFAULT_WIDTH;
  return { width: columns, color: tty && (env.NO_COLOR === undefined || env.NO_COLOR === '') };
}

/** JSON with object keys sorted at every level, so equal policies hash equally. */
function canonical(value: unknown): string {
  if (value instanceof Map) return canonical(Object.fromEntries([...value].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .map((key) => `${JSON.stringify(key)}:${canonical((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of the effective policy (defaults applied): the same rules and values give the same digest. */
export function policyDigest(policy: Policy): string {
  return sha256(canonical(policy));
}

/**
 * The policy as audit evidence: its file (or built-in), mode, digests and every rule's setting. The
 * file was read and validated already; it is read again only for the digest of its bytes.
 */
export async function policyEvidence(policy: Policy, file: string | null): Promise<ReportPolicy> {
  let fileSha256: string | null = null;
  if (file !== null) {
    try {
      fileSha256 = sha256(await readFile(file));
    } catch {
      fileSha256 = null;
    }
  }
  return {
    file,
    mode: policy.mode,
    sha256: policyDigest(policy),
    fileSha256,
    rules: [...policy.rules].map(([id, setting]) => ({
      id,
      enabled: setting.enabled,
      value: setting.value === undefined ? null : JSON.stringify(setting.value),
    })),
  };
}
