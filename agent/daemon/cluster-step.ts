import type { Finding } from '../core/finding.js';
import type { Policy } from '../core/policy.js';
import type { InspectedNode } from '../node/inspect.js';
import { clusterSettingsFor, type ClusterSettings } from '../session/cluster-settings.js';
import { KubeadmConfigSync } from '../session/kubeadm-config.js';
import type { EnforcementSession } from '../session/session.js';
import type { Logger } from '../telemetry/logger.js';
import type { DaemonCluster, ReconcileReason } from './types.js';

export interface ClusterStepDeps {
  readonly cluster: DaemonCluster;
  readonly session: EnforcementSession;
  readonly logger: Logger;
  readonly now: () => number;
  readonly nodeName: string;
  readonly policy: () => Policy;
  readonly policyHash: () => string;
  readonly gateIntervalMs: number;
}

/**
 * The cluster-wide part of a reconcile, with cluster credentials only: the leader's ConfigMaps and the
 * kube-proxy roll, the namespaces' Pod Security labels (judged where the cluster-wide settings are), and
 * kubeadm-config kept in step by a control-plane node. Its findings replace the node's `skip` for the
 * same rules (on a kubeadm node the kube-proxy rules skip: the ConfigMap is cluster-wide).
 */
export class ClusterStep {
  readonly settings: ClusterSettings;
  private readonly kubeadm: KubeadmConfigSync;
  private settingsFindings: readonly Finding[] = [];
  private kubeadmFinding: Finding | null = null;

  constructor(private readonly deps: ClusterStepDeps) {
    const { cluster, session, logger } = deps;
    this.settings = clusterSettingsFor({
      ...cluster,
      session,
      logger,
      now: deps.now,
      nodeName: deps.nodeName,
      policy: deps.policy,
      policyHash: deps.policyHash,
      pollMs: deps.gateIntervalMs,
    });
    this.kubeadm = new KubeadmConfigSync({
      configMaps: cluster.api.configMaps,
      session,
      events: cluster.events,
      logger,
      policy: deps.policy,
      nodeName: deps.nodeName,
    });
  }

  /** Runs the step for this reconcile and returns the cluster's verdicts (the latest of each). */
  async run(node: InspectedNode, reason: ReconcileReason): Promise<readonly Finding[]> {
    if (reason !== 'event' && reason !== 'poll') {
      if (reason === 'roll') await this.settings.rollStep();
      else {
        this.settingsFindings = await this.settings.reconcile();
        await this.deps.cluster.workloads?.refreshNamespaces(this.settings.leading);
      }
    }
    // Judged on this observation: a flag is mirrored only once its rules pass here, so one hardened by
    // this reconcile is mirrored by the one the daemon schedules right after (see `mirrors`).
    this.kubeadmFinding = await this.kubeadm.reconcile(node, reason === 'startup' || reason === 'resync' || reason === 'policy');
    return [...this.settingsFindings, ...(this.kubeadmFinding ? [this.kubeadmFinding] : [])];
  }

  /** True when a rule fixed by this reconcile owns a flag kubeadm-config mirrors. */
  mirrors(fixed: ReadonlySet<string>): boolean {
    return this.kubeadm.mirrors(fixed);
  }
}
