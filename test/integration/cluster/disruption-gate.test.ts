import { expect } from 'chai';
import http from 'node:http';
import type { ClusterApi } from '../../../agent/cluster/api.js';
import { clusterApi, loadKubeConfig } from '../../../agent/cluster/client.js';
import { createDisruptionGate, daemonDisruptionGate } from '../../../agent/cluster/disruption-gate.js';
import { httpAlertSource } from '../../../agent/cluster/prometheus-alerts.js';
import { parsePolicy, type Policy } from '../../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../../agent/rules/index.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { AgentMetrics } from '../../../agent/telemetry/metrics.js';
import { FakeApiServer } from '../../fakes/fake-api-server.js';

const HEAD = 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\n';

function policyFrom(restarts: string): Policy {
  const result = parsePolicy(`${HEAD}restarts:\n${restarts}`, 'policy.yaml', RULE_VALUE_SPECS);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.policy;
}

describe('disruption gate over the real client against the fake API server', () => {
  let server: FakeApiServer;
  let api: ClusterApi;
  let policy: Policy;
  const gate = () =>
    createDisruptionGate({
      policy: () => policy.restarts,
      nodeName: 'node-a',
      cluster: api,
      daemonSet: { namespace: 'kube-harden', name: 'kube-harden' },
      alerts: httpAlertSource,
      logger: silentLogger(),
    });
  const putDaemonSet = (annotations: Record<string, string>) => server.putAgentDaemonSet(annotations);
  const putPod = (name: string, node: string, labels: Record<string, string>, phase = 'Running') =>
    server.putPod({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: 'batch', labels },
      spec: { nodeName: node, containers: [{ name: 'c' }] },
      status: { phase },
    });

  beforeEach(async () => {
    server = await new FakeApiServer().start();
    api = clusterApi(loadKubeConfig({ kind: 'kubeconfig', path: await server.kubeconfig() }));
    server.putNode('node-a');
    putDaemonSet({});
    policy = policyFrom('  maxConcurrent: 1\n');
  });
  afterEach(() => server.stop());

  it('the pause annotation on the agent DaemonSet holds disruption until it is removed', async () => {
    expect(await gate().check(Date.now())).to.deep.equal({ allowed: true });
    putDaemonSet({ 'kube-harden.io/paused': 'true: incident 4711' });
    expect(await gate().check(Date.now())).to.deep.include({
      allowed: false,
      state: 'paused',
      cause: 'paused',
      reason: 'paused by kube-harden.io/paused on DaemonSet kube-harden/kube-harden: incident 4711',
    });
    putDaemonSet({ 'kube-harden.io/paused': 'false' });
    expect(await gate().check(Date.now())).to.deep.equal({ allowed: true });
    expect(server.requests.filter((request) => request.path === '/apis/apps/v1/namespaces/kube-harden/daemonsets/kube-harden')).to.have.length(3);
  });

  it('the daemon wiring: $KUBE_HARDEN_DAEMONSET in the agent namespace, the metric set, one callback per change', async () => {
    server.putAgentDaemonSet({ 'kube-harden.io/paused': 'true' }, 'ops', 'prod-kube-harden');
    const metrics = new AgentMetrics('test');
    const changes: string[] = [];
    const reported = daemonDisruptionGate({
      policy: () => policy.restarts,
      nodeName: 'node-a',
      cluster: api,
      namespace: 'ops',
      env: { KUBE_HARDEN_DAEMONSET: 'prod-kube-harden' },
      metrics,
      logger: silentLogger(),
      onChange: (decision) => changes.push(decision.allowed ? 'allowed' : decision.reason),
    });
    await reported.check(0);
    await reported.check(1);
    expect(await metrics.text()).to.contain('kube_harden_disruption_blocked{reason="paused"} 1');
    server.putAgentDaemonSet({}, 'ops', 'prod-kube-harden');
    expect(await reported.check(2)).to.deep.equal({ allowed: true });
    expect(await metrics.text()).to.contain('kube_harden_disruption_blocked{reason="paused"} 0');
    expect(changes).to.deep.equal(['paused by kube-harden.io/paused on DaemonSet ops/prod-kube-harden', 'allowed']);
  });

  it('a missing DaemonSet or a failing API server is unknown: the disruption waits', async () => {
    server.objects.delete('daemonsets/kube-harden/kube-harden');
    expect(await gate().check(0)).to.deep.include({
      state: 'blocked',
      cause: 'unknown',
      reason: 'pause switch unreadable: DaemonSet kube-harden/kube-harden not found',
    });
    putDaemonSet({});
    server.failNext('GET', /daemonsets/, 500);
    const decision = await gate().check(0);
    expect(decision).to.deep.include({ state: 'blocked', cause: 'unknown' });
    expect((decision as { reason: string }).reason).to.match(/^pause switch unreadable: daemonset kube-harden\/kube-harden: HTTP 500/);
  });

  it('a pod matching restarts.blockers.podSelector on this node blocks; on another node or finished it does not', async () => {
    policy = policyFrom('  blockers:\n    podSelector: ["app=backup", "kube-harden.io/block-restarts"]\n');
    putPod('backup-on-b', 'node-b', { app: 'backup' });
    putPod('backup-done', 'node-a', { app: 'backup' }, 'Succeeded');
    putPod('web', 'node-a', { app: 'web' });
    expect(await gate().check(0)).to.deep.equal({ allowed: true });
    putPod('migration', 'node-a', { 'kube-harden.io/block-restarts': 'true' });
    expect(await gate().check(0)).to.deep.include({ state: 'blocked', cause: 'pod', reason: 'blocking pod running on this node: batch/migration' });
    server.deletePod('batch', 'migration');
    expect(await gate().check(0)).to.deep.equal({ allowed: true });
    server.failNext('GET', /^\/api\/v1\/pods$/, 503);
    expect(await gate().check(0)).to.deep.include({ cause: 'unknown' });
  });

  it('a Node condition or taint from the policy blocks', async () => {
    policy = policyFrom('  blockers:\n    nodeConditions: [DiskPressure]\n    nodeTaints: ["example.com/maintenance:NoSchedule"]\n');
    expect(await gate().check(0)).to.deep.equal({ allowed: true });
    server.setNodeCondition('node-a', 'DiskPressure', 'True');
    expect(await gate().check(0)).to.deep.include({ cause: 'node', reason: 'node condition DiskPressure=True' });
    server.setNodeCondition('node-a', 'DiskPressure', 'False');
    server.setNodeTaints('node-a', [{ key: 'example.com/maintenance', effect: 'NoExecute' }]);
    expect(await gate().check(0)).to.deep.equal({ allowed: true }); // another effect
    server.setNodeTaints('node-a', [{ key: 'example.com/maintenance', value: 'kernel', effect: 'NoSchedule' }]);
    expect(await gate().check(0)).to.deep.include({ cause: 'node', reason: 'node taint example.com/maintenance=kernel:NoSchedule' });
    // A Ready flip (the health gate's fake kubelet) keeps the taints and other conditions.
    server.putNode('node-a', 'False');
    const node = await api.nodes.get('node-a');
    expect(node.taints).to.deep.equal([{ key: 'example.com/maintenance', value: 'kernel', effect: 'NoSchedule' }]);
    expect(node.conditions).to.deep.equal([
      { type: 'Ready', status: 'False' },
      { type: 'DiskPressure', status: 'False' },
    ]);
  });
});

