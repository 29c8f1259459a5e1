import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { runCli } from '../../../agent/cli/index.js';
import type { ClusterApi } from '../../../agent/cluster/api.js';
import { clusterApi, loadKubeConfig } from '../../../agent/cluster/client.js';
import { PolicyReportWriter } from '../../../agent/cluster/policy-reports.js';
import type { Finding } from '../../../agent/core/finding.js';
import type { ClusterPolicyReport } from '../../../agent/core/policy-report.js';
import type { Logger } from '../../../agent/telemetry/logger.js';
import { FakeApiServer } from '../../fakes/fake-api-server.js';
import { fleetHooks, simulatedNode } from '../../helpers/fleet.js';
import { tempDir, testCli } from '../../helpers/host.js';

/** A logger that keeps (level, message) pairs. */
function recordingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const at = (level: string) => (message: string) => lines.push(`${level} ${message}`);
  return { logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } as unknown as Logger, lines };
}

const finding = (id: string, status: Finding['status']): Finding => ({
  id,
  title: id,
  status,
  expected: '0',
  actual: status === 'pass' ? '0' : '10255',
  source: '/etc/default/kubelet',
  cis: ['4.2.4'],
  remediable: true,
  message: '',
});

const writes = (server: FakeApiServer) =>
  server.requests.filter((request) => request.path.includes('clusterpolicyreports') && (request.method === 'POST' || request.method === 'PUT'));

describe('ClusterPolicyReport writer: the real client against the fake API server', () => {
  let server: FakeApiServer;
  let api: ClusterApi;
  beforeEach(async () => {
    server = await new FakeApiServer().start();
    server.putNode('node-a');
    api = clusterApi(loadKubeConfig({ kind: 'kubeconfig', path: await server.kubeconfig() }));
  });
  afterEach(() => server.stop());

  it('creates the report, writes nothing while nothing changes, replaces it on change', async () => {
    const availability: boolean[] = [];
    const { logger } = recordingLogger();
    const writer = new PolicyReportWriter(api.policyReports, api.nodes, {
      nodeName: 'node-a',
      logger,
      retryMs: 1000,
      onAvailability: (unavailable) => availability.push(unavailable),
    });
    expect(await writer.write([finding('kubelet.read-only-port', 'fail')], 'h1', 1_000_000)).to.equal('created');
    const stored = server.get('clusterpolicyreports', '', 'kube-harden-node-a') as unknown as ClusterPolicyReport;
    expect(stored.summary).to.deep.include({ fail: 1, pass: 0 });
    expect(stored.metadata.ownerReferences).to.deep.equal([{ apiVersion: 'v1', kind: 'Node', name: 'node-a', uid: 'uid-node-a' }]);
    expect(await writer.write([finding('kubelet.read-only-port', 'fail')], 'h1', 2_000_000)).to.equal('unchanged');
    expect(writes(server)).to.have.length(1);
    expect(await writer.write([finding('kubelet.read-only-port', 'pass')], 'h1', 3_000_000)).to.equal('replaced');
    expect((server.get('clusterpolicyreports', '', 'kube-harden-node-a') as unknown as ClusterPolicyReport).summary).to.deep.include({
      pass: 1,
      fail: 0,
    });
    expect(writes(server).map((request) => request.method)).to.deep.equal(['POST', 'PUT']);
    expect(availability.every((unavailable) => !unavailable)).to.equal(true);

    // A new agent process finds the report of the last one and writes nothing for the same findings.
    const restarted = new PolicyReportWriter(api.policyReports, api.nodes, {
      nodeName: 'node-a',
      logger,
      retryMs: 1000,
      onAvailability: () => undefined,
    });
    expect(await restarted.write([finding('kubelet.read-only-port', 'pass')], 'h1', 9_000_000)).to.equal('unchanged');
    // Someone replaced the report meanwhile: the stale resourceVersion conflicts once, then the writer re-reads and wins.
    server.put('clusterpolicyreports', server.get('clusterpolicyreports', '', 'kube-harden-node-a')!);
    expect(await restarted.write([finding('kubelet.read-only-port', 'fail')], 'h1', 9_500_000)).to.equal('replaced');
    expect((server.get('clusterpolicyreports', '', 'kube-harden-node-a') as unknown as ClusterPolicyReport).summary.fail).to.equal(1);
  });

  it('without the CRD: one log line, the metric says so, nothing thrown; retried later and written once the CRD exists', async () => {
    server.policyReportCrd = false;
    const availability: boolean[] = [];
    const { logger, lines } = recordingLogger();
    const writer = new PolicyReportWriter(api.policyReports, api.nodes, {
      nodeName: 'node-a',
      logger,
      retryMs: 60_000,
      onAvailability: (unavailable) => availability.push(unavailable),
    });
    for (const now of [0, 10_000, 20_000, 70_000])
      expect(await writer.write([finding('kubelet.read-only-port', 'fail')], 'h1', now)).to.equal('unavailable');
    expect(lines.filter((line) => line.startsWith('warn'))).to.deep.equal([
      'warn ClusterPolicyReport not written: the wgpolicyk8s.io CRD is not installed',
    ]);
    expect(availability.at(-1)).to.equal(true);
    // Between retries no request is sent at all.
    expect(server.requests.filter((request) => request.path.includes('clusterpolicyreports'))).to.have.length(2);
    server.policyReportCrd = true;
    expect(await writer.write([finding('kubelet.read-only-port', 'fail')], 'h1', 100_000)).to.equal('unavailable');
    expect(await writer.write([finding('kubelet.read-only-port', 'fail')], 'h1', 140_000)).to.equal('created');
    expect(availability.at(-1)).to.equal(false);
    expect(lines).to.include('info ClusterPolicyReport CRD found, writing reports');
  });

  it('lists the reports kube-harden wrote, and a list without the CRD is a ResourceMissingError', async () => {
    server.put('clusterpolicyreports', { metadata: { name: 'other', labels: { 'app.kubernetes.io/managed-by': 'kyverno' } } });
    const writer = new PolicyReportWriter(api.policyReports, api.nodes, {
      nodeName: 'node-a',
      logger: recordingLogger().logger,
      retryMs: 1,
      onAvailability: () => undefined,
    });
    await writer.write([finding('kubelet.read-only-port', 'fail')], 'h1', 0);
    expect((await api.policyReports.list()).map((report) => report.metadata.name)).to.deep.equal(['kube-harden-node-a']);
    server.policyReportCrd = false;
    const error = await api.policyReports.list().catch((caught: unknown) => caught);
    expect((error as Error).name).to.equal('ResourceMissingError');
  });
});

