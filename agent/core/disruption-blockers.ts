/**
 * The verdict of each disruption blocker, decided from what the IO adapters read (Prometheus alerts,
 * the node's pods, the Node, the agent DaemonSet's annotations). Pure. Each verdict is `clear`,
 * `blocked` (with why), or `unknown` (the input could not be read: the caller decides to fail closed).
 */
import type { NodeConditionMatch, NodeTaintMatch, PrometheusBlockerPolicy } from './disruption-policy.js';
import { matchesLabels, type LabelSelector } from './label-selector.js';

export type BlockerVerdict =
  { readonly verdict: 'clear' } | { readonly verdict: 'blocked'; readonly reason: string } | { readonly verdict: 'unknown'; readonly reason: string };

/** An alert as Prometheus' `/api/v1/alerts` lists it. */
export interface PrometheusAlert {
  readonly labels: Readonly<Record<string, string>>;
  /** `firing` or `pending` (pending alerts have not held their `for:` yet and do not block). */
  readonly state: string;
}

/** The annotation on the agent's DaemonSet that pauses every new disruption fleet-wide. */
export const PAUSE_ANNOTATION = 'kube-harden.io/paused';

const CLEAR: BlockerVerdict = { verdict: 'clear' };
const MAX_NAMED = 3;

function named(items: readonly string[]): string {
  return items.length <= MAX_NAMED ? items.join(', ') : `${items.slice(0, MAX_NAMED).join(', ')} and ${items.length - MAX_NAMED} more`;
}

/** True when a firing alert matches the selector (labels all present; the whole alertname matches the regexp). */
export function alertMatches(alert: PrometheusAlert, selector: Pick<PrometheusBlockerPolicy, 'labels' | 'alertnameRegexp'>): boolean {
  if (alert.state !== 'firing') return false;
  for (const [key, value] of Object.entries(selector.labels)) if (alert.labels[key] !== value) return false;
  if (selector.alertnameRegexp === null) return true;
  // Anchored like Prometheus' own regexp matchers.
  return new RegExp(`^(?:${selector.alertnameRegexp})$`).test(alert.labels.alertname ?? '');
}

export function alertVerdict(
  alerts: readonly PrometheusAlert[],
  selector: Pick<PrometheusBlockerPolicy, 'labels' | 'alertnameRegexp'>,
): BlockerVerdict {
  const firing = alerts.filter((alert) => alertMatches(alert, selector)).map((alert) => alert.labels.alertname ?? '(no alertname)');
  if (firing.length === 0) return CLEAR;
  return { verdict: 'blocked', reason: `Prometheus alert firing: ${named([...new Set(firing)].sort())}` };
}

/** The fields of a pod the pod blocker reads (a structural subset of a core/v1 Pod). */
export interface BlockingPodView {
  readonly metadata: { readonly name: string; readonly namespace: string; readonly labels?: Readonly<Record<string, string>> };
  readonly status?: { readonly phase?: string };
}

/** Pods that finished (Succeeded, Failed) no longer run and do not block. */
export function podVerdict(pods: readonly BlockingPodView[], selectors: readonly LabelSelector[]): BlockerVerdict {
  if (selectors.length === 0) return CLEAR;
  const blocking = pods
    .filter((pod) => pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed')
    .filter((pod) => selectors.some((selector) => matchesLabels(selector, pod.metadata.labels ?? {})))
    .map((pod) => `${pod.metadata.namespace}/${pod.metadata.name}`)
    .sort();
  if (blocking.length === 0) return CLEAR;
  return { verdict: 'blocked', reason: `blocking pod running on this node: ${named(blocking)}` };
}

/** The fields of a Node the node blocker reads. */
export interface BlockingNodeView {
  readonly conditions: readonly { readonly type: string; readonly status: string }[];
  readonly taints: readonly { readonly key: string; readonly value: string | null; readonly effect: string }[];
}

export function nodeVerdict(node: BlockingNodeView, conditions: readonly NodeConditionMatch[], taints: readonly NodeTaintMatch[]): BlockerVerdict {
  const found: string[] = [];
  for (const match of conditions)
    if (node.conditions.some((condition) => condition.type === match.type && condition.status === match.status))
      found.push(`condition ${match.type}=${match.status}`);
  for (const match of taints) {
    const taint = node.taints.find(
      (candidate) =>
        candidate.key === match.key &&
        (match.value === null || candidate.value === match.value) &&
        (match.effect === null || candidate.effect === match.effect),
    );
    if (taint) found.push(`taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect}`);
  }
  if (found.length === 0) return CLEAR;
  return { verdict: 'blocked', reason: `node ${named(found)}` };
}

/**
 * The pause switch: `restarts.paused: true` in the policy, or the annotation `kube-harden.io/paused`
 * on the agent's DaemonSet. The annotation pauses unless it is `false` (or absent): `true`,
 * `true: <reason>`, and any value an operator wrote meaning to pause (fail closed). `annotations`
 * null = the DaemonSet does not exist: unknown (the switch cannot be read).
 */
export function pauseVerdict(policyPaused: boolean, annotations: Readonly<Record<string, string>> | null, daemonSet: string): BlockerVerdict {
  if (policyPaused) return { verdict: 'blocked', reason: 'paused by the policy (restarts.paused: true)' };
  if (annotations === null) return { verdict: 'unknown', reason: `pause switch unreadable: DaemonSet ${daemonSet} not found` };
  const value = annotations[PAUSE_ANNOTATION];
  if (value === undefined) return CLEAR;
  const trimmed = value.trim();
  if (/^false$/i.test(trimmed) || trimmed === '') return CLEAR;
  const reason = /^true\s*[:;,-]?\s*(.*)$/is.exec(trimmed)?.[1]?.trim() ?? trimmed;
  return { verdict: 'blocked', reason: `paused by ${PAUSE_ANNOTATION} on DaemonSet ${daemonSet}${reason ? `: ${reason}` : ''}` };
}

/** Why a disruption waits, as the `reason` label of `kube_harden_disruption_blocked`. */
export const DISRUPTION_BLOCKED_REASONS = ['window', 'paused', 'alert', 'pod', 'node', 'unknown'] as const;
export type DisruptionBlockedReason = (typeof DISRUPTION_BLOCKED_REASONS)[number];
