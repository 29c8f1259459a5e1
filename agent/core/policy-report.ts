import type { Finding, FindingStatus } from './finding.js';

/**
 * The node's findings as a `wgpolicyk8s.io/v1alpha2` ClusterPolicyReport (the Kubernetes policy working
 * group's format, read by Policy Reporter, Kyverno's tooling and kube-bench's adapter). Pure: the cluster
 * adapter (cluster/policy-reports.ts) decides whether to write it.
 */

export const POLICY_REPORT_API_VERSION = 'wgpolicyk8s.io/v1alpha2';
export const POLICY_REPORT_KIND = 'ClusterPolicyReport';
/** `results[].source`: the engine that wrote the result (Policy Reporter groups and filters by it). */
export const POLICY_REPORT_SOURCE = 'kube-harden';
export const POLICY_HASH_ANNOTATION = 'kube-harden.io/policy-hash';
export const REPORT_NODE_LABEL = 'kube-harden.io/node';

/** The schema's result values (kubebuilder enum pass;fail;warn;error;skip). */
export type PolicyReportResultValue = 'pass' | 'fail' | 'warn' | 'error' | 'skip';
/**
 * Severities kube-harden uses: the three every published v1alpha2 CRD accepts (the working group's
 * first v1alpha2 schema has the enum high;low;medium; later ones add critical and info).
 */
export type PolicyReportSeverity = 'high' | 'medium' | 'low';

/** One `results[]` entry (v1alpha2 PolicyReportResult; `timestamp` is a metav1.Timestamp). */
export interface PolicyReportResult {
  readonly source: string;
  readonly policy: string;
  readonly rule?: string;
  readonly category: string;
  readonly severity: PolicyReportSeverity;
  readonly result: PolicyReportResultValue;
  readonly scored: boolean;
  readonly message: string;
  readonly properties: Readonly<Record<string, string>>;
  readonly timestamp: { readonly seconds: number; readonly nanos: number };
}

export interface PolicyReportSummary {
  readonly pass: number;
  readonly fail: number;
  readonly warn: number;
  readonly error: number;
  readonly skip: number;
}

/** A ClusterPolicyReport as the API server stores it (the fields kube-harden writes). */
export interface ClusterPolicyReport {
  readonly apiVersion: typeof POLICY_REPORT_API_VERSION;
  readonly kind: typeof POLICY_REPORT_KIND;
  readonly metadata: {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly annotations: Readonly<Record<string, string>>;
    readonly ownerReferences?: readonly { apiVersion: string; kind: string; name: string; uid: string }[];
    readonly resourceVersion?: string;
  };
  readonly scope: { readonly apiVersion: 'v1'; readonly kind: 'Node'; readonly name: string; readonly uid?: string };
  readonly summary: PolicyReportSummary;
  readonly results: readonly PolicyReportResult[];
}

/**
 * `unknown` (the input could not be read or judged) is `error`: the schema's "the policy could not be
 * evaluated". It is never `pass`, and not `fail` either: nothing is known to be wrong.
 */
const RESULT_OF: Record<FindingStatus, PolicyReportResultValue> = { pass: 'pass', fail: 'fail', unknown: 'error', skip: 'skip' };

/** CIS Kubernetes Benchmark v1.12 section titles, by section number. */
const CIS_SECTIONS: Readonly<Record<string, string>> = {
  '1.1': 'Control Plane Node Configuration Files',
  '1.2': 'API Server',
  '1.3': 'Controller Manager',
  '1.4': 'Scheduler',
  '2': 'etcd',
  '4.1': 'Worker Node Configuration Files',
  '4.2': 'Kubelet',
  '4.3': 'kube-proxy',
  '5.1': 'RBAC and Service Accounts',
  '5.2': 'Pod Security Standards',
};

/**
 * Severity per rule: kube-harden's own judgement (CIS gives none). `high` where a failure lets anyone
 * with network reach or a pod take over the node or the cluster; `low` for hygiene; `medium` otherwise.
 */
const HIGH = new Set([
  'kubelet.anonymous-auth',
  'kubelet.authorization-mode',
  'kubelet.read-only-port',
  'kubelet.config-file-permissions',
  'files.control-plane-permissions',
  'apiserver.anonymous-auth',
  'apiserver.authorization-mode',
  'apiserver.kubelet-certificate-authority',
  'workload.privileged',
  'workload.host-namespaces',
  'workload.docker-socket',
]);
const LOW = new Set(['kernel.version', 'apiserver.profiling', 'controller-manager.profiling', 'scheduler.profiling']);

