import { expect } from 'chai';
import { policyFrom, writePolicyFile } from '../../helpers/policy.js';
import { clusterApi, loadKubeConfig } from '../../../agent/cluster/client.js';
import { DEFAULT_EVENT_LIMITS, EventRecorder } from '../../../agent/cluster/events.js';
import type { Policy } from '../../../agent/core/policy.js';
import { WorkloadAuditor } from '../../../agent/daemon/workload-audit.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { AgentMetrics } from '../../../agent/telemetry/metrics.js';
import { FakeApiServer, type ApiObject } from '../../fakes/fake-api-server.js';
import { waitFor } from '../../helpers/wait.js';
import { runCli } from '../../../agent/cli/index.js';
import { fixturePath, testCli } from '../../helpers/host.js';

function pod(
  namespace: string,
  name: string,
  node: string,
  container: Record<string, unknown>,
  spec: Record<string, unknown> = {},
  labels: Record<string, string> = {},
): ApiObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { nodeName: node, containers: [{ name: 'app', image: 'app:1', ...container }], ...spec },
    status: { phase: 'Running' },
  };
}

const HARDENED = {
  securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true },
  resources: { limits: { cpu: '100m', memory: '64Mi' } },
};

describe('workload audit: a watch on this node’s pods through the real client', function () {
  this.timeout(20_000);
  let server: FakeApiServer;
  let auditor: WorkloadAuditor | null = null;
  let metrics: AgentMetrics;

  beforeEach(async () => {
    server = await new FakeApiServer().start();
    metrics = new AgentMetrics('test');
  });
  afterEach(async () => {
    auditor?.stop();
    await server.stop();
  });

  async function start(current: Policy, self: { namespace: string; name: string } | null = null) {
    const api = clusterApi(loadKubeConfig({ kind: 'kubeconfig', path: await server.kubeconfig() }));
    const events = new EventRecorder(api.events, {
      namespace: 'default',
      node: { name: 'node-a', uid: null },
      ...DEFAULT_EVENT_LIMITS,
      now: () => Date.now(),
      onError: () => undefined,
    });
    auditor = new WorkloadAuditor(
      'node-a',
      self,
      { pods: api.pods, events, metrics, logger: silentLogger(), policy: () => current, now: () => Date.now() },
      20,
    );
    await auditor.start();
    return events;
  }

  const series = async (rule: string, namespace: string) => {
    const match = new RegExp(`kube_harden_workload_violations\\{rule="${rule.replace('.', '\\.')}",namespace="${namespace}"\\} (\\d+)`).exec(
      await metrics.text(),
    );
    return match ? Number(match[1]) : 0;
  };

  it('reports pods on this node only, follows new and deleted pods without polling, and records an Event on the pod', async () => {
    server.putPod(pod('shop', 'web', 'node-a', HARDENED));
    server.putPod(pod('shop', 'elsewhere', 'node-b', { securityContext: { privileged: true } }));
    const events = await start(policyFrom());
    await waitFor(() => auditor!.last !== null, 5000, 'the first audit');
    expect(auditor!.last!.pods).to.equal(1);
    expect(auditor!.last!.violations).to.deep.equal([]);

    server.putPod(
      pod('shop', 'debug', 'node-a', { ...HARDENED, securityContext: { ...HARDENED.securityContext, privileged: true } }, { hostPID: true }),
    );
    await waitFor(async () => (await series('workload.privileged', 'shop')) === 1, 5000, 'the privileged pod in the metric');
    expect(await series('workload.host-namespaces', 'shop')).to.equal(1);
    await events.flush();
    const podEvents = (
      server.list('events', 'shop') as unknown as { reason: string; message: string; involvedObject: { kind: string; name: string } }[]
    ).map((event) => `${event.involvedObject.kind}/${event.involvedObject.name} ${event.reason}: ${event.message}`);
    expect(podEvents).to.include('Pod/debug WorkloadViolation: workload.privileged: container app: privileged: true');
    // Only one list: everything after it came from the watch.
    expect(server.requests.filter((request) => request.method === 'GET' && request.path === '/api/v1/pods').length).to.equal(1);

    server.deletePod('shop', 'debug');
    await waitFor(async () => (await series('workload.privileged', 'shop')) === 0, 5000, 'the deleted pod gone from the metric');
  });

  it('resumes when the server closes the watch, and honours exemptions and the agent’s own pod', async () => {
    const exempting = policyFrom(
      'exemptions:\n  - { rule: workload.host-namespaces, namespaces: [monitoring], reason: "node-exporter", expires: 2999-01-01 }\n',
    );
    server.putPod(pod('monitoring', 'node-exporter', 'node-a', HARDENED, { hostNetwork: true, hostPID: true }));
    server.putPod(pod('kube-harden', 'kube-harden-abcde', 'node-a', { securityContext: { privileged: true } }, { hostPID: true }));
    await start(exempting, { namespace: 'kube-harden', name: 'kube-harden-abcde' });
    await waitFor(() => auditor!.last !== null, 5000, 'the first audit');
    expect(auditor!.last!.violations).to.deep.equal([]);
    expect(auditor!.last!.exempted.map((entry) => `${entry.rule} ${entry.namespace}/${entry.pod}: ${entry.reason}`)).to.deep.equal([
      'workload.host-namespaces monitoring/node-exporter: node-exporter',
    ]);

    await waitFor(() => server.openWatches === 1, 5000, 'the watch');
    server.closeWatches();
    await waitFor(() => server.openWatches === 1, 5000, 'the watch resumed');
    server.putPod(
      pod('shop', 'root', 'node-a', { ...HARDENED, securityContext: { ...HARDENED.securityContext, runAsNonRoot: false, runAsUser: 0 } }),
    );
    await waitFor(async () => (await series('workload.run-as-non-root', 'shop')) === 1, 5000, 'a pod added after the watch resumed');
  });

  it('audit --kubeconfig lists this node’s pods once and adds them to the JSON; a violation makes exit 1', async () => {
    server.putPod(pod('shop', 'web', 'node-a', HARDENED));
    server.putPod(pod('shop', 'sock', 'node-a', HARDENED, { volumes: [{ name: 'docker', hostPath: { path: '/var/run/docker.sock' } }] }));
    const harness = testCli({ env: { NODE_NAME: 'node-a' } });
    const code = await runCli(
      ['audit', '--output', 'json', '--host-root', fixturePath('kubeadm-worker'), '--kubeconfig', await server.kubeconfig()],
      harness.deps,
    );
    expect(code).to.equal(1);
    const { workloads } = JSON.parse(harness.stdout());
    expect(workloads.pods).to.equal(2);
    expect(workloads.violations).to.deep.equal([
      { rule: 'workload.docker-socket', namespace: 'shop', pod: 'sock', container: null, message: 'volume docker mounts /var/run/docker.sock' },
    ]);
    const table = testCli({ env: { NODE_NAME: 'node-a' } });
    await runCli(['audit', '--host-root', fixturePath('kubeadm-worker'), '--kubeconfig', await server.kubeconfig()], table.deps);
    expect(table.stdout()).to.contain('Workloads: 2 pod(s) on this node, 0 namespace(s), 1 violation(s), 0 exempted');
  });

  it('audit --kubeconfig judges every namespace’s Pod Security label too, with exemptions; without namespaces list it says how to skip that', async () => {
    server.putPod(pod('shop', 'web', 'node-a', HARDENED));
    server.putNamespace('shop');
    server.putNamespace('team-b', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    server.putNamespace('kube-system');
    const policy = writePolicyFile([
      'exemptions:',
      '  - { rule: workload.namespace-pod-security, namespaces: [kube-system], reason: "CNI agents", expires: 2999-01-01 }',
    ]);
    const args = ['audit', '--host-root', fixturePath('kubeadm-worker'), '--kubeconfig', await server.kubeconfig(), '--policy', policy];
    const harness = testCli({ env: { NODE_NAME: 'node-a' } });
    expect(await runCli([...args, '--output', 'json'], harness.deps)).to.equal(1);
    const { workloads } = JSON.parse(harness.stdout());
    expect(workloads.namespaces).to.equal(3);
    expect(
      workloads.violations.map((v: { namespace: string; pod: string | null; rule: string }) => `${v.rule} ${v.namespace} ${v.pod}`),
    ).to.deep.equal(['workload.namespace-pod-security shop null']);
    const table = testCli({ env: { NODE_NAME: 'node-a' } });
    await runCli(args, table.deps);
    expect(table.stdout()).to.contain('Workloads: 1 pod(s) on this node, 3 namespace(s), 1 violation(s), 1 exempted');
    expect(table.stdout()).to.match(/FAIL +workload\.namespace-pod-security +namespace shop: no pod-security\.kubernetes\.io\/enforce label/);
    expect(table.stdout()).to.match(/EXEMPT +workload\.namespace-pod-security +namespace kube-system: CNI agents \(until 2999-01-01\)/);

    // With the rule off the namespaces are not even listed.
    const listed = server.requests.filter((request) => request.path === '/api/v1/namespaces').length;
    const off = writePolicyFile(['rules:', '  workload.namespace-pod-security: { enabled: false }']);
    const quiet = testCli({ env: { NODE_NAME: 'node-a' } });
    await runCli([...args.slice(0, -1), off, '--output', 'json'], quiet.deps);
    expect(JSON.parse(quiet.stdout()).workloads.violations).to.deep.equal([]);
    expect(server.requests.filter((request) => request.path === '/api/v1/namespaces').length).to.equal(listed);

    server.failNext('GET', /^\/api\/v1\/namespaces$/, 403);
    const refused = testCli({ env: { NODE_NAME: 'node-a' } });
    expect(await runCli(args, refused.deps)).to.equal(2);
    expect(refused.err.join('')).to.contain('cannot list namespaces').and.to.contain('enabled: false');
    expect(refused.err.join('')).to.not.match(/\n\s+at /);
  });
});
