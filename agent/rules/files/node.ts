import type { Observation, Targets } from '../../core/observation.js';
import type { Rule, RuleMeta } from '../../core/rule.js';
import { parseArgsFile } from '../../formats/args-file.js';
import type { NodeContext } from '../context.js';
import { KUBELET_FIELDS } from '../kubelet/fields.js';
import { kubeletUnavailable } from '../kubelet/setting-rule.js';
import { effectiveValue, kubeletTargets, resolveKubeletView } from '../kubelet/settings.js';
import { SNAP_KUBE_PROXY } from '../kube-proxy/snap.js';
import { evaluatePermissions, ROOT } from './permissions.js';

const PROXY_META: RuleMeta = {
  id: 'kube-proxy.kubeconfig-permissions',
  title: "kube-proxy's kubeconfig on the host is mode 600 or stricter, owned by root",
  cis: ['4.1.3', '4.1.4'],
  component: 'kube-proxy',
  remediable: true,
  disruption: 'none',
  versions: 'all',
};

/** The kubeconfig the snap's kube-proxy runs with (its --kubeconfig), or null. */
function snapProxyKubeconfig(obs: Observation): string | null {
  const args = obs.files.get(SNAP_KUBE_PROXY.args);
  if (args?.kind !== 'file') return null;
  try {
    return [...parseArgsFile(args.content).args].reverse().find((arg) => arg.name === 'kubeconfig')?.value ?? null;
  } catch {
    return null;
  }
}

/**
 * CIS 4.1.3/4.1.4 (manual, "if it exists"). The k8s snap's kube-proxy names its kubeconfig in its args
 * file. kubeadm's kube-proxy is a DaemonSet whose kubeconfig comes from a ConfigMap: no host file.
 */
export const kubeProxyKubeconfigPermissions: Rule<NodeContext> = {
  meta: PROXY_META,
  targets: (obs): Targets => {
    const path = snapProxyKubeconfig(obs);
    return { files: [SNAP_KUBE_PROXY.args], stats: path ? [path] : [] };
  },
  evaluate(ctx) {
    const path = snapProxyKubeconfig(ctx.obs);
    if (!path) {
      const base = { id: PROXY_META.id, title: PROXY_META.title, cis: PROXY_META.cis, expected: '600 root:root', actual: '-', source: null };
      const message =
        ctx.kubelet.layout === 'kubeadm'
          ? "kubeadm's kube-proxy is a DaemonSet whose kubeconfig comes from ConfigMap kube-system/kube-proxy: there is no host file to check"
          : 'no kube-proxy kubeconfig on this node';
      return { finding: { ...base, status: 'skip', remediable: false, message } };
    }
    return evaluatePermissions(PROXY_META, ctx.obs, [{ path, kind: 'file', maxMode: 0o600, owner: ROOT }], '600 root:root');
  },
};

const CA_META: RuleMeta = {
  id: 'kubelet.client-ca-file-permissions',
  title: "The kubelet's client CA file is mode 644 or stricter, owned by root",
  cis: ['4.1.7', '4.1.8'],
  component: 'kubelet',
  remediable: true,
  disruption: 'none',
  versions: 'all',
};

/** The kubelet's effective client CA file (flag over config), or null when none is set. */
function kubeletClientCa(obs: Observation): string | null {
  const value = effectiveValue(resolveKubeletView(obs), KUBELET_FIELDS.clientCaFile).value;
  return typeof value === 'string' && value !== '' ? value : null;
}

/** CIS 4.1.7/4.1.8: the CA the kubelet trusts for client certificates (a certificate: 644 is enough). */
export const kubeletClientCaFilePermissions: Rule<NodeContext> = {
  meta: CA_META,
  targets: (obs): Targets => {
    const base = kubeletTargets(obs);
    const path = kubeletClientCa(obs);
    return { ...base, stats: [...(base.stats ?? []), ...(path ? [path] : [])] };
  },
  evaluate(ctx) {
    const path = kubeletClientCa(ctx.obs);
    const unavailable = kubeletUnavailable(ctx);
    if (unavailable)
      return {
        finding: {
          id: CA_META.id,
          title: CA_META.title,
          cis: CA_META.cis,
          expected: '644 root:root',
          status: unavailable.status,
          actual: 'unknown',
          source: null,
          remediable: false,
          message: unavailable.message,
        },
      };
    if (!path)
      return {
        finding: {
          id: CA_META.id,
          title: CA_META.title,
          cis: CA_META.cis,
          expected: '644 root:root',
          status: 'skip',
          actual: '-',
          source: null,
          remediable: false,
          message: 'the kubelet has no client CA file (see kubelet.client-ca-file, CIS 4.2.3)',
        },
      };
    return evaluatePermissions(CA_META, ctx.obs, [{ path, kind: 'file', maxMode: 0o644, owner: ROOT }], '644 root:root');
  },
};
