import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../../agent/cli/index.js';
import type { Finding } from '../../../agent/core/finding.js';
import { buildPolicyReport } from '../../../agent/core/policy-report.js';
import { FakeApiServer } from '../../fakes/fake-api-server.js';
import { cleanupTempDirs, copyFixture, testCli } from '../../helpers/host.js';

/** testCli's clock. */
const NOW = Date.parse('2026-11-22T12:00:00Z');

const finding = (id: string, status: Finding['status'], cis: string[] = []): Finding => ({
  id,
  title: id,
  status,
  expected: 'x',
  actual: 'y',
  source: null,
  cis,
  remediable: true,
  message: '',
});

/** Failing rules per node; the rest of the five rules pass. */
const FLEET: Record<string, { state: string; failing: [string, Finding['status']][] }> = {
  'node-1': { state: 'compliant', failing: [] },
  'node-2': { state: 'compliant', failing: [] },
  'node-3': { state: 'compliant', failing: [] },
  'node-4': { state: 'drifted', failing: [['kubelet.read-only-port', 'fail']] },
  'node-5': {
    state: 'degraded',
    failing: [
      ['kubelet.read-only-port', 'fail'],
      ['kubelet.tls-min-version', 'fail'],
      ['kubelet.address', 'unknown'],
    ],
  },
};
const RULES: [string, string[]][] = [
  ['kubelet.read-only-port', ['4.2.4']],
  ['kubelet.tls-min-version', []],
  ['kubelet.address', []],
  ['kubelet.anonymous-auth', ['4.2.1']],
  ['kernel.version', []],
];

/** Five nodes as their agents would leave them: annotations, a ClusterPolicyReport each, node-5 holding restart slot 0. */
function publishFleet(server: FakeApiServer, crd = true): void {
  for (const [name, { state, failing }] of Object.entries(FLEET)) {
    server.putNode(name);
    server.node(name)!.metadata.annotations = {
      'kube-harden.io/state': state,
      'kube-harden.io/last-reconcile': new Date(NOW - 60_000).toISOString(),
    };
    const findings = RULES.map(([id, cis]) => finding(id, failing.find(([rule]) => rule === id)?.[1] ?? 'pass', cis));
    if (crd)
      server.put(
        'clusterpolicyreports',
        buildPolicyReport({ node: { name, uid: `uid-${name}` }, findings, policyHash: 'h', nowMs: NOW, previous: null }) as never,
      );
  }
  server.put('leases', {
    metadata: { name: 'kube-harden-restart-0', namespace: 'kube-harden' },
    spec: { holderIdentity: 'node-5', leaseDurationSeconds: 60, renewTime: new Date(NOW - 5_000).toISOString() },
  });
  // An expired slot of a node that finished: not held.
  server.put('leases', {
    metadata: { name: 'kube-harden-restart-1', namespace: 'kube-harden' },
    spec: { holderIdentity: 'node-2', leaseDurationSeconds: 60, renewTime: new Date(NOW - 3_600_000).toISOString() },
  });
  server.policyReportCrd = crd;
}

