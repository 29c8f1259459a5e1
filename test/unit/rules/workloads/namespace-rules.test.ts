import { expect } from 'chai';
import { policyFrom } from '../../../helpers/policy.js';
import {
  auditNamespaces,
  ENFORCE_LABEL,
  NAMESPACE_POD_SECURITY,
  podSecurityProblem,
  type NamespaceLike,
} from '../../../../agent/rules/workloads/namespace-rules.js';
import { parsePolicy } from '../../../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../../../agent/rules/index.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');

function ns(name: string, level?: string, labels: Record<string, string> = {}): NamespaceLike {
  return { name, labels: { ...labels, ...(level === undefined ? {} : { [ENFORCE_LABEL]: level }) } };
}

/** `namespace: message` of every violation. */
function judged(namespaces: NamespaceLike[], yaml = '', self: string | null = null): string[] {
  return auditNamespaces(namespaces, policyFrom(yaml), self, NOW).violations.map((violation) => `${violation.namespace}: ${violation.message}`);
}

describe('workload.namespace-pod-security: the enforce label of every namespace', () => {
  it('missing or privileged fails; baseline and restricted pass at the default minimum (baseline)', () => {
    expect(judged([ns('none'), ns('open', 'privileged'), ns('base', 'baseline'), ns('strict', 'restricted')])).to.deep.equal([
      `none: no ${ENFORCE_LABEL} label: Pod Security Admission applies the cluster default, privileged unless the API server's PodSecurity configuration sets another (the policy asks for baseline or stricter)`,
      `open: ${ENFORCE_LABEL}=privileged restricts nothing (the policy asks for baseline or stricter)`,
    ]);
  });

  it('the policy minimum restricted also fails baseline', () => {
    expect(
      judged([ns('base', 'baseline'), ns('strict', 'restricted')], `rules:\n  ${NAMESPACE_POD_SECURITY}: { value: restricted }\n`),
    ).to.deep.equal([`base: ${ENFORCE_LABEL}=baseline is less restrictive than the policy's restricted`]);
  });

  it('only the enforce label counts: audit and warn labels do not protect a namespace', () => {
    expect(
      judged([ns('warned', undefined, { 'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/audit': 'restricted' })]),
    ).to.have.length(1);
  });

  it('a value that is not a level fails (levels are lower case)', () => {
    expect(podSecurityProblem({ [ENFORCE_LABEL]: 'Baseline' }, 'baseline')).to.equal(
      `${ENFORCE_LABEL}=Baseline is not a Pod Security level (privileged, baseline or restricted)`,
    );
  });

  it('an exemption by name or by the Namespace’s labels applies until its expiry day, with its reason', () => {
    const yaml = [
      'exemptions:',
      `  - { rule: ${NAMESPACE_POD_SECURITY}, namespaces: [kube-system], reason: "CNI and CSI node agents", expires: 2027-01-01 }`,
      `  - { rule: ${NAMESPACE_POD_SECURITY}, labels: { team: infra }, reason: "infra tooling" }`,
      `  - { rule: ${NAMESPACE_POD_SECURITY}, namespaces: [legacy], reason: "was until the migration", expires: 2026-11-22 }`,
      `  - { rule: workload.privileged, namespaces: [other], reason: "another rule's exemption" }`,
    ].join('\n');
    const audit = auditNamespaces(
      [ns('kube-system'), ns('tools', 'privileged', { team: 'infra' }), ns('legacy'), ns('other')],
      policyFrom(`${yaml}\n`),
      null,
      NOW,
    );
    expect(audit.violations.map((violation) => violation.namespace)).to.deep.equal(['legacy', 'other']);
    expect(audit.exempted.map((entry) => `${entry.namespace}: ${entry.reason} (${entry.expires ?? 'no expiry'})`)).to.deep.equal([
      'kube-system: CNI and CSI node agents (2027-01-01)',
      'tools: infra tooling (no expiry)',
    ]);
    // The exemption for kube-system ends at the start of its expiry day (UTC).
    const later = auditNamespaces([ns('kube-system')], policyFrom(`${yaml}\n`), null, Date.parse('2027-01-01T00:00:00Z'));
    expect(later.violations.map((violation) => violation.namespace)).to.deep.equal(['kube-system']);
  });

  it('the agent’s own namespace is exempt by design; the violation has no pod or container', () => {
    const audit = auditNamespaces([ns('kube-harden', 'privileged'), ns('shop')], policyFrom(), 'kube-harden', NOW);
    expect(audit.violations).to.deep.equal([
      {
        rule: NAMESPACE_POD_SECURITY,
        namespace: 'shop',
        pod: null,
        container: null,
        message: `no ${ENFORCE_LABEL} label: Pod Security Admission applies the cluster default, privileged unless the API server's PodSecurity configuration sets another (the policy asks for baseline or stricter)`,
      },
    ]);
    expect(audit.exempted.map((entry) => entry.namespace)).to.deep.equal(['kube-harden']);
    expect(audit.namespaces).to.equal(2);
  });

  it('off by policy: nothing is judged', () => {
    expect(judged([ns('none')], `rules:\n  ${NAMESPACE_POD_SECURITY}: { enabled: false }\n`)).to.deep.equal([]);
  });

  it('the policy value is baseline or restricted; privileged is refused with the way to turn the rule off', () => {
    const parse = (value: string) =>
      parsePolicy(
        `apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  ${NAMESPACE_POD_SECURITY}: { value: ${value} }\n`,
        'p.yaml',
        RULE_VALUE_SPECS,
      );
    expect(parse('restricted').ok).to.equal(true);
    const refused = parse('privileged');
    expect(refused.ok).to.equal(false);
    expect(refused.ok ? [] : refused.errors).to.deep.equal([
      `p.yaml: rules.${NAMESPACE_POD_SECURITY}.value: must be baseline or restricted (privileged restricts nothing: turn the rule off with enabled: false instead) (expected the least restrictive level a namespace may enforce: baseline or restricted)`,
    ]);
  });
});