describe('ClusterPolicyReport from the daemon', function () {
  this.timeout(60_000);
  const fleet = fleetHooks();

  function auditPolicy(): string {
    const file = path.join(tempDir('kh-policy-'), 'policy.yaml');
    writeFileSync(file, 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nmode: audit\n');
    return file;
  }

  it("matches the node's audit, is rewritten only on change, and a missing CRD breaks nothing else", async () => {
    const policy = auditPolicy();
    const node = await simulatedNode(fleet.server, 'worker-1', policy);
    fleet.nodes.push(node);
    await node.daemon.start();
    const report = fleet.server.get('clusterpolicyreports', '', 'kube-harden-worker-1') as unknown as ClusterPolicyReport;
    expect(report, 'report written').to.not.equal(undefined);

    const cli = testCli();
    await runCli(
      [
        'audit',
        '--output',
        'json',
        '--host-root',
        node.root,
        '--node-ip',
        '10.0.0.10',
        '--kubelet-version',
        'v1.31.4',
        '--plugin-dir',
        '/nonexistent',
      ],
      cli.deps,
    );
    const audit = JSON.parse(cli.stdout()) as { results: Finding[]; summary: Record<string, number> };
    const asReport = { pass: 'pass', fail: 'fail', unknown: 'error', skip: 'skip' } as const;
    expect(report.results.map((result) => `${result.policy}=${result.result}`)).to.deep.equal(
      audit.results.map((result) => `${result.id}=${asReport[result.status]}`),
    );
    expect(report.summary).to.deep.equal({
      pass: audit.summary.pass,
      fail: audit.summary.fail,
      warn: 0,
      error: audit.summary.unknown,
      skip: audit.summary.skip,
    });
    expect(report.summary.fail).to.be.greaterThan(0);

    const before = writes(fleet.server).length;
    node.daemon.trigger('resync');
    await node.daemon.settled();
    expect(writes(fleet.server)).to.have.length(before);

    // Without the CRD a second node still reconciles and annotates its state.
    fleet.server.policyReportCrd = false;
    const other = await simulatedNode(fleet.server, 'worker-2', policy);
    fleet.nodes.push(other);
    await other.daemon.start();
    expect((fleet.server.node('worker-2')!.metadata.annotations as Record<string, string>)['kube-harden.io/state']).to.equal('drifted');
    expect(await other.metrics.text()).to.match(/\nkube_harden_policy_report_unavailable 1\n/);
    expect(await node.metrics.text()).to.match(/\nkube_harden_policy_report_unavailable 0\n/);
  });
});