describe('kube-harden report: a five-node fleet with one degraded node on the fake API server', () => {
  let server: FakeApiServer;
  beforeEach(async () => {
    server = await new FakeApiServer().start();
  });
  afterEach(() => server.stop());

  it('table: states, failing rules with node counts, the rollout and its stuck node; exit 1', async () => {
    publishFleet(server);
    const cli = testCli();
    expect(await runCli(['report', '--kubeconfig', await server.kubeconfig()], cli.deps)).to.equal(1);
    const lines = cli.stdout().split('\n');
    expect(lines[0]).to.equal('Fleet: 5 node(s): 3 compliant, 1 drifted, 0 remediating, 0 held, 1 degraded, 0 unknown');
    expect(lines.find((line) => line.startsWith('node-5'))).to.match(/^node-5 +degraded +2 +1 +holds kube-harden-restart-0$/);
    expect(lines.find((line) => line.startsWith('node-1'))).to.match(/^node-1 +compliant +0 +0$/);
    expect(lines.find((line) => line.startsWith('kubelet.read-only-port'))).to.match(/^kubelet.read-only-port +4.2.4 +high +2 +node-4, node-5$/);
    expect(lines.find((line) => line.startsWith('kubelet.tls-min-version'))).to.match(/ 1 +node-5$/);
    expect(lines.find((line) => line.startsWith('kubelet.address'))).to.match(/ 0\+1\? +node-5$/);
    expect(lines).to.include('Rollout: 3/5 compliant; restart slots held: kube-harden-restart-0 by node-5');
    expect(lines.some((line) => line.startsWith('STUCK: node-5 is degraded and holds a restart slot'))).to.equal(true);
  });

  it('json: the same view for scripts', async () => {
    publishFleet(server);
    const cli = testCli();
    expect(await runCli(['report', '--output', 'json', '--kubeconfig', await server.kubeconfig()], cli.deps)).to.equal(1);
    const view = JSON.parse(cli.stdout()) as {
      states: Record<string, number>;
      failingRules: { rule: string; fail: number; error: number; nodes: string[] }[];
      rollout: { total: number; compliant: number; slotsHeld: { slot: string; node: string }[]; stuck: string[] };
      failing: boolean;
      nodes: { name: string; state: string }[];
    };
    expect(view.states).to.deep.equal({ compliant: 3, drifted: 1, remediating: 0, held: 0, degraded: 1, unknown: 0 });
    expect(view.failingRules.map((rule) => [rule.rule, rule.fail, rule.error, rule.nodes])).to.deep.equal([
      ['kubelet.read-only-port', 2, 0, ['node-4', 'node-5']],
      ['kubelet.address', 0, 1, ['node-5']],
      ['kubelet.tls-min-version', 1, 0, ['node-5']],
    ]);
    expect(view.rollout).to.deep.equal({ total: 5, compliant: 3, slotsHeld: [{ slot: 'kube-harden-restart-0', node: 'node-5' }], stuck: ['node-5'] });
    expect(view.failing).to.equal(true);
  });

  it('without the CRD: states from the annotations, the rules not counted (said so), still exit 1', async () => {
    publishFleet(server, false);
    const cli = testCli();
    expect(await runCli(['report', '--kubeconfig', await server.kubeconfig()], cli.deps)).to.equal(1);
    expect(cli.stdout()).to.contain('3 compliant, 1 drifted').and.contain('Failing rules: unknown (no ClusterPolicyReports');
  });

  it('a compliant fleet exits 0; a silent agent is unknown', async () => {
    for (const name of ['a', 'b']) {
      server.putNode(name);
      server.node(name)!.metadata.annotations = { 'kube-harden.io/state': 'compliant', 'kube-harden.io/last-reconcile': new Date(NOW).toISOString() };
      server.put(
        'clusterpolicyreports',
        buildPolicyReport({
          node: { name, uid: null },
          findings: [finding('kernel.version', 'pass')],
          policyHash: 'h',
          nowMs: NOW,
          previous: null,
        }) as never,
      );
    }
    const cli = testCli();
    expect(await runCli(['report', '--kubeconfig', await server.kubeconfig()], cli.deps)).to.equal(0);
    expect(cli.stdout()).to.contain('Failing rules: none').and.contain('Rollout: 2/2 compliant; restart slots held: none');
    server.node('b')!.metadata.annotations = {
      'kube-harden.io/state': 'compliant',
      'kube-harden.io/last-reconcile': new Date(NOW - 3_600_000).toISOString(),
    };
    server.putNode('c');
    const again = testCli();
    expect(await runCli(['report', '--kubeconfig', await server.kubeconfig()], again.deps)).to.equal(1);
    expect(again.stdout())
      .to.match(/\nb +unknown .*agent silent/)
      .and.match(/\nc +unknown .*no kube-harden.io\/state annotation/);
    expect(again.stdout()).to.contain('No ClusterPolicyReport yet: c');
  });

  it('a malformed kubeconfig, or one whose API server does not answer, is one line and exit 2 (not 1, which means a failing fleet)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'kh-kubeconfig-'));
    const malformed = path.join(dir, 'malformed');
    writeFileSync(malformed, 'garbage: [\n');
    const refused = path.join(dir, 'refused');
    writeFileSync(
      refused,
      'apiVersion: v1\nkind: Config\nclusters: [{ name: c, cluster: { server: "https://127.0.0.1:1", insecure-skip-tls-verify: true } }]\nusers: [{ name: u, user: { token: t } }]\ncontexts: [{ name: x, context: { cluster: c, user: u } }]\ncurrent-context: x\n',
    );
    try {
      for (const [file, says] of [
        [malformed, `cannot load --kubeconfig ${malformed}: `],
        [refused, `cannot read the fleet with --kubeconfig ${refused}: `],
      ] as const) {
        const cli = testCli();
        expect(await runCli(['report', '--kubeconfig', file], cli.deps), file).to.equal(2);
        const err = cli.err.join('');
        expect(err).to.contain(says);
        expect(err.trimEnd().split('\n'), err).to.have.length(1);
      }
      const audit = testCli();
      const root = copyFixture('kubeadm-worker');
      expect(await runCli(['audit', '--host-root', root, '--node-name', 'n', '--kubeconfig', malformed], audit.deps)).to.equal(2);
      const lines = audit.err.join('').trimEnd().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(new RegExp(`^kube-harden audit: cannot load --kubeconfig ${malformed}: unexpected end of the stream`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      cleanupTempDirs();
    }
  });

  it('a missing kubeconfig is a usage error', async () => {
    const cli = testCli({ env: { KUBECONFIG: '/nonexistent/kubeconfig' } });
    expect(await runCli(['report'], cli.deps)).to.equal(2);
    expect(cli.err.join('')).to.contain('/nonexistent/kubeconfig: no such file');
  });
});
