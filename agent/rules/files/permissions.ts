import type { Finding } from '../../core/finding.js';
import type { FileState, Observation } from '../../core/observation.js';
import type { Evaluation, FilePermissionFix, RuleMeta } from '../../core/rule.js';

/** A file and the loosest mode (and owner) CIS allows for it. */
export interface PermissionTarget {
  readonly path: string;
  /** Bits allowed at most, e.g. 0o600: any other bit fails and is removed. */
  readonly maxMode: number;
  readonly rootOwned: boolean;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(3, '0');
}

function describe(state: Extract<FileState, { kind: 'file' }>): string {
  return `${state.path} ${octal(state.mode)} ${state.uid}:${state.gid}`;
}

/**
 * Judges file modes and owners. Modes are only tightened (`mode & maxMode`), so a 400 file stays 400;
 * owners are only set to root where CIS names root:root. Missing files are not judged; unreadable ones
 * (a symlink out of the host root, a directory) make the finding `unknown`.
 */
export function evaluatePermissions(
  meta: RuleMeta,
  obs: Observation,
  targets: readonly PermissionTarget[],
  expected: string,
  /** Files judged but never changed: the agent could not parse them (DESIGN §3). */
  untouchable: ReadonlySet<string> = new Set(),
): Evaluation {
  const base = { id: meta.id, title: meta.title, cis: meta.cis, expected };
  const errors: string[] = [];
  const wrong: string[] = [];
  const fine: string[] = [];
  const fixes: FilePermissionFix[] = [];
  for (const target of targets) {
    const state = obs.files.get(target.path);
    if (!state || state.kind === 'missing') continue;
    if (state.kind === 'error') {
      errors.push(`${target.path}: ${state.error}`);
      continue;
    }
    const modeBad = (state.mode & 0o7777 & ~target.maxMode) !== 0;
    const ownerBad = target.rootOwned && (state.uid !== 0 || state.gid !== 0);
    if (!modeBad && !ownerBad) {
      fine.push(describe(state));
      continue;
    }
    wrong.push(describe(state));
    if (untouchable.has(target.path)) continue;
    fixes.push({ path: target.path, ...(modeBad ? { mode: target.maxMode } : {}), ...(ownerBad ? { owner: { uid: 0, gid: 0 } } : {}) });
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
  const held = wrong.map((entry) => entry.split(' ')[0]!).filter((path) => untouchable.has(path));
  const note = held.length > 0 ? `; not changed because they could not be parsed: ${held.join(', ')}` : '';
  const finding: Finding = {
    ...base,
    status: 'fail',
    actual: wrong.join(', '),
    source: wrong[0]!.split(' ')[0] ?? null,
    remediable: fixes.length > 0,
    message: `too open or not root-owned: ${wrong.join(', ')}${note}`,
  };
  if (fixes.length === 0) return { finding, blocked: `left as they are${note}` };
  return { finding, remedy: { permissions: fixes } };
}
