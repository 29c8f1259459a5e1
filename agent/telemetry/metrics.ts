import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DISRUPTION_BLOCKED_REASONS, type DisruptionBlockedReason } from '../core/disruption-blockers.js';
import type { Finding, FindingStatus } from '../core/finding.js';
import type { Observation } from '../core/observation.js';

const STATUSES: readonly FindingStatus[] = ['pass', 'fail', 'unknown', 'skip'];

/**
 * The agent's metrics (DESIGN §8), on a registry of its own so nothing else leaks in. Labels are rule
 * IDs and service names only, never paths or error text (bounded cardinality).
 */
export class AgentMetrics {
  readonly registry = new Registry();
  private readonly ruleStatus = new Gauge({
    name: 'kube_harden_rule_status',
    help: 'Current status of each rule: 1 for the status it has, 0 for the others.',
    labelNames: ['rule', 'status'],
    registers: [this.registry],
  });
  readonly remediations = new Counter({
    name: 'kube_harden_remediations_total',
    help: 'Changes made (or attempted) per rule, by result.',
    labelNames: ['rule', 'result'],
    registers: [this.registry],
  });
  readonly driftCorrections = new Counter({
    name: 'kube_harden_drift_corrections_total',
    help: 'Corrections of drift after the first reconcile, per rule.',
    labelNames: ['rule'],
    registers: [this.registry],
  });
  readonly serviceRestarts = new Counter({
    name: 'kube_harden_service_restarts_total',
    help: 'Service restarts by the agent, by result.',
    labelNames: ['service', 'result'],
    registers: [this.registry],
  });
  readonly rollbacks = new Counter({
    name: 'kube_harden_rollbacks_total',
    help: 'Rollbacks after a failed health gate, per service.',
    labelNames: ['service'],
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'kube_harden_reconcile_duration_seconds',
    help: 'Time to observe, judge and (in enforce mode) fix the node.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly lastReconcile = new Gauge({
    name: 'kube_harden_last_reconcile_timestamp_seconds',
    help: 'Unix time of the last completed reconcile.',
    registers: [this.registry],
  });
  private readonly nodeInfo = new Gauge({
    name: 'kube_harden_node_info',
    help: 'Node facts as labels (value always 1).',
    labelNames: ['distribution', 'kubelet_version', 'kernel', 'apparmor', 'selinux'],
    registers: [this.registry],
  });
  readonly driftConflict = new Gauge({
    name: 'kube_harden_drift_conflict',
    help: '1 while the agent backs off from another writer that keeps reverting a rule.',
    labelNames: ['rule'],
    registers: [this.registry],
  });
  /**
   * Violations of the workload rules by pods on this node, and of the namespace rules by the Namespace
   * itself (1 each, only on the agent that reports cluster-wide findings); exempted ones not counted.
   */
  readonly workloadViolations = new Gauge({
    name: 'kube_harden_workload_violations',
    help: 'Workload rule violations per rule and namespace, exemptions applied: by pods on this node; for workload.namespace-pod-security the Namespace itself (1), reported where the cluster-wide findings are (the leader; every agent in audit mode).',
    labelNames: ['rule', 'namespace'],
    registers: [this.registry],
  });
  /** Failed Kubernetes API calls by operation (`events.create`, `leases.get`, `pods.watch`...): a static name, never error text. */
  readonly apiErrors = new Counter({
    name: 'kube_harden_api_errors_total',
    help: 'Kubernetes API calls that failed (refused, unavailable, API missing; conflicts excluded), by operation. The node keeps hardening without them.',
    labelNames: ['operation'],
    registers: [this.registry],
  });
  /** Reconciles that ended in an error (last_reconcile_timestamp_seconds does not move for these). */
  readonly reconcileErrors = new Counter({
    name: 'kube_harden_reconcile_errors_total',
    help: 'Reconciles that failed before finishing.',
    registers: [this.registry],
  });
  /** The file watcher reported an error (drift is then found by the poll and resync only). */
  readonly watchErrors = new Counter({
    name: 'kube_harden_watch_errors_total',
    help: 'Errors of the file watcher that signals drift.',
    registers: [this.registry],
  });
  /** 1 while the node cannot keep its ClusterPolicyReport because the wgpolicyk8s.io CRD is not installed. */
  readonly policyReportUnavailable = new Gauge({
    name: 'kube_harden_policy_report_unavailable',
    help: '1 while the wgpolicyk8s.io ClusterPolicyReport CRD is not installed (the node report is not written), else 0.',
    registers: [this.registry],
  });
  /** Why a disruptive change waits: all six series exist from the start, 1 for the current reason. */
  private readonly disruptionBlocked = new Gauge({
    name: 'kube_harden_disruption_blocked',
    help: '1 while a disruptive change waits, by reason: window (outside the maintenance windows), paused, alert, pod, node, unknown (a blocker could not be checked).',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  private readonly buildInfo = new Gauge({
    name: 'kube_harden_build_info',
    help: 'kube-harden version (value always 1).',
    labelNames: ['version'],
    registers: [this.registry],
  });

  constructor(version: string) {
    this.buildInfo.set({ version }, 1);
    this.recordDisruptionBlocked(null);
  }

  /** Sets kube_harden_disruption_blocked: 1 for `reason`, 0 for the others (all 0 when nothing waits). */
  recordDisruptionBlocked(reason: DisruptionBlockedReason | null): void {
    for (const candidate of DISRUPTION_BLOCKED_REASONS) this.disruptionBlocked.set({ reason: candidate }, candidate === reason ? 1 : 0);
  }

  /** Sets every rule's status series (all four statuses, so each rule is present from the first reconcile). */
  recordFindings(findings: readonly Finding[]): void {
    for (const finding of findings)
      for (const status of STATUSES) this.ruleStatus.set({ rule: finding.id, status }, finding.status === status ? 1 : 0);
  }

  recordNode(obs: Observation, distribution: string): void {
    this.nodeInfo.reset();
    this.nodeInfo.set(
      {
        distribution,
        kubelet_version: obs.kubeletVersion?.raw ?? 'unknown',
        kernel: obs.kernelRelease ?? 'unknown',
        apparmor: obs.lsm.apparmor,
        selinux: obs.lsm.selinux,
      },
      1,
    );
  }

  /** Declares a rule's conflict series at 0 so dashboards see it before any fight. */
  recordConflicts(rules: readonly string[], held: ReadonlySet<string>): void {
    for (const rule of rules) this.driftConflict.set({ rule }, held.has(rule) ? 1 : 0);
  }

  /** Replaces the workload series: a namespace without violations any more drops out. */
  recordWorkloads(violations: readonly { readonly rule: string; readonly namespace: string }[]): void {
    this.workloadViolations.reset();
    const counts = new Map<string, number>();
    for (const { rule, namespace } of violations) counts.set(`${rule}\n${namespace}`, (counts.get(`${rule}\n${namespace}`) ?? 0) + 1);
    for (const [key, count] of counts) {
      const [rule, namespace] = key.split('\n') as [string, string];
      this.workloadViolations.set({ rule, namespace }, count);
    }
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
