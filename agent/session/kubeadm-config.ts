import { ConflictError, type ConfigMapApi } from '../cluster/api.js';
import type { EventRecorder } from '../cluster/events.js';
import { shortDigest } from '../core/digest.js';
import type { Finding } from '../core/finding.js';
import { ruleEnabled, type Policy } from '../core/policy.js';
import type { InspectedNode } from '../node/inspect.js';
import {
  judgeKubeadmConfig,
  kubeadmConfigUnknown,
  KUBEADM_CLUSTER_CONFIGURATION,
  KUBEADM_CONFIGMAP,
  type KubeadmJudgement,
} from '../rules/control-plane/kubeadm-cluster-configuration.js';
import { KUBEADM_FLAG_OWNERS, kubeadmView, type KubeadmView } from '../rules/control-plane/kubeadm-wanted.js';
import type { Logger } from '../telemetry/logger.js';
import type { EnforcementSession } from './session.js';

export interface KubeadmConfigDeps {
  /** Reads only: the write goes through the session, which refuses it in audit mode. */
  readonly configMaps: Pick<ConfigMapApi, 'get'>;
  readonly session: EnforcementSession;
  readonly events: EventRecorder;
  readonly logger: Logger;
  readonly policy: () => Policy;
  readonly nodeName: string;
}

/** A lost optimistic-concurrency race is retried at once this many times (each re-reads); then at the next reconcile. */
const ATTEMPTS = 3;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function withNote(finding: Finding, note: string): Finding {
  return { ...finding, message: [finding.message, note].filter(Boolean).join('; ') };
}

/**
 * Keeps ConfigMap kube-system/kubeadm-config in step with this control-plane node's hardened flags.
 * Every kubeadm control-plane node does it for itself (a worker, even the leader, has no manifests to
 * know the flags from); they converge on the same content, and a write at a stale resourceVersion
 * (another control-plane node wrote first) re-reads and judges again. Only flags whose rules pass here
 * are mirrored. The ConfigMap is read at start-up, each resync and policy change, and whenever what this
 * node would mirror changes (a manifest just hardened); otherwise the last verdict stands.
 */
export class KubeadmConfigSync {
  /** What the last settled verdict was judged from; null = judge again at the next reconcile. */
  private judgedKey: string | null = null;
  private last: Finding | null = null;
  /** The inspection the last verdict came from: the daemon hands back the same one for an unchanged node. */
  private lastNode: InspectedNode | null = null;

  constructor(private readonly deps: KubeadmConfigDeps) {}

  /**
   * The verdict for this node (replaces the node rule's skip), or null where there is none to give: not
   * a kubeadm control-plane node, or the rule disabled by the policy. Never throws: an API error is an
   * `unknown` finding and the node's own reconcile goes on.
   */
  async reconcile(node: InspectedNode, fresh: boolean): Promise<Finding | null> {
    if (!fresh && node === this.lastNode && this.judgedKey !== null) return this.last;
    this.lastNode = node;
    const policy = this.deps.policy();
    if (!ruleEnabled(policy, KUBEADM_CLUSTER_CONFIGURATION)) return this.forget();
    const statuses = new Map(node.evaluated.map((rule) => [rule.meta.id, rule.evaluation.finding.status]));
    const view = kubeadmView(node.obs, statuses);
    if (!view.applies) return this.forget();
    const key = shortDigest(JSON.stringify({ view, mode: policy.mode }));
    if (!fresh && key === this.judgedKey && this.last) return this.last;
    const { finding, settled } = await this.sync(view, policy).catch((error: unknown) => {
      this.deps.logger.warn('kubeadm ClusterConfiguration not judged', { error: message(error) });
      return { finding: kubeadmConfigUnknown(`not judged: ${message(error)}`), settled: false };
    });
    this.judgedKey = settled ? key : null;
    this.last = finding;
    return finding;
  }

  /** Whether a rule just fixed owns a flag this sync mirrors (then the node is worth judging again now). */
  mirrors(fixed: ReadonlySet<string>): boolean {
    return this.last !== null && KUBEADM_FLAG_OWNERS.some((owner) => fixed.has(owner.rule));
  }

  private forget(): null {
    this.judgedKey = null;
    this.last = null;
    return null;
  }

  private async sync(view: KubeadmView, policy: Policy): Promise<{ finding: Finding; settled: boolean }> {
    const { namespace, name, key } = KUBEADM_CONFIGMAP;
    for (let attempt = 1; ; attempt += 1) {
      let judged: KubeadmJudgement;
      let configMap;
      try {
        configMap = await this.deps.configMaps.get(namespace, name);
        judged = judgeKubeadmConfig(configMap?.data[key] ?? null, view);
      } catch (error) {
        return { finding: kubeadmConfigUnknown(`cannot read ConfigMap ${namespace}/${name}: ${message(error)}`), settled: false };
      }
      if (!judged.after || !configMap) return { finding: judged.finding, settled: true };
      try {
        const written = await this.deps.session.replaceConfigMap(policy, { ...configMap, data: { ...configMap.data, [key]: judged.after } });
        if (!written) return { finding: withNote(judged.finding, 'audit mode: nothing written'), settled: true };
      } catch (error) {
        if (error instanceof ConflictError && attempt < ATTEMPTS) continue;
        if (error instanceof ConflictError)
          return { finding: withNote(judged.finding, 'other writers kept changing it; judged again at the next reconcile'), settled: false };
        this.deps.logger.warn('kubeadm ClusterConfiguration update failed', { configMap: `${namespace}/${name}`, error: message(error) });
        return { finding: withNote(judged.finding, `the update failed: ${message(error)}`), settled: false };
      }
      this.deps.logger.info('kubeadm ClusterConfiguration updated', { configMap: `${namespace}/${name}`, changes: judged.changes });
      this.deps.events.record(
        {
          type: 'Normal',
          reason: 'KubeadmConfigUpdated',
          message: `Mirrored the hardened control-plane flags of ${this.deps.nodeName} into the ClusterConfiguration: ${judged.changes.join(', ')}`,
        },
        { kind: 'ConfigMap', name, namespace, uid: null },
      );
      return { finding: judgeKubeadmConfig(judged.after, view).finding, settled: true };
    }
  }
}
