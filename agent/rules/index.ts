import type { RuleValueSpec } from '../core/policy.js';
import type { Rule } from '../core/rule.js';
import { cniBandwidthChain, cniBandwidthPlugin } from './cni/bandwidth.js';
import type { NodeContext } from './context.js';
import { CONTROL_PLANE_RULES } from './control-plane/rules.js';
import { controlPlaneFilePermissions } from './files/control-plane.js';
import { kubeletClientCaFilePermissions, kubeProxyKubeconfigPermissions } from './files/node.js';
import { kernelLsm, kernelVersion } from './kernel/kernel.js';
import { sysctlKubeletKernelDefaults } from './kernel/sysctl.js';
import { kubeletConfigFilePermissions, kubeletServiceFilePermissions } from './kubelet/file-rules.js';
import { KUBELET_CIS_RULES } from './kubelet/cis-rules.js';
import { KUBELET_SETTING_RULES } from './kubelet/setting-rules.js';
import { kubeProxyHealthzBindAddress, kubeProxyMetricsBindAddress, kubeProxyNodePortAddresses } from './kube-proxy/snap.js';
import { NAMESPACE_VALUE_SPECS } from './workloads/namespace-rules.js';
import { WORKLOAD_VALUE_SPECS } from './workloads/pod-rules.js';

/**
 * The rule catalogue, in evaluation and plan order. Explicit on purpose: a rule exists when it is listed
 * here, and the completeness tests compare it with DESIGN §4 and the CIS catalogue (agent/rules/cis/).
 */
export const RULES: readonly Rule<NodeContext>[] = [
  kernelVersion,
  kernelLsm,
  sysctlKubeletKernelDefaults,
  ...KUBELET_SETTING_RULES,
  ...KUBELET_CIS_RULES,
  kubeletConfigFilePermissions,
  kubeletServiceFilePermissions,
  kubeletClientCaFilePermissions,
  controlPlaneFilePermissions,
  ...CONTROL_PLANE_RULES,
  cniBandwidthPlugin,
  cniBandwidthChain,
  kubeProxyNodePortAddresses,
  kubeProxyHealthzBindAddress,
  kubeProxyMetricsBindAddress,
  kubeProxyKubeconfigPermissions,
];

/** Policy value specs of every rule, node and workload (rules without a value only contribute their ID). */
export const RULE_VALUE_SPECS: readonly RuleValueSpec[] = [
  ...RULES.map((rule) => {
    const withSpec = rule as Rule<NodeContext> & { valueSpec?: RuleValueSpec };
    return withSpec.valueSpec ?? { id: rule.meta.id };
  }),
  ...WORKLOAD_VALUE_SPECS,
  ...NAMESPACE_VALUE_SPECS,
];
