import { compareText } from '../../core/order.js';
import type { Policy, RuleValueSpec } from '../../core/policy.js';
import { ruleEnabled, ruleValue } from '../../core/policy.js';
import { activeExemption, type ExemptedViolation, type WorkloadAudit, type WorkloadViolation } from './pod-rules.js';

/** The Namespace label Pod Security Admission enforces (KUBERNETES-FACTS: PSA is GA since 1.25). */
export const ENFORCE_LABEL = 'pod-security.kubernetes.io/enforce';

/** The Pod Security Standards levels, least to most restrictive. */
export const POD_SECURITY_LEVELS = ['privileged', 'baseline', 'restricted'] as const;
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number];

export const NAMESPACE_POD_SECURITY = 'workload.namespace-pod-security';

/** The parts of a core/v1 Namespace the namespace rules read. */
export interface NamespaceLike {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The namespace rules' verdicts: violations and exempted ones use the pod audit's shape with `pod: null`. */
export interface NamespaceAudit {
  readonly violations: readonly WorkloadViolation[];
  readonly exempted: readonly ExemptedViolation[];
  /** How many namespaces were judged. */
  readonly namespaces: number;
}

/** A rule judged per Namespace rather than per pod (audit only, like the pod rules). */
export interface NamespaceRule {
  readonly id: string;
  readonly title: string;
  readonly cis: readonly string[];
  readonly value?: RuleValueSpec['value'];
}

/**
 * Pod Security Admission replaces SecurityContextDeny (removed in 1.30) and PodSecurityPolicy (removed
 * in 1.25): a namespace is protected only when its enforce label names a level. CIS 5.2.1 asks for a
 * policy control mechanism; an external one (Kyverno, Gatekeeper) satisfies it too (then exempt or
 * turn this rule off).
 */
export const namespacePodSecurity: NamespaceRule = {
  id: NAMESPACE_POD_SECURITY,
  title: 'Namespaces enforce a Pod Security level (Pod Security Admission)',
  cis: ['5.2.1'],
  value: {
    default: 'baseline',
    describe: 'the least restrictive level a namespace may enforce: baseline or restricted',
    validate: (value) =>
      value === 'baseline' || value === 'restricted'
        ? null
        : 'must be baseline or restricted (privileged restricts nothing: turn the rule off with enabled: false instead)',
  },
};

export const NAMESPACE_RULES: readonly NamespaceRule[] = [namespacePodSecurity];

/** Policy value specs of the namespace rules (so the policy can turn them off, set values, exempt). */
export const NAMESPACE_VALUE_SPECS: readonly RuleValueSpec[] = NAMESPACE_RULES.map((rule) => ({
  id: rule.id,
  ...(rule.value ? { value: rule.value } : {}),
}));

function rank(level: PodSecurityLevel): number {
  return POD_SECURITY_LEVELS.indexOf(level);
}

function isLevel(value: string): value is PodSecurityLevel {
  return (POD_SECURITY_LEVELS as readonly string[]).includes(value);
}

/** What is wrong with a namespace's enforce label for `minimum`, or null when it enforces that level or a stricter one. Pure. */
export function podSecurityProblem(labels: Readonly<Record<string, string>>, minimum: PodSecurityLevel): string | null {
  const level = labels[ENFORCE_LABEL];
  if (level === undefined)
    return `no ${ENFORCE_LABEL} label: Pod Security Admission applies the cluster default, privileged unless the API server's PodSecurity configuration sets another (the policy asks for ${minimum} or stricter)`;
  // Pod Security Admission enforces restricted for a value it cannot parse; the label still does not say what was meant.
  if (!isLevel(level)) return `${ENFORCE_LABEL}=${level} is not a Pod Security level (privileged, baseline or restricted)`;
  if (rank(level) >= rank(minimum)) return null;
  if (level === 'privileged') return `${ENFORCE_LABEL}=privileged restricts nothing (the policy asks for ${minimum} or stricter)`;
  return `${ENFORCE_LABEL}=${level} is less restrictive than the policy's ${minimum}`;
}

/**
 * Judges every namespace against the enabled namespace rules. An exemption for the rule that matches the
 * namespace (by name, or by the Namespace's own labels) and has not expired moves a violation to
 * `exempted`; so does the agent's own namespace (`self`), which must allow privileged pods because the
 * agent is one (docs/security.md). Pure.
 */
export function auditNamespaces(namespaces: readonly NamespaceLike[], policy: Policy, self: string | null, nowMs: number): NamespaceAudit {
  const violations: WorkloadViolation[] = [];
  const exempted: ExemptedViolation[] = [];
  if (ruleEnabled(policy, NAMESPACE_POD_SECURITY)) {
    const minimum = ruleValue<PodSecurityLevel>(policy, NAMESPACE_POD_SECURITY);
    for (const namespace of [...namespaces].sort((a, b) => compareText(a.name, b.name))) {
      const message = podSecurityProblem(namespace.labels, minimum);
      if (message === null) continue;
      const violation: WorkloadViolation = { rule: NAMESPACE_POD_SECURITY, namespace: namespace.name, pod: null, container: null, message };
      const exemption = activeExemption(policy, NAMESPACE_POD_SECURITY, namespace.name, namespace.labels, nowMs);
      if (exemption) exempted.push({ ...violation, reason: exemption.reason, expires: exemption.expires });
      else if (namespace.name === self)
        exempted.push({ ...violation, reason: "the agent's own namespace: the agent runs privileged by design", expires: null });
      else violations.push(violation);
    }
  }
  return { violations, exempted, namespaces: namespaces.length };
}

/** The pod audit with the namespace audit folded in (the CLI JSON's `workloads` object). */
export function withNamespaceAudit(pods: WorkloadAudit, namespaces: NamespaceAudit): WorkloadAudit {
  return {
    violations: [...pods.violations, ...namespaces.violations],
    exempted: [...pods.exempted, ...namespaces.exempted],
    pods: pods.pods,
    namespaces: namespaces.namespaces,
  };
}
