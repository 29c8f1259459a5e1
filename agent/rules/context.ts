import type { Observation } from '../core/observation.js';
import type { Policy } from '../core/policy.js';
import type { RuleContext } from '../core/rule.js';
import { KUBELET_FIELDS } from './kubelet/fields.js';
import { effectiveValue, resolveKubeletView, type KubeletView } from './kubelet/settings.js';

/** The node IP the kubelet should bind to, and who said so. */
export interface NodeIp {
  readonly value: string | null;
  readonly source: string | null;
}

/** What every rule in the catalogue sees: the observation, the policy and derived views built once. */
export interface NodeContext extends RuleContext {
  readonly kubelet: KubeletView;
  readonly nodeIp: NodeIp;
}

/** `--node-ip`/`$NODE_IP` first, else the kubelet's own `--node-ip` flag, else unknown. */
function resolveNodeIp(obs: Observation, kubelet: KubeletView): NodeIp {
  if (obs.input.nodeIp) return { value: obs.input.nodeIp, source: obs.input.nodeIpSource };
  const flag = effectiveValue(kubelet, KUBELET_FIELDS.nodeIp);
  if (flag.origin === 'flag' && typeof flag.value === 'string' && flag.value !== '')
    return { value: flag.value, source: `--node-ip in ${flag.path}` };
  return { value: null, source: null };
}

export function buildContext(obs: Observation, policy: Policy): NodeContext {
  const kubelet = resolveKubeletView(obs);
  return { obs, policy, kubelet, nodeIp: resolveNodeIp(obs, kubelet) };
}
