import type { EvaluatedRule } from '../../core/planner.js';
import type { NodeContext } from '../context.js';

/** Why the running kubelet must restart to run with the hardened settings, or null. */
export interface KubeletRestartNeed {
  readonly service: string;
  readonly reason: string;
}

/**
 * The kubelet reads its settings only at start. When every kubelet setting rule passes on disk but a
 * settings file changed after the running kubelet started, that kubelet still runs the old settings:
 * it needs a restart (even if the change was written by an earlier run of the agent).
 */
export function kubeletRestartNeeded(ctx: NodeContext, evaluated: readonly EvaluatedRule[]): KubeletRestartNeed | null {
  const started = ctx.obs.kubeletProcess?.startedAtMs ?? null;
  const service = ctx.kubelet.service;
  if (started === null || !service) return null;
  const settings = evaluated.filter((rule) => rule.meta.component === 'kubelet' && rule.meta.disruption === 'restart');
  if (settings.length === 0 || settings.some((rule) => rule.evaluation.finding.status !== 'pass' && rule.evaluation.finding.status !== 'skip'))
    return null;
  const files = [ctx.kubelet.configPath, ...ctx.kubelet.dropIns.map((source) => source.path), ...ctx.kubelet.flagFiles].filter(
    (path): path is string => !!path,
  );
  const newer = files.filter((path) => {
    const state = ctx.obs.files.get(path);
    return state?.kind === 'file' && state.mtimeMs !== undefined && state.mtimeMs > started;
  });
  if (newer.length === 0) return null;
  return { service, reason: `the running kubelet started before ${newer.join(', ')} changed, so it still runs the old settings` };
}
