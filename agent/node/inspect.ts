import { collectTargets, evaluateRules } from '../core/evaluate.js';
import type { Observation, OperatorInput } from '../core/observation.js';
import type { EvaluatedRule } from '../core/planner.js';
import type { Policy } from '../core/policy.js';
import type { PluginProber } from '../host/cni-plugin.js';
import type { CommandRunner } from '../host/commands.js';
import type { HostFs } from '../host/host-fs.js';
import { observeNode } from '../host/observe.js';
import { buildContext, type NodeContext } from '../rules/context.js';
import { RULES } from '../rules/index.js';
import { KUBELET_BINARIES } from '../rules/kubelet/layout.js';
import { resolveKubeletView, type KubeletView } from '../rules/kubelet/settings.js';

/** A node read and judged: what audit, plan, apply and the daemon share. */
export interface InspectedNode {
  readonly obs: Observation;
  readonly ctx: NodeContext;
  readonly evaluated: readonly EvaluatedRule[];
}

/**
 * Observes the node through the host adapters and evaluates every rule of the catalogue. With the
 * previous inspection (the daemon's), an unchanged node under the same policy is that inspection again.
 */
export async function inspectNode(
  fs: HostFs,
  runner: CommandRunner,
  plugins: PluginProber,
  input: OperatorInput,
  policy: Policy,
  previous: InspectedNode | null = null,
): Promise<InspectedNode> {
  const obs = await observeNode({
    fs,
    runner,
    input,
    targets: (partial) => collectTargets(RULES, partial, policy),
    kubeletBinaries: KUBELET_BINARIES,
    plugins,
    previous: previous?.obs ?? null,
  });
  // Rules are pure: the same observation under the same policy is judged the same.
  if (previous && obs === previous.obs && policy === previous.ctx.policy) return previous;
  const ctx = buildContext(obs, policy);
  return { obs, ctx, evaluated: evaluateRules(RULES, ctx) };
}

/** The rules that read the kubelet's own files: their targets are the kubelet's configuration. */
const KUBELET_RULES = RULES.filter((rule) => rule.meta.component === 'kubelet');

/**
 * The kubelet's configuration as it is on disk now, read on its own (its unit, drop-ins, flag files,
 * config file and drop-in dir): what a restarted kubelet must be running. The health gate reads this
 * after the writes, not a whole new inspection of the node.
 */
export async function readKubeletView(fs: HostFs, runner: CommandRunner, plugins: PluginProber, input: OperatorInput): Promise<KubeletView> {
  const obs = await observeNode({
    fs,
    runner,
    input,
    targets: (partial) => collectTargets(KUBELET_RULES, partial),
    kubeletBinaries: KUBELET_BINARIES,
    plugins,
  });
  return resolveKubeletView(obs);
}
