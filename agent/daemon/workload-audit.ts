import type { EventRecorder } from '../cluster/events.js';
import type { NamespaceApi, PodApi, PodRecord } from '../cluster/api.js';
import { NodePodWatch } from '../cluster/pod-watch.js';
import { shortDigest } from '../core/digest.js';
import type { Policy } from '../core/policy.js';
import { auditNamespaces, withNamespaceAudit, type NamespaceAudit, type NamespaceLike } from '../rules/workloads/namespace-rules.js';
import { auditWorkloads, type SelfPod, type WorkloadAudit, type WorkloadViolation } from '../rules/workloads/pod-rules.js';
import type { Logger } from '../telemetry/logger.js';
import type { AgentMetrics } from '../telemetry/metrics.js';

export interface WorkloadAuditorDeps {
  readonly pods: PodApi;
  readonly events: EventRecorder;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly policy: () => Policy;
  readonly now: () => number;
  /** Lists the Namespaces for the namespace rules; without it they are not judged. */
  readonly namespaces?: NamespaceApi;
  /**
   * Records the Events about Namespaces (default `events`). A recorder of its own, so that a cluster
   * full of unlabelled namespaces cannot use up the rate limit of the Node's own Events.
   */
  readonly namespaceEvents?: EventRecorder;
  /** The agent's own namespace: exempt from the namespace rules by design (it must allow privileged pods). */
  readonly selfNamespace?: string | null;
}

/**
 * Audits the pods on this node whenever the watch reports a change (debounced): updates
 * `kube_harden_workload_violations{rule,namespace}` and records a Warning Event on a pod the first time
 * it shows a violation (the recorder aggregates and rate-limits them). When asked to (`refreshNamespaces`),
 * it also judges every Namespace's Pod Security label, into the same metric and a Warning Event on the
 * Namespace. Audit only: it never changes a pod or a namespace.
 */
export class WorkloadAuditor {
  private readonly watch: NodePodWatch;
  private current: ReadonlyMap<string, PodRecord> = new Map();
  private reported = new Set<string>();
  private debounce: NodeJS.Timeout | null = null;
  private pods: WorkloadAudit | null = null;
  /** The Namespaces last listed; null while this agent does not report them. */
  private namespaceList: readonly NamespaceLike[] | null = null;
  private namespaceVerdicts: NamespaceAudit | null = null;
  private reportedNamespaces = new Set<string>();
  /** The latest audit (the CLI JSON shape), null before the first list of pods. */
  last: WorkloadAudit | null = null;

  constructor(
    node: string,
    private readonly self: SelfPod | null,
    private readonly deps: WorkloadAuditorDeps,
    private readonly debounceMs: number,
  ) {
    this.watch = new NodePodWatch(deps.pods, {
      node,
      retryMs: 5000,
      onChange: (pods) => {
        this.current = pods;
        this.schedule();
      },
      // Counted (kube_harden_api_errors_total) and logged once by the counted API; here only for debugging.
      onError: (error) => deps.logger.debug('pod watch interrupted, listing again', { error: error.message }),
    });
  }

  async start(): Promise<void> {
    await this.watch.start();
  }

  stop(): void {
    this.watch.stop();
    if (this.debounce) clearTimeout(this.debounce);
  }

  /** Audits now (also after a policy reload: exemptions may have changed or expired). */
  audit(): WorkloadAudit {
    const records = [...this.current.values()];
    const policy = this.deps.policy();
    const audit = auditWorkloads(
      records.map((record) => record.pod),
      policy,
      this.self,
      this.deps.now(),
    );
    this.pods = audit;
    const seen = new Set<string>();
    for (const violation of audit.violations) {
      const key = `${violation.namespace}/${violation.pod}|${violation.rule}|${violation.container ?? ''}`;
      seen.add(key);
      if (this.reported.has(key) || violation.pod === null) continue;
      const record = this.current.get(`${violation.namespace}/${violation.pod}`);
      const where = violation.container ? `container ${violation.container}: ` : '';
      this.deps.events.record(
        { type: 'Warning', reason: 'WorkloadViolation', message: `${violation.rule}: ${where}${violation.message}` },
        { kind: 'Pod', name: violation.pod, namespace: violation.namespace, uid: record?.uid ?? null },
      );
    }
    this.reported = seen;
    if (this.namespaceList) this.judgeNamespaces(this.namespaceList);
    this.publish();
    return this.last!;
  }

  /**
   * Namespace findings are cluster-wide: only the agent that reports cluster-wide findings (`report`:
   * the leader, or every agent in audit mode, where no leader is elected) lists and judges the
   * Namespaces; the others drop what they reported. Called at start-up, at each resync and on a policy
   * change: Namespace labels change rarely, and a watch on every agent would hold one more connection
   * per node for what a resync finds soon enough. A failed list keeps the last verdicts (the call is
   * counted in kube_harden_api_errors_total).
   */
  async refreshNamespaces(report: boolean): Promise<void> {
    if (!report || !this.deps.namespaces) {
      if (this.namespaceList === null) return;
      this.namespaceList = null;
      this.namespaceVerdicts = null;
      this.reportedNamespaces.clear();
      this.publish();
      return;
    }
    try {
      this.namespaceList = await this.deps.namespaces.list();
    } catch (error) {
      this.deps.logger.debug('namespaces not listed, keeping the last verdicts', { error: error instanceof Error ? error.message : String(error) });
      return;
    }
    this.judgeNamespaces(this.namespaceList);
    this.publish();
  }

  /** Judges the Namespaces and records an Event for each new violation (named so every agent makes the same one). */
  private judgeNamespaces(namespaces: readonly NamespaceLike[]): void {
    const verdicts = auditNamespaces(namespaces, this.deps.policy(), this.deps.selfNamespace ?? null, this.deps.now());
    this.namespaceVerdicts = verdicts;
    const recorder = this.deps.namespaceEvents ?? this.deps.events;
    const seen = new Set<string>();
    for (const violation of verdicts.violations) {
      const key = `${violation.namespace}|${violation.rule}|${violation.message}`;
      seen.add(key);
      if (this.reportedNamespaces.has(key)) continue;
      recorder.record(
        { type: 'Warning', reason: 'WorkloadViolation', message: `${violation.rule}: ${violation.message}` },
        { kind: 'Namespace', name: violation.namespace, namespace: violation.namespace, uid: null },
        namespaceEventName(violation),
      );
    }
    this.reportedNamespaces = seen;
  }

  /** The metric and `last` from the pod and namespace verdicts together. */
  private publish(): void {
    const namespaceViolations: readonly WorkloadViolation[] = this.namespaceVerdicts?.violations ?? [];
    this.deps.metrics.recordWorkloads([...(this.pods?.violations ?? []), ...namespaceViolations]);
    this.last = this.pods && this.namespaceVerdicts ? withNamespaceAudit(this.pods, this.namespaceVerdicts) : this.pods;
  }

  private schedule(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.audit();
    }, this.debounceMs);
  }
}

/**
 * The same name on every agent for the same finding on the same Namespace: `<namespace>.kube-harden-<digest>`
 * (a DNS subdomain: namespace names are DNS labels). A changed finding (another level) is a new Event.
 */
export function namespaceEventName(violation: Pick<WorkloadViolation, 'namespace' | 'rule' | 'message'>): string {
  return `${violation.namespace}.kube-harden-${shortDigest(`${violation.rule}\n${violation.message}`)}`;
}
