import type { Finding } from '../../core/finding.js';
import type { Observation } from '../../core/observation.js';
import type { Evaluation, FilePermissionFix, RuleMeta } from '../../core/rule.js';

/** An owner CIS names (`root:root`, `etcd:etcd`), resolved to ids on this host. */
export interface Owner {
  readonly uid: number;
  readonly gid: number;
  readonly label: string;
}

export const ROOT: Owner = { uid: 0, gid: 0, label: 'root:root' };

/** A file or directory and the loosest mode and the owner CIS allows for it. */
export interface PermissionTarget {
  readonly path: string;
  readonly kind: 'file' | 'dir';
  /** Bits allowed at most, e.g. 0o600: any other bit fails and is removed. Null: mode not judged. */
  readonly maxMode: number | null;
  /** Required owner, or null when CIS names none for this path. */
  readonly owner: Owner | null;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, '0');
}

/** Mode and owner of a target as observed; `missing`, or an error text. */
function stateOf(obs: Observation, target: PermissionTarget): { mode: number; uid: number; gid: number } | 'missing' | string {
  const stat = obs.stats.get(target.path);
  if (stat) {
    if (stat.kind === 'missing') return 'missing';
    if (stat.kind === 'error') return stat.error;
    return stat.kind === target.kind ? stat : `is not a ${target.kind === 'file' ? 'regular file' : 'directory'}`;
  }
  const state = target.kind === 'file' ? obs.files.get(target.path) : obs.dirs.get(target.path);
  if (!state || state.kind === 'missing') return 'missing';
  if (state.kind === 'error') return state.error;
  return state;
}

/**
 * Judges modes and owners. Modes are only tightened (`mode & maxMode`), so a 400 file stays 400;
 * owners are only set where CIS names one. Missing paths are not judged; unreadable ones (a symlink
 * out of the host root, a directory where a file belongs) make the finding `unknown`. Paths in
 * `untouchable` (the agent could not parse them) are judged but never changed (DESIGN §3).
 */
export function evaluatePermissions(
  meta: RuleMeta,
  obs: Observation,
  targets: readonly PermissionTarget[],
  expected: string,
  untouchable: ReadonlySet<string> = new Set(),
): Evaluation {
  const base = { id: meta.id, title: meta.title, cis: meta.cis, expected };
  const errors: string[] = [];
  const wrong: string[] = [];
  const fine: string[] = [];
  const held: string[] = [];
  const fixes: FilePermissionFix[] = [];
  for (const target of targets) {
    const state = stateOf(obs, target);
    if (state === 'missing') continue;
    if (typeof state === 'string') {
      errors.push(`${target.path}: ${state}`);
      continue;
    }
    const modeBad = target.maxMode !== null && (state.mode & 0o7777 & ~target.maxMode) !== 0;
    const ownerBad = target.owner !== null && (state.uid !== target.owner.uid || state.gid !== target.owner.gid);
    const described = `${target.path} ${octal(state.mode)} ${state.uid}:${state.gid}`;
    if (!modeBad && !ownerBad) {
      fine.push(described);
      continue;
    }
    wrong.push(described);
    if (untouchable.has(target.path)) {
      held.push(target.path);
      continue;
    }
    fixes.push({
      path: target.path,
      ...(modeBad ? { mode: target.maxMode! } : {}),
      ...(ownerBad ? { owner: { uid: target.owner!.uid, gid: target.owner!.gid } } : {}),
    });
  }
  if (errors.length > 0) {
    const finding: Finding = {
      ...base,
      status: 'unknown',
      actual: [...wrong, ...fine].join(', ') || 'unknown',
      source: errors[0]!.split(':')[0] ?? null,
      remediable: false,
      message: `cannot check: ${errors.join('; ')}`,
    };
    return { finding };
  }
  if (wrong.length === 0 && fine.length === 0)
    return {
      finding: { ...base, status: 'skip', actual: 'no such files', source: null, remediable: false, message: 'none of the files exist on this node' },
    };
  if (wrong.length === 0) return { finding: { ...base, status: 'pass', actual: fine.join(', '), source: null, remediable: false, message: '' } };
  const note = held.length > 0 ? `; not changed because they could not be parsed: ${held.join(', ')}` : '';
  const finding: Finding = {
    ...base,
    status: 'fail',
    actual: wrong.join(', '),
    source: wrong[0]!.split(' ')[0] ?? null,
    remediable: fixes.length > 0,
    message: `too open or wrongly owned: ${wrong.join(', ')}${note}`,
  };
  if (fixes.length === 0) return { finding, blocked: `left as they are${note}` };
  return { finding, remedy: { permissions: fixes } };
}
