import type { Finding } from '../../core/finding.js';
import type { FileState, Observation } from '../../core/observation.js';
import type { Policy } from '../../core/policy.js';
import { ruleEnabled } from '../../core/policy.js';
import type { Version } from '../../core/version.js';
import { buildContext } from '../context.js';
import { KUBEADM } from './layout.js';
import { KUBELET_SETTING_RULES } from './setting-rules.js';

/** kubeadm's cluster-wide kubelet configuration: `kubeadm join` and `kubeadm upgrade node` write config.yaml from it. */
export const KUBELET_CONFIGMAP = { namespace: 'kube-system', name: 'kubelet-config', key: 'kubelet' } as const;

/**
 * Settings that belong to one node, kept out of the shared ConfigMap: the serving address is the
 * node's IP, and protectKernelDefaults makes a kubelet exit unless its node's sysctls are already set,
 * which a joining node's are not (the agent sets them after the kubelet started).
 */
export const NODE_SPECIFIC_KUBELET_RULES: ReadonlySet<string> = new Set(['kubelet.address', 'kubelet.protect-kernel-defaults']);

const DROP_IN = `${KUBEADM.dropInDirs[1]}/10-kubeadm.conf`;
const UNIT = `[Service]
Environment="KUBELET_CONFIG_ARGS=--config=${KUBEADM.config}"
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_CONFIG_ARGS
`;

export interface KubeletConfigMapPlan {
  readonly findings: readonly Finding[];
  /** The new `kubelet` key, or null when nothing is to be written. */
  readonly after: string | null;
}

/**
 * Judges the ConfigMap's KubeletConfiguration with the same kubelet rules that judge a node, run on a
 * virtual kubeadm node whose only config file is the ConfigMap's (so "the effective value" is simply
 * the file's), for the oldest kubelet in the cluster. Node-specific rules are left out. Pure.
 */
export function planKubeletConfigMap(text: string, oldestKubelet: Version | null, policy: Policy): KubeletConfigMapPlan {
  const files = new Map<string, FileState>([
    [DROP_IN, { kind: 'file', path: DROP_IN, content: UNIT, mode: 0o644, uid: 0, gid: 0 }],
    [KUBEADM.config, { kind: 'file', path: KUBEADM.config, content: text, mode: 0o644, uid: 0, gid: 0 }],
  ]);
  const obs: Observation = {
    files: { get: (path: string) => files.get(path) ?? { kind: 'missing', path } } as ReadonlyMap<string, FileState>,
    dirs: new Map([[KUBEADM.dropInDirs[1], { kind: 'dir', path: KUBEADM.dropInDirs[1], entries: ['10-kubeadm.conf'], mode: 0o755, uid: 0, gid: 0 }]]),
    stats: new Map(),
    sysctls: new Map(),
    hostPlugins: new Map(),
    shippedPlugins: new Map(),
    kubeletProcess: null,
    kubeletVersion: oldestKubelet
      ? {
          ...oldestKubelet,
          raw: `v${oldestKubelet.major}.${oldestKubelet.minor}.${oldestKubelet.patch}`,
          source: 'the oldest kubelet among the Nodes',
        }
      : null,
    kernelRelease: null,
    lsm: { apparmor: 'unknown', apparmorProfiles: null, selinux: 'unknown' },
    input: { nodeName: KUBELET_CONFIGMAP.name, nodeIp: null, nodeIpSource: null, kubeletVersion: null, pluginDir: '' },
  };
  const ctx = buildContext(obs, policy);
  const source = `configmap ${KUBELET_CONFIGMAP.namespace}/${KUBELET_CONFIGMAP.name} (${KUBELET_CONFIGMAP.key})`;
  const findings: Finding[] = [];
  let after = text;
  for (const rule of KUBELET_SETTING_RULES) {
    if (NODE_SPECIFIC_KUBELET_RULES.has(rule.meta.id) || !ruleEnabled(policy, rule.meta.id)) continue;
    const evaluation = rule.evaluate(ctx);
    findings.push({ ...evaluation.finding, source });
    if (evaluation.finding.status !== 'fail' || !evaluation.remedy?.edits) continue;
    for (const edit of evaluation.remedy.edits) if (edit.path === KUBEADM.config) after = edit.transform(after);
  }
  return { findings, after: after === text ? null : after };
}
