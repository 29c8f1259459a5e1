import { expect } from 'chai';
import { parse } from 'yaml';
import { parsePolicy } from '../../../agent/core/policy.js';
import { admissionConfiguration, DEFAULT_EVENT_LIMITS, mergeEventRateLimit } from '../../../agent/rules/control-plane/admission.js';
import { RULE_VALUE_SPECS } from '../../../agent/rules/index.js';

const POD_SECURITY = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
# Cluster-wide Pod Security defaults (set by the platform team).
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
`;

describe('EventRateLimit admission configuration', () => {
  it('writes a complete AdmissionConfiguration with non-empty limits', () => {
    const config = parse(admissionConfiguration(DEFAULT_EVENT_LIMITS)) as {
      kind: string;
      plugins: Array<{ name: string; configuration: { kind: string; limits: unknown[] } }>;
    };
    expect(config.kind).to.equal('AdmissionConfiguration');
    expect(config.plugins[0]!.configuration.kind).to.equal('Configuration');
    expect(config.plugins[0]!.configuration.limits).to.have.length(3);
  });

  it('merges into an existing AdmissionConfiguration, keeping its plugins and comments', () => {
    const merged = mergeEventRateLimit(POD_SECURITY, DEFAULT_EVENT_LIMITS);
    expect(merged.startsWith(POD_SECURITY.trimEnd())).to.equal(true);
    const config = parse(merged) as { plugins: Array<{ name: string }> };
    expect(config.plugins.map((plugin) => plugin.name)).to.deep.equal(['PodSecurity', 'EventRateLimit']);
    expect(mergeEventRateLimit(merged, DEFAULT_EVENT_LIMITS)).to.equal(merged);
  });

  it('refuses limits that would stop the apiserver', () => {
    const policy = (limits: string) =>
      parsePolicy(
        `apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  apiserver.event-rate-limit: { value: { limits: ${limits} } }\n`,
        'p',
        RULE_VALUE_SPECS,
      );
    expect(policy('[]').ok).to.equal(false);
    expect(policy('[{ type: Server, qps: 0, burst: 10 }]').ok).to.equal(false);
    expect(policy('[{ type: Server, qps: 5, burst: 10, cacheSize: 100 }]').ok).to.equal(false);
    expect(policy('[{ type: Namespace, qps: 5, burst: 10, cacheSize: 100 }]').ok).to.equal(true);
  });
});
