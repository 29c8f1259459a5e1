import { maxDisruption, type Disruption } from './finding.js';
import type { Observation } from './observation.js';
import { changeKey, sysctlPath, type Activation, type BlockedRule, type Plan, type PlannedChange } from './plan.js';
import { ruleEnabled, type Policy } from './policy.js';
import type { Evaluation, Remedy, RuleMeta } from './rule.js';
import { writeRefusal } from '../rules/platform/owner.js';

/** One rule's evaluation together with its static description, in registry order. */
export interface EvaluatedRule {
  readonly meta: RuleMeta;
  readonly evaluation: Evaluation;
}

export interface PlanOptions {
  /** Rules whose changes failed during an apply: their dependents must not go ahead. */
  readonly failedRules?: ReadonlySet<string>;
  /** Rules held back on purpose (the daemon backing off from a fight), with the reason. */
  readonly heldRules?: ReadonlyMap<string, string>;
  /**
   * Why fixes that write a static pod manifest are held back (`--no-restart`), or absent when they may
   * go: the kubelet recreates the component as soon as its manifest changes, so writing one is a
   * restart that no flag can defer.
   */
  readonly holdReloads?: string;
}

interface Candidate {
  readonly meta: RuleMeta;
  readonly remedy: Remedy;
  stage: number;
}

/**
 * Turns findings into a plan: whole new file contents, permission fixes, live sysctls and restarts,
 * ordered so that a rule's `requires` land first. Pure: the observation supplies current contents.
 */
export function buildPlan(rules: readonly EvaluatedRule[], obs: Observation, policy: Policy, options: PlanOptions = {}): Plan {
  const blocked = new Map<string, string>();
  const candidates = new Map<string, Candidate>();
  const byId = new Map(rules.map((rule) => [rule.meta.id, rule]));
  // Another system owns this node's configuration (OpenShift MCO, Talos, GKE, MicroK8s): every write is refused.
  const refusal = writeRefusal(obs);

  for (const { meta, evaluation } of rules) {
    if (!ruleEnabled(policy, meta.id)) continue;
    // A rule that could not be judged is left alone, and the plan says so (with the file and line).
    if (evaluation.finding.status === 'unknown') blocked.set(meta.id, `not judged: ${evaluation.finding.message || evaluation.finding.actual}`);
    if (evaluation.finding.status !== 'fail') continue;
    if (refusal) blocked.set(meta.id, refusal);
    else if (options.failedRules?.has(meta.id)) blocked.set(meta.id, 'its change failed during this apply');
    else if (options.heldRules?.has(meta.id)) blocked.set(meta.id, options.heldRules.get(meta.id)!);
    else if (options.holdReloads && evaluation.remedy?.edits?.some((edit) => edit.restartsComponent)) blocked.set(meta.id, options.holdReloads);
    else if (evaluation.remedy && evaluation.finding.remediable) candidates.set(meta.id, { meta, remedy: evaluation.remedy, stage: 0 });
    else blocked.set(meta.id, evaluation.blocked ?? (evaluation.finding.message || 'not remediable by kube-harden'));
  }

  // A rule whose edit cannot be computed is blocked; its dependents must then be re-checked, so fold
  // again until nothing new is blocked (bounded by the number of rules).
  let writes: PlannedChange[] = [];
  for (;;) {
    resolveDependencies(candidates, blocked, byId, policy);
    const before = blocked.size;
    writes = foldEdits(
      [...candidates.values()].sort((a, b) => a.stage - b.stage),
      obs,
      blocked,
    );
    if (blocked.size === before) break;
    for (const id of blocked.keys()) candidates.delete(id);
  }

  const ordered = [...candidates.values()].sort((a, b) => a.stage - b.stage);
  // A file whose write restarts its component at once (a static pod manifest) goes after the plain
  // files of its stage, so a config file it names exists when the pod starts.
  const restarts = (change: PlannedChange) => Number(change.action === 'write' && change.restartsComponent === true);
  const orderedWrites = [...writes].sort((a, b) => restarts(a) - restarts(b));
  // Within a stage: binaries first (configs may name them), then files, modes, live values, removals.
  const changes: PlannedChange[] = [
    ...installChanges(ordered, obs),
    ...orderedWrites,
    ...permissionChanges(ordered, obs),
    ...sysctlChanges(ordered, obs),
    ...removalChanges(ordered, obs),
  ];
  changes.sort((a, b) => a.stage - b.stage);
  return {
    changes,
    activations: activationsFor(ordered, changes),
    blocked: [...blocked].map(([id, reason]): BlockedRule => ({ id, reason })),
  };
}

