import type { Finding } from '../../core/finding.js';
import type { Evaluation, Rule, RuleMeta } from '../../core/rule.js';
import { compareVersions, formatVersion, parseVersion } from '../../core/version.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView, controlPlaneTargets } from './components.js';
import { componentUnavailable } from './flag-rule.js';
import { planKubeadmConfig } from './kubeadm-config.js';
import type { KubeadmView } from './kubeadm-wanted.js';

/** kubeadm's cluster-wide configuration: `kubeadm upgrade` and `kubeadm join --control-plane` build the manifests from it. */
export const KUBEADM_CONFIGMAP = { namespace: 'kube-system', name: 'kubeadm-config', key: 'ClusterConfiguration' } as const;

export const KUBEADM_CLUSTER_CONFIGURATION = 'kubeadm.cluster-configuration';

const SOURCE = `configmap ${KUBEADM_CONFIGMAP.namespace}/${KUBEADM_CONFIGMAP.name} (${KUBEADM_CONFIGMAP.key})`;

const META: RuleMeta = {
  id: KUBEADM_CLUSTER_CONFIGURATION,
  title: "kubeadm's ClusterConfiguration carries the hardened control-plane flags, so kubeadm upgrade keeps them",
  cis: [],
  component: 'kubeadm',
  remediable: true,
  disruption: 'none',
  versions:
    'kubeadm.k8s.io/v1beta3 and v1beta4; written only by a control-plane node whose kube-apiserver runs the ClusterConfiguration kubernetesVersion',
};

const EXPECTED =
  "apiServer, controllerManager, scheduler and etcd.local extraArgs (and extraVolumes) hold the flags kube-harden's passing rules set here";

/**
 * On the node alone the ClusterConfiguration cannot be seen: `kube-harden run` with cluster credentials
 * judges it on every kubeadm control-plane node (judgeKubeadmConfig) and its verdict replaces this skip.
 */
export const kubeadmClusterConfiguration: Rule<NodeContext> = {
  meta: META,
  targets: controlPlaneTargets,
  evaluate(ctx): Evaluation {
    const base = { id: META.id, title: META.title, cis: META.cis, expected: EXPECTED };
    const view = componentView(ctx.obs, COMPONENTS.apiserver);
    if (view.kind === 'absent' || view.kind === 'error') return componentUnavailable(view, COMPONENTS.apiserver, base, ctx.kubelet);
    const message =
      view.kind === 'snap'
        ? 'the k8s snap keeps control-plane flags in its args files: there is no kubeadm ClusterConfiguration'
        : `judged against ConfigMap ${KUBEADM_CONFIGMAP.namespace}/${KUBEADM_CONFIGMAP.name} by kube-harden run with cluster credentials, on every kubeadm control-plane node`;
    return { finding: { ...base, status: 'skip', actual: '-', source: null, remediable: false, message } };
  },
};

/** The verdict on the ClusterConfiguration and, when this node may write it, the new text. */
export interface KubeadmJudgement {
  readonly finding: Finding;
  /** The ClusterConfiguration to write, or null (in step, not judged, or not this node's to write). */
  readonly after: string | null;
  /** What the write changes (names only, e.g. `apiServer.extraArgs profiling`). */
  readonly changes: readonly string[];
}

/** The finding when the ConfigMap could not be judged (an API error): `unknown`, nothing written. */
export function kubeadmConfigUnknown(message: string): Finding {
  return {
    id: META.id,
    title: META.title,
    cis: META.cis,
    expected: EXPECTED,
    source: SOURCE,
    status: 'unknown',
    actual: 'unknown',
    remediable: false,
    message,
  };
}

function heldNote(view: KubeadmView): string {
  const parts = [
    view.held.length > 0 ? `not mirrored while their rules do not pass on this node: ${[...view.held].sort().join(', ')}` : '',
    ...view.notes,
  ];
  return parts.filter(Boolean).join('; ');
}

/**
 * Judges the ClusterConfiguration text (null: the ConfigMap or its key does not exist) against what this
 * node's hardened manifests say (kubeadmView). Pure. The new text is offered only when this node's
 * kube-apiserver runs the version the ClusterConfiguration is for: during an upgrade the nodes on either
 * version would otherwise rewrite it for their own version in turn.
 */
export function judgeKubeadmConfig(text: string | null, view: KubeadmView): KubeadmJudgement {
  const base = { id: META.id, title: META.title, cis: META.cis, expected: EXPECTED, source: SOURCE };
  const result = (
    status: Finding['status'],
    actual: string,
    message: string,
    remediable = false,
    after: string | null = null,
    changes: string[] = [],
  ) => ({
    finding: { ...base, status, actual, remediable, message },
    after,
    changes,
  });
  if (!view.applies) return result('skip', '-', 'not a kubeadm control-plane node');
  if (text === null)
    return result(
      'skip',
      '-',
      `no ConfigMap ${KUBEADM_CONFIGMAP.namespace}/${KUBEADM_CONFIGMAP.name} with a ${KUBEADM_CONFIGMAP.key}: this control plane is not managed by kubeadm`,
    );
  const plan = planKubeadmConfig(text, view.wanted);
  if (!plan.ok) return result('unknown', 'unknown', `${plan.error}; nothing written`);
  const note = heldNote(view);
  if (!plan.changed) return result('pass', 'in step with this node', note);
  const actual = `differs: ${plan.changes.join(', ')}`;
  const target = plan.kubernetesVersion ? parseVersion(plan.kubernetesVersion) : null;
  const why = !view.version
    ? 'the kube-apiserver version on this node is unknown'
    : !target
      ? `the ClusterConfiguration kubernetesVersion ${plan.kubernetesVersion ?? '(none)'} is not a version`
      : compareVersions(view.version, target) !== 0
        ? `this node runs kube-apiserver ${formatVersion(view.version)} and the ClusterConfiguration is for ${formatVersion(target)} (an upgrade under way?); a control-plane node on ${formatVersion(target)} keeps it in step`
        : null;
  const message = [why ? `not written: ${why}` : '', note].filter(Boolean).join('; ');
  return why ? result('fail', actual, message) : result('fail', actual, message, true, plan.text, [...plan.changes]);
}
