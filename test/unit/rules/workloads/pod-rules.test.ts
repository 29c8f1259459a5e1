import { expect } from 'chai';
import { policyFrom } from '../../../helpers/policy.js';
import { defaultPolicy, parsePolicy, type Policy } from '../../../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../../../agent/rules/index.js';
import type { ContainerLike, PodLike } from '../../../../agent/rules/workloads/pod-view.js';
import { auditWorkloads } from '../../../../agent/rules/workloads/pod-rules.js';

/** A pod that passes every seed rule; each case breaks one thing. */
const hardened: ContainerLike = {
  name: 'app',
  securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
  resources: { limits: { cpu: '500m', memory: '256Mi' } },
};

function pod(
  change: (spec: { -readonly [K in keyof PodLike['spec']]: PodLike['spec'][K] }, container: Record<string, unknown>) => void,
  meta: Partial<PodLike['metadata']> = {},
): PodLike {
  const container = JSON.parse(JSON.stringify(hardened)) as Record<string, unknown>;
  const spec = { containers: [container as unknown as ContainerLike] } as { -readonly [K in keyof PodLike['spec']]: PodLike['spec'][K] };
  change(spec, container);
  return { metadata: { name: 'web-1', namespace: 'shop', ...meta }, spec, status: { phase: 'Running' } };
}

const sc = (container: Record<string, unknown>) => container.securityContext as Record<string, unknown>;
const NOW = Date.parse('2026-11-22T12:00:00Z');
const policy = defaultPolicy(RULE_VALUE_SPECS);

function rulesOf(pods: PodLike[], with_: Policy = policy): string[] {
  return auditWorkloads(pods, with_, null, NOW).violations.map((violation) => `${violation.rule}: ${violation.message}`);
}

