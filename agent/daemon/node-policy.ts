import type { NodeApi } from '../cluster/api.js';
import { resolveForNode } from '../core/node-pool.js';
import type { Policy, PolicyParseResult } from '../core/policy.js';

/** A loaded policy resolved for this node, with the names of the overrides that matched. */
export type NodePolicyResult =
  { readonly ok: false; readonly errors: readonly string[] } | { readonly ok: true; readonly policy: Policy; readonly applied: readonly string[] };

/**
 * Folds the policy's node-pool overrides in for this node, reading the Node's labels (nodes get) only
 * when the policy has overrides. Called at every policy load and resync, so a relabelled node gets its
 * pool's policy at the next resync. A policy with overrides on an agent without cluster access, or
 * whose Node cannot be read, is refused like an invalid policy (the last good one stays in force).
 */
export async function policyForThisNode(loaded: PolicyParseResult, nodes: NodeApi | null, nodeName: string): Promise<NodePolicyResult> {
  if (!loaded.ok) return loaded;
  if (loaded.policy.overrides.length === 0) return { ok: true, policy: loaded.policy, applied: [] };
  let labels: Readonly<Record<string, string>> | null = null;
  let why = 'the agent has no cluster credentials';
  if (nodes)
    try {
      labels = (await nodes.get(nodeName)).labels;
    } catch (error) {
      why = `cannot read Node ${nodeName}: ${error instanceof Error ? error.message : String(error)}`;
    }
  const resolved = resolveForNode(loaded.policy, labels);
  return resolved.ok ? resolved : { ok: false, errors: [`${resolved.error} (${why})`] };
}
