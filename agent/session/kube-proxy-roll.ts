import type { ClusterReadApi, PodRecord } from '../cluster/api.js';
import type { EventRecorder } from '../cluster/events.js';
import { KUBE_PROXY_CONFIGMAP } from '../rules/kube-proxy/config-map.js';
import type { Logger } from '../telemetry/logger.js';
import type { Policy } from '../core/policy.js';
import type { EnforcementSession } from './session.js';

/** Annotations on the kube-proxy ConfigMap that coordinate a roll (written by the leader and the agents). */
export const ROLL = {
  /** canary → rolling → (halted → reverted by the leader) */
  state: 'kube-harden.io/roll-state',
  canary: 'kube-harden.io/roll-canary',
  /** When the configuration changed: a kube-proxy pod created before it runs the old one. */
  at: 'kube-harden.io/roll-at',
  change: 'kube-harden.io/roll-change',
  previous: 'kube-harden.io/previous-config',
  haltedReason: 'kube-harden.io/roll-halted-reason',
  haltedChange: 'kube-harden.io/roll-halted-change',
} as const;

export interface KubeProxyRollDeps {
  /** Reads only: the pod deletion and the roll's state go through the session (never in audit mode). */
  readonly api: ClusterReadApi;
  readonly session: EnforcementSession;
  readonly policy: () => Policy;
  readonly events: EventRecorder;
  readonly logger: Logger;
  readonly nodeName: string;
  readonly healthTimeoutMs: () => number;
  readonly pollMs: number;
  readonly now: () => number;
}

function isKubeProxy(record: PodRecord): boolean {
  return record.pod.metadata.namespace === KUBE_PROXY_CONFIGMAP.namespace && record.pod.metadata.labels?.['k8s-app'] === 'kube-proxy';
}

/**
 * Rolls this node's kube-proxy after the leader changed the shared configuration: the canary node
 * first (the leader's), then every node one at a time under the restart semaphore. Each agent deletes
 * its own node's kube-proxy pod (the DaemonSet recreates it with the new configuration) and waits for
 * the new one to be Ready; the first failure halts the roll for everyone (the leader then restores
 * the previous configuration).
 */
export class KubeProxyRoll {
  /**
   * The change this node's kube-proxy was last rolled for. A pod's creationTimestamp has whole seconds
   * (the API server's clock) while roll-at has milliseconds (the leader's): the pod that replaced the
   * rolled one in the same second would look older than the change and be rolled again.
   */
  private rolledChange: string | null = null;

  constructor(private readonly deps: KubeProxyRollDeps) {}

  async step(): Promise<void> {
    const { api, nodeName, session, logger } = this.deps;
    const configMap = await api.configMaps.get(KUBE_PROXY_CONFIGMAP.namespace, KUBE_PROXY_CONFIGMAP.name);
    const state = configMap?.annotations[ROLL.state];
    const at = Date.parse(configMap?.annotations[ROLL.at] ?? '');
    if (!configMap || Number.isNaN(at)) return;
    if (!(state === 'rolling' || (state === 'canary' && configMap.annotations[ROLL.canary] === nodeName))) return;
    const change = configMap.annotations[ROLL.change] ?? null;
    if (change !== null && change === this.rolledChange) return;
    const mine = (await api.pods.listOnNode(nodeName)).pods.filter(isKubeProxy);
    const stale = mine.find((record) => record.createdMs !== null && record.createdMs < at);
    if (!stale) return;
    logger.info('rolling kube-proxy on this node', { pod: stale.pod.metadata.name, canary: state === 'canary' });
    const policy = this.deps.policy();
    // The roll may be halted (or the change replaced) while this node waits for a slot: ask again once held.
    const stillWanted = async () => {
      const now = await api.configMaps.get(KUBE_PROXY_CONFIGMAP.namespace, KUBE_PROXY_CONFIGMAP.name);
      return now?.annotations[ROLL.state] === state && now.annotations[ROLL.change] === configMap.annotations[ROLL.change];
    };
    const problem = await session.rollPod(
      policy,
      'kube-proxy',
      stale.pod.metadata,
      (deletedAt) => this.waitReady(deletedAt, stale.pod.metadata.name),
      stillWanted,
    );
    if (problem === 'audit' || problem === 'waiting') return; // audit mode, or another node is disrupted: the next step tries again
    const annotate = (annotations: Record<string, string>) =>
      session.patchConfigMapAnnotations(policy, KUBE_PROXY_CONFIGMAP.namespace, KUBE_PROXY_CONFIGMAP.name, annotations);
    if (problem === null) {
      this.rolledChange = change;
      if (state === 'canary') await annotate({ [ROLL.state]: 'rolling' });
      this.deps.events.record({
        type: 'Normal',
        reason: 'KubeProxyRolled',
        message: 'kube-proxy restarted with the hardened configuration and Ready',
      });
    } else {
      await annotate({ [ROLL.state]: 'halted', [ROLL.haltedReason]: `${nodeName}: ${problem}` });
      logger.error('kube-proxy not Ready after the roll; roll halted', { reason: problem });
      this.deps.events.record({
        type: 'Warning',
        reason: 'KubeProxyRollFailed',
        message: `kube-proxy not Ready after the roll: ${problem}; roll halted`,
      });
    }
  }

  /** Null once a kube-proxy pod created after the deletion is Ready on this node, else why not. */
  private async waitReady(deletedAt: number, oldName: string): Promise<string | null> {
    const deadline = this.deps.now() + this.deps.healthTimeoutMs();
    let last = 'no new kube-proxy pod on this node';
    for (;;) {
      const fresh = (await this.deps.api.pods.listOnNode(this.deps.nodeName)).pods
        .filter(isKubeProxy)
        .filter((record) => record.pod.metadata.name !== oldName && (record.createdMs ?? 0) >= deletedAt - 1000);
      if (fresh.some((record) => record.ready)) return null;
      if (fresh.length > 0) last = `new kube-proxy pod ${fresh[0]!.pod.metadata.name} not Ready`;
      if (this.deps.now() >= deadline) return `${last} within ${Math.round(this.deps.healthTimeoutMs() / 1000)}s`;
      await new Promise((resolve) => setTimeout(resolve, this.deps.pollMs));
    }
  }
}
