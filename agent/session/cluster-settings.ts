import { ConflictError, type ClusterReadApi, type ConfigMapRecord } from '../cluster/api.js';
import type { EventRecorder } from '../cluster/events.js';
import type { LeaseSemaphore } from '../cluster/semaphore.js';
import { shortDigest as sha } from '../core/digest.js';
import type { Finding } from '../core/finding.js';
import type { Policy } from '../core/policy.js';
import { compareVersions, parseVersion, type Version } from '../core/version.js';
import { KUBE_PROXY_CONFIGMAP, planKubeProxyConfigMap } from '../rules/kube-proxy/config-map.js';
import { KUBELET_CONFIGMAP, planKubeletConfigMap } from '../rules/kubelet/config-map.js';
import type { Logger } from '../telemetry/logger.js';
import type { EnforcementSession } from './session.js';
import { KubeProxyRoll, ROLL } from './kube-proxy-roll.js';

/** The leader Lease (`kube-harden-leader-0`): one agent edits the cluster-wide ConfigMaps. */
export const LEADER_PREFIX = 'kube-harden-leader';

export interface ClusterSettingsDeps {
  /** Reads only: every write goes through the session, which refuses them in audit mode. */
  readonly api: ClusterReadApi;
  readonly session: EnforcementSession;
  readonly leader: LeaseSemaphore;
  readonly roll: KubeProxyRoll;
  readonly events: EventRecorder;
  readonly logger: Logger;
  readonly policy: () => Policy;
  /** Changes with every policy change: a halted roll is retried only under a new policy. */
  readonly policyHash: () => string;
  readonly now: () => number;
  readonly nodeName: string;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** kube-proxy's version from the DaemonSet's image tag (registry.k8s.io/kube-proxy:v1.31.4). */
function kubeProxyVersion(images: readonly string[] | null): Version | null {
  const image = images?.find((candidate) => /kube-proxy/.test(candidate)) ?? images?.[0];
  const tag = image?.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : null;
  return tag ? parseVersion(tag) : null;
}

/**
 * Cluster-wide settings, done by the leader only: the kube-proxy ConfigMap (then rolled node by node
 * by every agent, see KubeProxyRoll) and kubeadm's kubelet-config ConfigMap (so `kubeadm join` and
 * `kubeadm upgrade node` start kubelets hardened). Returns the leader's findings for those rules (none
 * on other nodes). Every API error is logged and the step skipped: the node's own reconcile goes on.
 */
export class ClusterSettings {
  private leadingNow = false;

  constructor(private readonly deps: ClusterSettingsDeps) {}

  /**
   * Whether the last `reconcile` judged the cluster-wide settings here: the leader, or every agent in
   * audit mode. Other cluster-wide findings (the namespace rules) are reported by the same agents.
   */
  get leading(): boolean {
    return this.leadingNow;
  }

  async reconcile(): Promise<Finding[]> {
    const { leader, logger } = this.deps;
    // In audit mode every agent judges the cluster-wide settings for its report; nothing is written,
    // so no leader is elected (the election itself writes a Lease).
    let leading = this.deps.policy().mode !== 'enforce';
    try {
      if (!leading) leading = await leader.tryAcquire();
    } catch (error) {
      logger.warn('leader election failed', { error: message(error) });
    }
    this.leadingNow = leading;
    const findings: Finding[] = [];
    if (leading) {
      try {
        const nodes = await this.deps.api.nodes.list();
        const versions = nodes.map((node) => (node.kubeletVersion ? parseVersion(node.kubeletVersion) : null));
        const oldest = versions.includes(null) ? null : ([...(versions as Version[])].sort(compareVersions)[0] ?? null);
        findings.push(...(await this.kubeProxy(nodes.flatMap((node) => node.internalIPs))));
        findings.push(...(await this.kubeletConfig(oldest)));
      } catch (error) {
        logger.warn('cluster settings skipped', { error: message(error) });
      }
    }
    await this.rollStep();
    return findings;
  }

  /** This node's part of a kube-proxy roll (also run on its own timer while the daemon runs). */
  async rollStep(): Promise<void> {
    await this.deps.roll.step().catch((error: unknown) => this.deps.logger.warn('kube-proxy roll step failed', { error: message(error) }));
  }