describe('workload audit: the seed rules', () => {
  it('a hardened pod has no violations', () => {
    expect(rulesOf([pod(() => undefined)])).to.deep.equal([]);
  });

  const cases: [string, Parameters<typeof pod>[0], string][] = [
    ['privileged', (_s, c) => (sc(c).privileged = true), 'workload.privileged: privileged: true'],
    ['host namespaces', (s) => Object.assign(s, { hostNetwork: true, hostPID: true }), 'workload.host-namespaces: hostNetwork, hostPID: true'],
    ['runAsUser 0', (_s, c) => Object.assign(sc(c), { runAsUser: 0 }), 'workload.run-as-non-root: runAsUser: 0'],
    [
      'no user setting at all',
      (_s, c) => delete sc(c).runAsNonRoot,
      'workload.run-as-non-root: neither runAsNonRoot: true nor a non-zero runAsUser (the image may run as root)',
    ],
    [
      'capability beyond the allowed set',
      (_s, c) => (sc(c).capabilities = { add: ['NET_ADMIN', 'CAP_NET_BIND_SERVICE'] }),
      'workload.capabilities: adds NET_ADMIN',
    ],
    ['no memory limit', (_s, c) => (c.resources = { limits: { cpu: '1' } }), 'workload.resource-limits: no memory limit'],
    [
      'containerd socket',
      (s) => (s.volumes = [{ name: 'sock', hostPath: { path: '/run/containerd/containerd.sock' } }]),
      'workload.docker-socket: volume sock mounts /run/containerd/containerd.sock',
    ],
    [
      '/var/run holds the docker socket',
      (s) => (s.volumes = [{ name: 'run', hostPath: { path: '/var/run/' } }]),
      'workload.docker-socket: volume run mounts /var/run/docker.sock (through /var/run/)',
    ],
    [
      'writable root filesystem',
      (_s, c) => delete sc(c).readOnlyRootFilesystem,
      'workload.read-only-root-filesystem: readOnlyRootFilesystem is not true',
    ],
    [
      'privilege escalation unset',
      (_s, c) => delete sc(c).allowPrivilegeEscalation,
      'workload.allow-privilege-escalation: allowPrivilegeEscalation is not false',
    ],
  ];
  for (const [name, change, expected] of cases)
    it(`flags ${name}`, () => {
      expect(rulesOf([pod(change)])).to.deep.equal([expected]);
    });

  it('checks init containers too, and a pod-level runAsUser counts for every container', () => {
    const withInit = pod(
      (s) => (s.initContainers = [{ ...hardened, name: 'init', securityContext: { ...hardened.securityContext, privileged: true } }]),
    );
    expect(auditWorkloads([withInit], policy, null, NOW).violations.map((v) => `${v.rule}/${v.container}`)).to.deep.equal([
      'workload.privileged/init',
    ]);
    const podLevel = pod((s, c) => {
      delete sc(c).runAsNonRoot;
      s.securityContext = { runAsUser: 1000 };
    });
    expect(rulesOf([podLevel])).to.deep.equal([]);
  });

  it('an allowed capability from the policy passes; a disabled rule is not checked', () => {
    const netAdmin = pod((_s, c) => (sc(c).capabilities = { add: ['NET_ADMIN'] }));
    expect(rulesOf([netAdmin], policyFrom('rules:\n  workload.capabilities: { value: [NET_ADMIN] }\n'))).to.deep.equal([]);
    expect(rulesOf([netAdmin], policyFrom('rules:\n  workload.capabilities: { enabled: false }\n'))).to.deep.equal([]);
  });

  it('exemptions match rule, namespace and labels, and end at the start of their expiry day', () => {
    const privileged = (namespace: string, labels: Record<string, string>) => pod((_s, c) => (sc(c).privileged = true), { namespace, labels });
    const exempting = policyFrom(
      [
        'exemptions:',
        '  - { rule: workload.privileged, namespaces: [kube-system], reason: "CNI agents", expires: 2027-01-01 }',
        '  - { rule: workload.privileged, labels: { app: node-exporter }, reason: "reads host metrics", expires: 2026-11-22 }',
        '',
      ].join('\n'),
    );
    const audit = auditWorkloads(
      [privileged('kube-system', {}), privileged('monitoring', { app: 'node-exporter' }), privileged('shop', {})],
      exempting,
      null,
      NOW,
    );
    expect(audit.exempted.map((v) => `${v.namespace}: ${v.reason}`)).to.deep.equal(['kube-system: CNI agents']);
    // The node-exporter exemption expired at 2026-11-22T00:00Z.
    expect(audit.violations.map((v) => v.namespace)).to.deep.equal(['monitoring', 'shop']);
  });

  it("skips the agent's own pod and finished pods", () => {
    const agent = pod((_s, c) => (sc(c).privileged = true), { namespace: 'kube-harden', name: 'kube-harden-x7' });
    const done: PodLike = { ...pod((_s, c) => (sc(c).privileged = true)), status: { phase: 'Succeeded' } };
    const audit = auditWorkloads([agent, done], policy, { namespace: 'kube-harden', name: 'kube-harden-x7' }, NOW);
    expect(audit.violations).to.deep.equal([]);
    expect(audit.pods).to.equal(0);
  });

  it('the policy refuses exemptions without a selector, for node rules, or with bad labels', () => {
    const result = parsePolicy(
      [
        'apiVersion: kube-harden.io/v1alpha1',
        'kind: HardeningPolicy',
        'exemptions:',
        '  - { rule: workload.privileged, reason: everything }',
        '  - { rule: kubelet.address, namespaces: [a], reason: x }',
        '  - { rule: workload.privileged, labels: [a], reason: x }',
        '',
      ].join('\n'),
      'p.yaml',
      RULE_VALUE_SPECS,
    );
    expect(result.ok).to.equal(false);
    const errors = result.ok ? '' : result.errors.join('\n');
    expect(errors).to.contain('exemptions[0]: needs namespaces or labels');
    expect(errors).to.contain('exemptions[1].rule: exemptions apply to workload rules only');
    expect(errors).to.contain('exemptions[2].labels: must be a mapping');
  });
});
