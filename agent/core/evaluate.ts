import type { Observation, Targets } from './observation.js';
import type { EvaluatedRule } from './planner.js';
import { ruleEnabled, type Policy } from './policy.js';
import type { Evaluation, Rule, RuleContext } from './rule.js';

/** Runs every rule; a rule disabled by policy is reported `skip`. A throwing rule is `unknown`, never pass. */
export function evaluateRules<C extends RuleContext>(rules: readonly Rule<C>[], ctx: C): EvaluatedRule[] {
  return rules.map((rule): EvaluatedRule => {
    const { meta } = rule;
    const base = { id: meta.id, title: meta.title, cis: meta.cis, expected: '', actual: '', source: null, remediable: false };
    if (!ruleEnabled(ctx.policy, meta.id)) return { meta, evaluation: { finding: { ...base, status: 'skip', message: 'disabled by policy' } } };
    try {
      return { meta, evaluation: withExistingSource(rule.evaluate(ctx), ctx.obs) };
    } catch (error) {
      // A bug in one rule must not hide the others or pass silently.
      const message = `internal error while evaluating: ${error instanceof Error ? error.message : String(error)}`;
      return { meta, evaluation: { finding: { ...base, status: 'unknown', message } } };
    }
  });
}

/** True when the observation read `path` (as a file, directory, stat or plugin) and found nothing there. */
function observedMissing(obs: Observation, path: string): boolean {
  return [obs.files, obs.dirs, obs.stats, obs.hostPlugins].some((states) => states.get(path)?.kind === 'missing');
}

/**
 * A finding's source names the file that decides the value; a path the observation saw missing decides
 * nothing (e.g. the file a fix would create), so it is dropped rather than shown as if it were there.
 */
function withExistingSource(evaluation: Evaluation, obs: Observation): Evaluation {
  const { source } = evaluation.finding;
  if (source === null || !observedMissing(obs, source)) return evaluation;
  return { ...evaluation, finding: { ...evaluation.finding, source: null } };
}

/** Union of every rule's targets for the observation read so far (and the policy, for files it names). */
export function collectTargets(rules: readonly Rule<RuleContext>[] | readonly Rule<never>[], obs: Observation, policy?: Policy): Required<Targets> {
  const files = new Set<string>();
  const dirs = new Set<string>();
  const sysctls = new Set<string>();
  const stats = new Set<string>();
  const hostPlugins = new Set<string>();
  const shippedPlugins = new Set<string>();
  // Rules of one component share a targets function; each distinct function runs once per round.
  const distinct = new Set((rules as readonly { targets(obs: Observation, policy?: Policy): Targets }[]).map((rule) => rule.targets));
  for (const targetsOf of distinct) {
    const targets = targetsOf(obs, policy);
    targets.files?.forEach((path) => files.add(path));
    targets.dirs?.forEach((path) => dirs.add(path));
    targets.sysctls?.forEach((key) => sysctls.add(key));
    targets.stats?.forEach((path) => stats.add(path));
    targets.hostPlugins?.forEach((path) => hostPlugins.add(path));
    targets.shippedPlugins?.forEach((name) => shippedPlugins.add(name));
  }
  return {
    files: [...files],
    dirs: [...dirs],
    sysctls: [...sysctls],
    stats: [...stats],
    hostPlugins: [...hostPlugins],
    shippedPlugins: [...shippedPlugins],
  };
}