  private async kubeProxy(nodeIPs: readonly string[]): Promise<Finding[]> {
    const { api, policy, events, logger } = this.deps;
    const configMap = await api.configMaps.get(KUBE_PROXY_CONFIGMAP.namespace, KUBE_PROXY_CONFIGMAP.name);
    const text = configMap?.data[KUBE_PROXY_CONFIGMAP.key];
    if (!configMap || text === undefined) return [];
    const annotations = configMap.annotations;
    const state = annotations[ROLL.state];
    if (state === 'halted') {
      await this.revert(configMap);
      return [];
    }
    const { session } = this.deps;
    const version = kubeProxyVersion(await api.daemonSets.images(KUBE_PROXY_CONFIGMAP.namespace, KUBE_PROXY_CONFIGMAP.daemonSet));
    const plan = planKubeProxyConfigMap({ text, version, nodeIPs, policy: policy() });
    if (!plan.after) return [...plan.findings];
    const key = `${sha(plan.after)}:${this.deps.policyHash()}`;
    if (annotations[ROLL.haltedChange] === key) {
      const why = `not remediated: rolling this change out failed (${annotations[ROLL.haltedReason] ?? 'a kube-proxy pod did not become Ready'}); the previous configuration was put back and the change is not tried again until the policy changes`;
      return plan.findings.map((finding) => (finding.status === 'fail' ? { ...finding, remediable: false, message: why } : finding));
    }
    if (state === 'canary') return [...plan.findings]; // one change at a time: the canary decides first
    try {
      const written = await session.replaceConfigMap(policy(), {
        ...configMap,
        data: { ...configMap.data, [KUBE_PROXY_CONFIGMAP.key]: plan.after },
        annotations: {
          ...annotations,
          [ROLL.previous]: text,
          [ROLL.change]: key,
          [ROLL.at]: new Date(this.deps.now()).toISOString(),
          [ROLL.state]: 'canary',
          [ROLL.canary]: this.deps.nodeName,
        },
      });
      if (!written) return [...plan.findings]; // audit mode: judged and reported, nothing written
    } catch (error) {
      if (error instanceof ConflictError) return [...plan.findings]; // someone else wrote it: judge again next time
      throw error;
    }
    logger.info('kube-proxy configuration updated, canary roll starts', { configMap: KUBE_PROXY_CONFIGMAP.name, canary: this.deps.nodeName });
    events.record(
      {
        type: 'Normal',
        reason: 'KubeProxyConfigUpdated',
        message: `Hardened ${plan.findings
          .filter((f) => f.status === 'fail')
          .map((f) => f.id)
          .join(', ')}; canary ${this.deps.nodeName}`,
      },
      { kind: 'ConfigMap', name: KUBE_PROXY_CONFIGMAP.name, namespace: KUBE_PROXY_CONFIGMAP.namespace, uid: null },
    );
    return [...plan.findings];
  }

  /** A node's new kube-proxy failed: put the previous configuration back and remember the change. */
  private async revert(configMap: ConfigMapRecord): Promise<void> {
    const previous = configMap.annotations[ROLL.previous];
    if (previous === undefined) return;
    const { [ROLL.previous]: _previous, ...annotations } = configMap.annotations;
    void _previous;
    const written = await this.deps.session.replaceConfigMap(this.deps.policy(), {
      ...configMap,
      data: { ...configMap.data, [KUBE_PROXY_CONFIGMAP.key]: previous },
      annotations: { ...annotations, [ROLL.state]: 'reverted', [ROLL.haltedChange]: configMap.annotations[ROLL.change] ?? '' },
    });
    if (!written) return;
    this.deps.logger.error('kube-proxy roll halted, previous configuration restored', { reason: configMap.annotations[ROLL.haltedReason] });
    this.deps.events.record(
      {
        type: 'Warning',
        reason: 'KubeProxyRollHalted',
        message: `Roll halted (${configMap.annotations[ROLL.haltedReason] ?? 'unknown'}); previous configuration restored`,
      },
      { kind: 'ConfigMap', name: KUBE_PROXY_CONFIGMAP.name, namespace: KUBE_PROXY_CONFIGMAP.namespace, uid: null },
    );
  }

  private async kubeletConfig(oldest: Version | null): Promise<Finding[]> {
    const { api } = this.deps;
    const configMap = await api.configMaps.get(KUBELET_CONFIGMAP.namespace, KUBELET_CONFIGMAP.name);
    const text = configMap?.data[KUBELET_CONFIGMAP.key];
    if (!configMap || text === undefined) return [];
    const plan = planKubeletConfigMap(text, oldest, this.deps.policy());
    if (!plan.after) return [];
    try {
      const written = await this.deps.session.replaceConfigMap(this.deps.policy(), {
        ...configMap,
        data: { ...configMap.data, [KUBELET_CONFIGMAP.key]: plan.after },
      });
      if (!written) return [];
    } catch (error) {
      if (error instanceof ConflictError) return [];
      throw error;
    }
    const fixed = plan.findings.filter((finding) => finding.status === 'fail').map((finding) => finding.id);
    this.deps.logger.info('kubelet-config ConfigMap hardened', { rules: fixed });
    this.deps.events.record(
      { type: 'Normal', reason: 'KubeletConfigHardened', message: `Applied ${fixed.join(', ')} for nodes that join or upgrade` },
      { kind: 'ConfigMap', name: KUBELET_CONFIGMAP.name, namespace: KUBELET_CONFIGMAP.namespace, uid: null },
    );
    return [];
  }
}

/** Wires the leader's settings and this node's roll from the daemon's parts. */
export function clusterSettingsFor(parts: {
  readonly api: ClusterReadApi;
  readonly session: EnforcementSession;
  readonly leader: LeaseSemaphore;
  readonly events: EventRecorder;
  readonly logger: Logger;
  readonly now: () => number;
  readonly nodeName: string;
  readonly policy: () => Policy;
  readonly policyHash: () => string;
  readonly pollMs: number;
}): ClusterSettings {
  const roll = new KubeProxyRoll({
    api: parts.api,
    session: parts.session,
    policy: parts.policy,
    events: parts.events,
    logger: parts.logger,
    nodeName: parts.nodeName,
    healthTimeoutMs: () => parts.policy().restarts.healthTimeoutSeconds * 1000,
    pollMs: parts.pollMs,
    now: parts.now,
  });
  return new ClusterSettings({ ...parts, roll });
}