export function severityOf(ruleId: string): PolicyReportSeverity {
  return HIGH.has(ruleId) ? 'high' : LOW.has(ruleId) ? 'low' : 'medium';
}

/** `category`: the CIS section of the rule's first check, else the rule's component (its ID's prefix). */
export function categoryOf(finding: Pick<Finding, 'id' | 'cis'>): string {
  const first = finding.cis[0];
  if (first) {
    const parts = first.split('.');
    const section = parts.length > 2 ? parts.slice(0, 2).join('.') : parts[0]!;
    const title = CIS_SECTIONS[section];
    return `CIS ${section}${title ? ` ${title}` : ''}`;
  }
  return `kube-harden ${finding.id.split('.')[0]}`;
}

export function reportName(nodeName: string): string {
  return `kube-harden-${nodeName}`;
}

/** What the report is built from. */
export interface PolicyReportInput {
  readonly node: { readonly name: string; readonly uid: string | null };
  readonly findings: readonly Finding[];
  /** Identifies the policy in force, so a report shows which policy judged the node. */
  readonly policyHash: string;
  readonly nowMs: number;
  /**
   * The report written last: a result whose content did not change keeps its timestamp (when it was
   * found), so an unchanged node yields an identical report and nothing is written.
   */
  readonly previous: ClusterPolicyReport | null;
}

function resultOf(finding: Finding, timestamp: PolicyReportResult['timestamp']): PolicyReportResult {
  const properties: Record<string, string> = { expected: finding.expected, actual: finding.actual };
  if (finding.source) properties.source = finding.source;
  properties.remediable = String(finding.remediable);
  return {
    source: POLICY_REPORT_SOURCE,
    policy: finding.id,
    ...(finding.cis.length > 0 ? { rule: finding.cis.join(', ') } : {}),
    category: categoryOf(finding),
    severity: severityOf(finding.id),
    result: RESULT_OF[finding.status],
    scored: true,
    message: finding.message || finding.title,
    properties,
    timestamp,
  };
}

/** The report for one node: one result per rule, in the findings' order. Pure. */
export function buildPolicyReport(input: PolicyReportInput): ClusterPolicyReport {
  const now = { seconds: Math.floor(input.nowMs / 1000), nanos: 0 };
  const before = new Map((input.previous?.results ?? []).map((result) => [result.policy, result]));
  const results = input.findings.map((finding) => {
    const fresh = resultOf(finding, now);
    const old = before.get(finding.id);
    return old && resultKey(old) === resultKey(fresh) ? { ...fresh, timestamp: old.timestamp } : fresh;
  });
  const summary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const result of results) summary[result.result] += 1;
  const { name, uid } = input.node;
  return {
    apiVersion: POLICY_REPORT_API_VERSION,
    kind: POLICY_REPORT_KIND,
    metadata: {
      name: reportName(name),
      labels: { 'app.kubernetes.io/managed-by': 'kube-harden', [REPORT_NODE_LABEL]: name },
      annotations: { [POLICY_HASH_ANNOTATION]: input.policyHash },
      // The report goes with its Node: the garbage collector deletes it when the Node is deleted.
      ...(uid ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid }] } : {}),
    },
    scope: { apiVersion: 'v1', kind: 'Node', name, ...(uid ? { uid } : {}) },
    summary,
    results,
  };
}

/** A result without its timestamp, as comparable text. */
function resultKey(result: PolicyReportResult): string {
  return stableJson(withoutTimestamp(result));
}

function withoutTimestamp(result: PolicyReportResult): Omit<PolicyReportResult, 'timestamp'> {
  const copy: { -readonly [K in keyof PolicyReportResult]?: PolicyReportResult[K] } = { ...result };
  delete copy.timestamp;
  return copy as Omit<PolicyReportResult, 'timestamp'>;
}

/**
 * The report's content without timestamps and server fields (resourceVersion, uid, managedFields):
 * equal keys mean writing would change nothing a reader cares about. Pure.
 */
export function reportContentKey(report: Pick<ClusterPolicyReport, 'metadata' | 'scope' | 'summary' | 'results'>): string {
  const { metadata } = report;
  return stableJson({
    name: metadata.name,
    labels: metadata.labels ?? {},
    annotations: metadata.annotations ?? {},
    owners: metadata.ownerReferences ?? [],
    scope: report.scope,
    summary: report.summary,
    results: (report.results ?? []).map(withoutTimestamp),
  });
}

/** JSON with object keys sorted, so two equal objects built in different orders compare equal. */
function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : item,
  );
}