/** Blocks candidates whose requirements are neither passing nor planned; assigns stages. */
function resolveDependencies(
  candidates: Map<string, Candidate>,
  blocked: Map<string, string>,
  byId: ReadonlyMap<string, EvaluatedRule>,
  policy: Policy,
): void {
  let changed = true;
  while (changed) {
    changed = false;
    for (const [id, candidate] of candidates) {
      for (const required of candidate.meta.requires ?? []) {
        const status = byId.get(required)?.evaluation.finding.status;
        const satisfied = status === 'pass' || candidates.has(required);
        if (!satisfied) {
          const why = blocked.get(required) ?? (ruleEnabled(policy, required) ? `status ${status ?? 'unknown'}` : 'disabled by policy');
          blocked.set(id, `requires ${required} first (${why})`);
          candidates.delete(id);
          changed = true;
          break;
        }
        const stage = (candidates.get(required)?.stage ?? -1) + 1;
        if (stage > candidate.stage) {
          candidate.stage = stage;
          changed = true;
        }
      }
    }
  }
}

/** Applies every candidate's edits per file, in stage order; a throwing edit blocks its rule. */
function foldEdits(ordered: readonly Candidate[], obs: Observation, blocked: Map<string, string>): PlannedChange[] {
  const perPath = new Map<
    string,
    { before: string | null; after: string | null; createMode: number | null; rules: string[]; stage: number; restartsComponent: boolean }
  >();
  for (const candidate of ordered) {
    const staged = new Map<string, string>();
    let failure: string | null = null;
    for (const edit of candidate.remedy.edits ?? []) {
      const state = obs.files.get(edit.path);
      if (state?.kind === 'error') {
        failure = `${edit.path}: ${state.error}`;
        break;
      }
      const entry = perPath.get(edit.path);
      const current = staged.get(edit.path) ?? (entry ? entry.after : state?.kind === 'file' ? state.content : null);
      try {
        staged.set(edit.path, edit.transform(current));
      } catch (error) {
        failure = `${edit.path}: ${error instanceof Error ? error.message : String(error)}`;
        break;
      }
    }
    if (failure) {
      blocked.set(candidate.meta.id, failure);
      continue;
    }
    for (const edit of candidate.remedy.edits ?? []) {
      const state = obs.files.get(edit.path);
      const before = state?.kind === 'file' ? state.content : null;
      const entry = perPath.get(edit.path) ?? {
        before,
        after: before,
        createMode: before === null ? (edit.createMode ?? 0o644) : null,
        rules: [],
        stage: 0,
        restartsComponent: false,
      };
      entry.restartsComponent ||= edit.restartsComponent === true;
      entry.after = staged.get(edit.path) ?? entry.after;
      if (!entry.rules.includes(candidate.meta.id)) entry.rules.push(candidate.meta.id);
      entry.stage = Math.max(entry.stage, candidate.stage);
      perPath.set(edit.path, entry);
    }
  }
  const changes: PlannedChange[] = [];
  for (const [path, entry] of perPath) {
    if (entry.after === null || entry.after === entry.before) continue;
    changes.push({
      action: 'write',
      path,
      before: entry.before,
      after: entry.after,
      createMode: entry.createMode,
      rules: entry.rules,
      stage: entry.stage,
      ...(entry.restartsComponent ? { restartsComponent: true } : {}),
    });
  }
  return changes;
}

function permissionChanges(ordered: readonly Candidate[], obs: Observation): PlannedChange[] {
  const modes = new Map<string, { mode: number; rules: string[]; stage: number }>();
  const owners = new Map<string, { uid: number; gid: number; rules: string[]; stage: number }>();
  for (const candidate of ordered)
    for (const fix of candidate.remedy.permissions ?? []) {
      if (fix.mode !== undefined) {
        const entry = modes.get(fix.path) ?? { mode: 0o7777, rules: [], stage: candidate.stage };
        entry.mode &= fix.mode; // several rules may ask; the strictest wins, and bits are only ever removed
        entry.rules.push(candidate.meta.id);
        modes.set(fix.path, entry);
      }
      if (fix.owner) owners.set(fix.path, { ...fix.owner, rules: [candidate.meta.id], stage: candidate.stage });
    }
  const changes: PlannedChange[] = [];
  for (const [path, wanted] of modes) {
    const state = nodeState(obs, path);
    if (!state) continue;
    const after = state.mode & wanted.mode & 0o7777;
    if (after !== (state.mode & 0o7777))
      changes.push({ action: 'chmod', path, before: state.mode & 0o7777, after, rules: wanted.rules, stage: wanted.stage });
  }
  for (const [path, wanted] of owners) {
    const state = nodeState(obs, path);
    if (!state || (state.uid === wanted.uid && state.gid === wanted.gid)) continue;
    changes.push({
      action: 'chown',
      path,
      before: { uid: state.uid, gid: state.gid },
      after: { uid: wanted.uid, gid: wanted.gid },
      rules: wanted.rules,
      stage: wanted.stage,
    });
  }
  return changes;
}