describe('Prometheus alert source over HTTP: every failure is an error that says which', () => {
  let server: http.Server;
  let port = 0;
  let answer: (response: http.ServerResponse) => void;

  before(async () => {
    server = http.createServer((_request, response) => answer(response));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const failure = async (timeoutMs = 2000) => {
    try {
      await httpAlertSource.alerts(`http://127.0.0.1:${port}/`, timeoutMs);
    } catch (error) {
      return (error as Error).message;
    }
    return 'no error';
  };

  it('reads firing and pending alerts', async () => {
    answer = (response) =>
      response.end(
        JSON.stringify({
          status: 'success',
          data: {
            alerts: [
              { labels: { alertname: 'A' }, state: 'firing', value: '1' },
              { labels: { alertname: 'B' }, state: 'pending' },
            ],
          },
        }),
      );
    expect(await httpAlertSource.alerts(`http://127.0.0.1:${port}`, 2000)).to.deep.equal([
      { labels: { alertname: 'A' }, state: 'firing' },
      { labels: { alertname: 'B' }, state: 'pending' },
    ]);
  });

  it('HTTP errors, non-JSON, a wrong shape and a timeout', async () => {
    answer = (response) => {
      response.statusCode = 503;
      response.end('down');
    };
    expect(await failure()).to.equal('prometheus answered HTTP 503');
    answer = (response) => response.end('<html>');
    expect(await failure()).to.equal('prometheus answered something that is not JSON');
    answer = (response) => response.end('{"status":"error"}');
    expect(await failure()).to.equal('prometheus answered without a list of alerts');
    answer = () => undefined; // never answers
    expect(await failure(200)).to.equal('prometheus unreachable: no answer within 200 ms');
  });
});
