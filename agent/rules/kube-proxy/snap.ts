import { isIpAddress, isIpPort } from '../../core/cidr.js';
import type { Finding } from '../../core/finding.js';
import type { Targets } from '../../core/observation.js';
import { ruleValue } from '../../core/policy.js';
import type { Evaluation, Rule, RuleMeta } from '../../core/rule.js';
import { parseArgsFile, setArg } from '../../formats/args-file.js';
import { FormatError } from '../../formats/env-file.js';
import type { NodeContext } from '../context.js';
import { KUBE_PROXY_CONFIGMAP } from './config-map.js';
import { KUBE_PROXY_HEALTHZ, KUBE_PROXY_NODEPORTS, KUBE_PROXY_VALUE_SPECS } from './ids.js';

/** The Canonical k8s snap runs kube-proxy from a per-node args file (so per-node values fit there). */
export const SNAP_KUBE_PROXY = { args: '/var/snap/k8s/common/args/kube-proxy', service: 'snap.k8s.kube-proxy' } as const;

const targets = (): Targets => ({ files: [SNAP_KUBE_PROXY.args] });

interface SnapFlagSpec {
  readonly id: string;
  readonly title: string;
  readonly flag: string;
  /** The flag value this node should have, or why it cannot be decided. */
  readonly desired: (ctx: NodeContext) => { value: string } | { unknown: string };
  /** Whether the current value is acceptable (default: equal to the desired one). */
  readonly ok?: (current: string | undefined, desired: string) => boolean;
  readonly cis?: readonly string[];
  /** What to say on a kubeadm node when the ConfigMap's leader does not judge this setting either. */
  readonly kubeadmNote?: string;
}

function ipWithPrefix(ip: string): string {
  return ip.includes(':') ? `${ip}/128` : `${ip}/32`;
}

/**
 * On a k8s snap node: a kube-proxy flag in its args file, restarted through snap.k8s.kube-proxy. On a
 * kubeadm node kube-proxy reads the shared ConfigMap, which only the daemon's leader edits: skip here.
 */
function snapFlagRule(spec: SnapFlagSpec): Rule<NodeContext> {
  const meta: RuleMeta = {
    id: spec.id,
    title: spec.title,
    cis: spec.cis ?? [],
    component: 'kube-proxy',
    remediable: true,
    disruption: 'restart',
    versions: 'k8s snap (per-node args); kubeadm through the ConfigMap (daemon leader)',
  };
  return {
    meta,
    targets,
    evaluate(ctx): Evaluation {
      const state = ctx.obs.files.get(SNAP_KUBE_PROXY.args);
      // The args file is the source only where it exists (or exists but cannot be read): a kubeadm
      // node has none, and naming it there would send an operator looking for a file that is not there.
      const source = state?.kind === 'file' || state?.kind === 'error' ? SNAP_KUBE_PROXY.args : null;
      const base = { id: spec.id, title: spec.title, cis: meta.cis, source };
      if (state?.kind !== 'file') {
        const kubeadm = ctx.kubelet.layout === 'kubeadm';
        const message = kubeadm
          ? (spec.kubeadmNote ??
            `kube-proxy reads ConfigMap ${KUBE_PROXY_CONFIGMAP.namespace}/${KUBE_PROXY_CONFIGMAP.name} on kubeadm clusters: kube-harden run with cluster credentials judges and fixes it (one leader for the cluster)`)
          : state?.kind === 'error'
            ? `cannot read ${SNAP_KUBE_PROXY.args}: ${state.error}`
            : 'no kube-proxy args file on this node';
        const status = state?.kind === 'error' ? 'unknown' : 'skip';
        return { finding: { ...base, status, expected: '-', actual: '-', remediable: false, message } };
      }
      let current: string | undefined;
      try {
        current = [...parseArgsFile(state.content).args].reverse().find((arg) => arg.name === spec.flag)?.value;
      } catch (error) {
        const line = error instanceof FormatError && error.line ? `:${error.line}` : '';
        return {
          finding: {
            ...base,
            status: 'unknown',
            expected: '-',
            actual: 'unknown',
            remediable: false,
            message: `${SNAP_KUBE_PROXY.args}${line}: ${(error as Error).message}`,
          },
        };
      }
      const actual = current === undefined ? `(not set)` : `--${spec.flag}=${current}`;
      const desired = spec.desired(ctx);
      if ('unknown' in desired)
        return { finding: { ...base, status: 'unknown', expected: `--${spec.flag}=<node IP>`, actual, remediable: false, message: desired.unknown } };
      const expected = `--${spec.flag}=${desired.value}`;
      const ok = spec.ok ? spec.ok(current, desired.value) : current === desired.value;
      if (ok) return { finding: { ...base, status: 'pass', expected, actual, remediable: false, message: '' } };
      const finding: Finding = { ...base, status: 'fail', expected, actual, remediable: true, message: '' };
      return {
        finding,
        remedy: {
          edits: [{ path: SNAP_KUBE_PROXY.args, transform: (text) => setArg(text ?? '', spec.flag, desired.value) }],
          restart: { service: SNAP_KUBE_PROXY.service, disruption: 'restart', reason: 'kube-proxy reads its flags only at start' },
        },
      };
    },
  };
}