/** Mode and owner of a file or directory the observation holds. */
function nodeState(obs: Observation, path: string): { mode: number; uid: number; gid: number } | null {
  const stat = obs.stats.get(path);
  if (stat?.kind === 'file' || stat?.kind === 'dir') return stat;
  const file = obs.files.get(path);
  if (file?.kind === 'file') return file;
  const dir = obs.dirs.get(path);
  return dir?.kind === 'dir' ? dir : null;
}

function sysctlChanges(ordered: readonly Candidate[], obs: Observation): PlannedChange[] {
  const changes: PlannedChange[] = [];
  const seen = new Set<string>();
  for (const candidate of ordered)
    for (const write of candidate.remedy.sysctls ?? []) {
      if (seen.has(write.key)) continue;
      seen.add(write.key);
      const live = obs.sysctls.get(write.key);
      if (live?.kind !== 'value' || live.value === write.value) continue;
      changes.push({
        action: 'sysctl',
        path: sysctlPath(write.key),
        key: write.key,
        before: live.value,
        after: write.value,
        rules: [candidate.meta.id],
        stage: candidate.stage,
      });
    }
  return changes;
}

function installChanges(ordered: readonly Candidate[], obs: Observation): PlannedChange[] {
  const changes: PlannedChange[] = [];
  for (const candidate of ordered)
    for (const install of candidate.remedy.installs ?? []) {
      const current = obs.hostPlugins.get(install.path);
      const beforeSha256 = current?.kind === 'present' ? current.sha256 : null;
      if (beforeSha256 === install.sha256) continue;
      changes.push({
        action: 'install',
        path: install.path,
        plugin: install.plugin,
        sha256: install.sha256,
        beforeSha256,
        rules: [candidate.meta.id],
        stage: candidate.stage,
      });
    }
  return changes;
}

function removalChanges(ordered: readonly Candidate[], obs: Observation): PlannedChange[] {
  const changes: PlannedChange[] = [];
  for (const candidate of ordered)
    for (const path of candidate.remedy.removals ?? []) {
      const state = obs.files.get(path);
      if (state?.kind === 'file') changes.push({ action: 'remove', path, before: state.content, rules: [candidate.meta.id], stage: candidate.stage });
    }
  return changes;
}

/**
 * Binds each change to what loads it, once: a service restart loads every change of the rules that
 * need it; a static pod reloads when its manifest is written, and that activation carries the
 * manifest and the files its rules wrote with it (an admission or audit configuration). A file a
 * static pod reads only at start, written without its manifest (drift put back), activates nothing:
 * the running pod keeps what it loaded, and nothing is reported as restarted.
 */
function activationsFor(ordered: readonly Candidate[], changes: readonly PlannedChange[]): Activation[] {
  const byService = new Map<string, { disruption: Disruption; reasons: string[]; rules: string[] }>();
  for (const candidate of ordered) {
    const need = candidate.remedy.restart;
    if (!need) continue;
    const entry = byService.get(need.service) ?? { disruption: 'none' as Disruption, reasons: [], rules: [] };
    entry.disruption = maxDisruption(entry.disruption, need.disruption);
    if (!entry.reasons.includes(need.reason)) entry.reasons.push(need.reason);
    entry.rules.push(candidate.meta.id);
    byService.set(need.service, entry);
  }
  const activations: Activation[] = [];
  for (const [service, entry] of byService) {
    const bound = changes.filter((change) => change.rules.some((rule) => entry.rules.includes(rule)));
    if (bound.length === 0) continue;
    const kind = entry.disruption === 'reload' ? 'reload' : 'restart';
    if (kind === 'reload' && !bound.some((change) => change.action === 'write' && change.restartsComponent === true)) continue;
    const rules = entry.rules.filter((rule) => bound.some((change) => change.rules.includes(rule)));
    activations.push({
      id: `${kind}:${service}`,
      service,
      kind,
      disruption: entry.disruption,
      reason: entry.reasons.join('; '),
      rules,
      changes: bound.map(changeKey),
    });
  }
  return activations;
}
