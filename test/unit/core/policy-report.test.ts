import { expect } from 'chai';
import type { Finding } from '../../../agent/core/finding.js';
import { buildPolicyReport, categoryOf, reportContentKey, severityOf } from '../../../agent/core/policy-report.js';

const finding = (id: string, status: Finding['status'], extra: Partial<Finding> = {}): Finding => ({
  id,
  title: `${id} title`,
  status,
  expected: 'x',
  actual: 'y',
  source: '/var/lib/kubelet/config.yaml',
  cis: [],
  remediable: true,
  message: `${id} message`,
  ...extra,
});

const FINDINGS: Finding[] = [
  finding('kubelet.anonymous-auth', 'pass', { cis: ['4.2.1'], expected: 'false', actual: 'false' }),
  finding('kubelet.read-only-port', 'fail', { cis: ['4.2.4'], expected: '0', actual: '10255', source: '/etc/default/kubelet' }),
  finding('kubelet.address', 'unknown', { source: null, message: '' }),
  finding('files.control-plane-permissions', 'skip', { cis: ['1.1.1', '1.1.2'] }),
  finding('kernel.version', 'pass'),
];

const NODE = { name: 'worker-1', uid: 'uid-worker-1' };

describe('PolicyReport builder (wgpolicyk8s.io/v1alpha2 ClusterPolicyReport)', () => {
  const report = buildPolicyReport({ node: NODE, findings: FINDINGS, policyHash: 'abc123', nowMs: 1_700_000_000_500, previous: null });

  it('is a ClusterPolicyReport scoped to the Node, owned by it, named after it', () => {
    expect(report).to.deep.include({ apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'ClusterPolicyReport' });
    expect(report.scope).to.deep.equal({ apiVersion: 'v1', kind: 'Node', name: 'worker-1', uid: 'uid-worker-1' });
    expect(report.metadata).to.deep.equal({
      name: 'kube-harden-worker-1',
      labels: { 'app.kubernetes.io/managed-by': 'kube-harden', 'kube-harden.io/node': 'worker-1' },
      annotations: { 'kube-harden.io/policy-hash': 'abc123' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'worker-1', uid: 'uid-worker-1' }],
    });
    const noUid = buildPolicyReport({ node: { name: 'n', uid: null }, findings: [], policyHash: 'h', nowMs: 0, previous: null });
    expect(noUid.metadata).to.not.have.property('ownerReferences');
    expect(noUid.scope).to.deep.equal({ apiVersion: 'v1', kind: 'Node', name: 'n' });
  });

  it('one result per rule: policy = rule ID, rule = CIS IDs, category = CIS section, unknown = error', () => {
    expect(report.results.map((result) => [result.policy, result.result, result.rule ?? null, result.category])).to.deep.equal([
      ['kubelet.anonymous-auth', 'pass', '4.2.1', 'CIS 4.2 Kubelet'],
      ['kubelet.read-only-port', 'fail', '4.2.4', 'CIS 4.2 Kubelet'],
      ['kubelet.address', 'error', null, 'kube-harden kubelet'],
      ['files.control-plane-permissions', 'skip', '1.1.1, 1.1.2', 'CIS 1.1 Control Plane Node Configuration Files'],
      ['kernel.version', 'pass', null, 'kube-harden kernel'],
    ]);
    expect(report.summary).to.deep.equal({ pass: 2, fail: 1, warn: 0, error: 1, skip: 1 });
  });

  it('carries severity, message (the title when empty), expected/actual/source properties and the time', () => {
    const failing = report.results[1]!;
    expect(failing).to.deep.equal({
      source: 'kube-harden',
      policy: 'kubelet.read-only-port',
      rule: '4.2.4',
      category: 'CIS 4.2 Kubelet',
      severity: 'high',
      result: 'fail',
      scored: true,
      message: 'kubelet.read-only-port message',
      properties: { expected: '0', actual: '10255', source: '/etc/default/kubelet', remediable: 'true' },
      timestamp: { seconds: 1_700_000_000, nanos: 0 },
    });
    expect(report.results[2]!.message).to.equal('kubelet.address title');
    expect(report.results[2]!.properties).to.not.have.property('source');
  });

  const severities: [string, string][] = [
    ['kubelet.anonymous-auth', 'high'],
    ['workload.privileged', 'high'],
    ['kubelet.tls-min-version', 'medium'],
    ['scheduler.profiling', 'low'],
    ['kernel.version', 'low'],
  ];
  for (const [id, severity] of severities) it(`severity of ${id} is ${severity}`, () => expect(severityOf(id)).to.equal(severity));

  it('category of a check outside the tables keeps its section number', () => {
    expect(categoryOf({ id: 'etcd.x', cis: ['2.1'] })).to.equal('CIS 2 etcd');
    expect(categoryOf({ id: 'x.y', cis: ['9.9.9'] })).to.equal('CIS 9.9');
  });

  it('an unchanged node gives the same content; unchanged results keep their timestamp, changed ones get the new time', () => {
    const later = buildPolicyReport({ node: NODE, findings: FINDINGS, policyHash: 'abc123', nowMs: 1_800_000_000_000, previous: report });
    expect(later).to.deep.equal(report);
    expect(reportContentKey(later)).to.equal(reportContentKey(report));
    const fixed = FINDINGS.map((entry) => (entry.id === 'kubelet.read-only-port' ? { ...entry, status: 'pass' as const, actual: '0' } : entry));
    const after = buildPolicyReport({ node: NODE, findings: fixed, policyHash: 'abc123', nowMs: 1_800_000_000_000, previous: report });
    expect(reportContentKey(after)).to.not.equal(reportContentKey(report));
    expect(after.results[1]!.timestamp.seconds).to.equal(1_800_000_000);
    expect(after.results[0]!.timestamp.seconds).to.equal(1_700_000_000);
    expect(after.summary).to.deep.equal({ pass: 3, fail: 0, warn: 0, error: 1, skip: 1 });
  });

  it('the content key ignores timestamps and server fields but not a new policy', () => {
    const stored = {
      ...report,
      metadata: { ...report.metadata, resourceVersion: '42', uid: 'x', creationTimestamp: 'now' },
      results: report.results.map((result) => ({ ...result, timestamp: { seconds: 1, nanos: 5 } })),
    };
    expect(reportContentKey(stored)).to.equal(reportContentKey(report));
    const newPolicy = buildPolicyReport({ node: NODE, findings: FINDINGS, policyHash: 'def456', nowMs: 0, previous: report });
    expect(reportContentKey(newPolicy)).to.not.equal(reportContentKey(report));
  });
});
