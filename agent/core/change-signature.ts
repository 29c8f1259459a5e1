import { shortDigest as digest } from './digest.js';
import type { Plan, PlannedChange } from './plan.js';

/**
 * Identifies a change by what it would do to what: the same target, the same content before and the
 * same result after. A change that was rolled back is held while the plan keeps producing the same
 * signature; a policy change or an edit of the file produces a different one, and the change is tried
 * again. Pure.
 */
export function changeSignature(change: PlannedChange): string {
  switch (change.action) {
    case 'write':
      return `write|${change.path}|${change.before === null ? '-' : digest(change.before)}|${digest(change.after)}`;
    case 'remove':
      return `remove|${change.path}|${digest(change.before)}`;
    case 'install':
      return `install|${change.path}|${change.beforeSha256 ?? '-'}|${change.sha256}`;
    case 'sysctl':
      return `sysctl|${change.key}|${change.before}|${change.after}`;
    case 'chmod':
      return `chmod|${change.path}|${change.before}|${change.after}`;
    case 'chown':
      return `chown|${change.path}|${change.before.uid}:${change.before.gid}|${change.after.uid}:${change.after.gid}`;
  }
}

/** A change that failed its health gate and was rolled back, with the others rolled back with it. */
export interface RolledBackChange {
  readonly signature: string;
  readonly rules: readonly string[];
  readonly reason: string;
  readonly atMs: number;
  /** The changes rolled back together (one failed restart) share a group. */
  readonly group: string;
}

/**
 * Which rules to hold because the plan would repeat a rolled-back change, with the reason; and which
 * remembered changes to forget. A group is held while the plan would repeat every change of it; when
 * one of its files changed (the plan's signature differs) or a change is no longer needed, the whole
 * group is forgotten and tried again, as one. Pure.
 */
export function matchRolledBack(
  plan: Plan,
  remembered: readonly RolledBackChange[],
): { readonly held: Map<string, string>; readonly stale: readonly RolledBackChange[] } {
  const planned = new Set(plan.changes.map(changeSignature));
  const held = new Map<string, string>();
  const stale: RolledBackChange[] = [];
  const groups = new Map<string, RolledBackChange[]>();
  for (const entry of remembered) groups.set(entry.group, [...(groups.get(entry.group) ?? []), entry]);
  for (const entries of groups.values()) {
    if (!entries.every((entry) => planned.has(entry.signature))) {
      stale.push(...entries);
      continue;
    }
    for (const entry of entries)
      for (const rule of entry.rules)
        held.set(
          rule,
          `rolled back at ${new Date(entry.atMs).toISOString()} (${entry.reason}); not retried until the policy or one of its files changes`,
        );
  }
  return { held, stale };
}
