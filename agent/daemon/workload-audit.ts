import type { EventRecorder } from '../cluster/events.js';
import type { PodApi, PodRecord } from '../cluster/api.js';
import { NodePodWatch } from '../cluster/pod-watch.js';
import type { Policy } from '../core/policy.js';
import { auditWorkloads, type SelfPod, type WorkloadAudit } from '../rules/workloads/pod-rules.js';
import type { Logger } from '../telemetry/logger.js';
import type { AgentMetrics } from '../telemetry/metrics.js';

export interface WorkloadAuditorDeps {
  readonly pods: PodApi;
  readonly events: EventRecorder;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly policy: () => Policy;
  readonly now: () => number;
}

/**
 * Audits the pods on this node whenever the watch reports a change (debounced): updates
 * `kube_harden_workload_violations{rule,namespace}` and records a Warning Event on a pod the first time
 * it shows a violation (the recorder aggregates and rate-limits them). Audit only: it never changes a pod.
 */
export class WorkloadAuditor {
  private readonly watch: NodePodWatch;
  private current: ReadonlyMap<string, PodRecord> = new Map();
  private reported = new Set<string>();
  private debounce: NodeJS.Timeout | null = null;
  /** The latest audit (the CLI JSON shape), null before the first list. */
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
    const audit = auditWorkloads(
      records.map((record) => record.pod),
      this.deps.policy(),
      this.self,
      this.deps.now(),
    );
    this.deps.metrics.recordWorkloads(audit.violations);
    const seen = new Set<string>();
    for (const violation of audit.violations) {
      const key = `${violation.namespace}/${violation.pod}|${violation.rule}|${violation.container ?? ''}`;
      seen.add(key);
      if (this.reported.has(key)) continue;
      const record = this.current.get(`${violation.namespace}/${violation.pod}`);
      const where = violation.container ? `container ${violation.container}: ` : '';
      this.deps.events.record(
        { type: 'Warning', reason: 'WorkloadViolation', message: `${violation.rule}: ${where}${violation.message}` },
        { kind: 'Pod', name: violation.pod, namespace: violation.namespace, uid: record?.uid ?? null },
      );
    }
    this.reported = seen;
    this.last = audit;
    return audit;
  }

  private schedule(): void {
    if (this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.audit();
    }, this.debounceMs);
  }
}