function nodeIp(ctx: NodeContext): { value: string } | { unknown: string } {
  const ip = ctx.nodeIp.value;
  if (ip && isIpAddress(ip)) return { value: ip };
  return { unknown: "this node's IP is unknown (give --node-ip or $NODE_IP): nothing is changed without it" };
}

export const kubeProxyNodePortAddresses: Rule<NodeContext> & { valueSpec: (typeof KUBE_PROXY_VALUE_SPECS)[number] } = {
  ...snapFlagRule({
    id: KUBE_PROXY_NODEPORTS,
    title: 'kube-proxy serves NodePorts on node addresses only',
    flag: 'nodeport-addresses',
    desired: (ctx) => {
      const given = ruleValue<string[] | null>(ctx.policy, KUBE_PROXY_NODEPORTS);
      if (given) return { value: given.join(',') };
      const ip = nodeIp(ctx);
      return 'value' in ip ? { value: ipWithPrefix(ip.value) } : ip;
    },
  }),
  valueSpec: KUBE_PROXY_VALUE_SPECS[0]!,
};

export const kubeProxyHealthzBindAddress: Rule<NodeContext> & { valueSpec: (typeof KUBE_PROXY_VALUE_SPECS)[number] } = {
  ...snapFlagRule({
    id: KUBE_PROXY_HEALTHZ,
    title: 'kube-proxy health endpoint bound to a chosen address',
    flag: 'healthz-bind-address',
    // The flag takes a bare IP or IP:port (the config file field wants IP:port).
    desired: (ctx) => {
      const given = ruleValue<string | null>(ctx.policy, KUBE_PROXY_HEALTHZ);
      return given ? { value: given } : nodeIp(ctx);
    },
    ok: (current, desired) => current === desired || (current !== undefined && isIpPort(current) && current.startsWith(`${desired}:`)),
  }),
  valueSpec: KUBE_PROXY_VALUE_SPECS[1]!,
};

/** Loopback metrics (CIS 4.3.1): unset is kube-proxy's default, 127.0.0.1:10249. */
export const kubeProxyMetricsBindAddress: Rule<NodeContext> = snapFlagRule({
  id: 'kube-proxy.metrics-bind-address',
  title: 'kube-proxy serves metrics on loopback only',
  cis: ['4.3.1'],
  flag: 'metrics-bind-address',
  desired: () => ({ value: '127.0.0.1:10249' }),
  ok: (current) => current === undefined || /^(127\.0\.0\.1|\[::1\])(:\d+)?$/.test(current),
  kubeadmNote:
    'kube-proxy reads ConfigMap kube-system/kube-proxy on kubeadm clusters: check that its config.conf keeps metricsBindAddress on 127.0.0.1 (the default, 127.0.0.1:10249); kube-harden does not judge that field of the ConfigMap yet',
});
