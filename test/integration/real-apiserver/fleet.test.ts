import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { MAIN } from '../../helpers/agent.js';
import { REPO, cleanupTempDirs, snapshotTree } from '../../helpers/host.js';
import { RealNode, nodeAnnotation, writeRealPolicy } from '../../helpers/real-fleet.js';
import { realApiServerHooks, shippedRbac, type RealApiServer } from '../../helpers/real-apiserver.js';
import { sleep, waitFor } from '../../helpers/wait.js';

const STATE = 'kube-harden.io/state';

async function eventsAbout(server: RealApiServer, node: string, reason: string): Promise<{ type?: string; message?: string }[]> {
  const core = server.adminConfig().makeApiClient(CoreV1Api);
  return (await core.listNamespacedEvent({ namespace: 'default' })).items.filter(
    (event) => event.reason === reason && event.involvedObject.kind === 'Node' && event.involvedObject.name === node,
  );
}

async function slotHolder(server: RealApiServer): Promise<string | null> {
  return (await server.adminApi().leases.get('kube-harden', 'kube-harden-restart-0'))?.holderIdentity ?? null;
}

function metricValue(text: string, pattern: RegExp): number {
  const match = pattern.exec(text);
  return match ? Number(match[1]) : 0;
}

/** `kube-harden audit` on the host root: exit 0 when every rule passes (the agent's claim checked from outside). */
function auditExit(root: string, nodeIp: string): number | null {
  return spawnSync(process.execPath, [MAIN, 'audit', '--host-root', root, '--kubelet-version', 'v1.31.4', '--node-ip', nodeIp], {
    encoding: 'utf8',
    timeout: 30_000,
  }).status;
}

const PROXY_CONF = readFileSync(path.join(REPO, 'test/fixtures/cluster/kube-proxy-config.conf'), 'utf8');
const KUBELET_CONF = readFileSync(path.join(REPO, 'test/fixtures/cluster/kubelet-config.yaml'), 'utf8');

function kubeProxyPod(node: string, generation: number): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `kube-proxy-${node}-${generation}`, namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' } },
    spec: { nodeName: node, hostNetwork: true, containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.31.4' }] },
  } as KubernetesObject;
}

/**
 * What the DaemonSet controller and the kubelet do for kube-proxy (neither runs here): a pod the agent
 * deleted (left terminating without a kubelet) is removed and a new one created on its node and
 * reported Ready. Polls; records the order of rolled nodes and the most down at once.
 */
function kubeProxyController(server: RealApiServer): { order: string[]; mostDown: number; stop: () => void } {
  const core = server.adminConfig().makeApiClient(CoreV1Api);
  const state = { order: [] as string[], mostDown: 0, stop: () => undefined as void };
  const down = new Set<string>();
  let stopped = false;
  const tick = async () => {
    const pods = (await core.listNamespacedPod({ namespace: 'kube-system', labelSelector: 'k8s-app=kube-proxy' })).items;
    for (const pod of pods.filter((candidate) => candidate.metadata?.deletionTimestamp)) {
      const node = pod.spec!.nodeName!;
      state.order.push(node);
      down.add(node);
      state.mostDown = Math.max(state.mostDown, down.size);
      await core.deleteNamespacedPod({ name: pod.metadata!.name!, namespace: 'kube-system', gracePeriodSeconds: 0 });
      const created = await core.createNamespacedPod({ namespace: 'kube-system', body: kubeProxyPod(node, state.order.length) as never });
      await core.replaceNamespacedPodStatus({
        name: created.metadata!.name!,
        namespace: 'kube-system',
        body: { ...created, status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] } },
      });
      down.delete(node);
    }
  };
  const loop = async () => {
    while (!stopped) {
      await tick().catch(() => undefined);
      await sleep(250);
    }
  };
  void loop();
  state.stop = () => {
    stopped = true;
  };
  return state;
}

/**
 * Real `kube-harden run` processes, one per simulated node, against a real kube-apiserver v1.20.2 as
 * the shipped ServiceAccount (manifests/base RBAC applied to the server). The server's audit log is
 * the witness for what the agents did and for every 403.
 */
describe('real API server: a fleet of kube-harden run processes as the shipped ServiceAccount', function () {
  this.timeout(180_000);
  const real = realApiServerHooks();
  let nodes: RealNode[] = [];

  before(async function () {
    for (const object of shippedRbac()) await real.server.apply(object);
  });

  afterEach(async function () {
    this.timeout(60_000);
    if (this.currentTest?.state === 'failed')
      for (const node of nodes) console.log(`--- ${node.name} agent log (last 15 lines)\n${node.logText().trim().split('\n').slice(-15).join('\n')}`);
    await Promise.all(nodes.map((node) => node.stop()));
    nodes = [];
    // Each test starts from free restart slots.
    const admin = real.server.objects();
    for (const name of ['kube-harden-restart-0', 'kube-harden-leader-0'])
      await admin
        .delete({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace: 'kube-harden' } } as KubernetesObject)
        .catch(() => undefined);
  });
  after(cleanupTempDirs);

  it('enforce with maxConcurrent 1: three nodes hardened, never two disrupted at once', async () => {
    const policy = writeRealPolicy({ mode: 'enforce', maxConcurrent: 1, healthTimeoutSeconds: 30, leaseDurationSeconds: 10 });
    const disrupted = new Set<string>();
    let mostAtOnce = 0;
    for (let index = 0; index < 3; index++) {
      const name = `enforce-${index}`;
      nodes.push(
        await RealNode.create(real.server, name, `10.0.1.${10 + index}`, {
          startDelayMs: 200,
          onRestart: () => {
            disrupted.add(name);
            mostAtOnce = Math.max(mostAtOnce, disrupted.size);
          },
          // Disrupted until the new kubelet runs and has reported to the API server.
          onSettled: () => disrupted.delete(name),
        }),
      );
    }
    nodes.forEach((node) => node.start(policy));
    await waitFor(
      async () => (await Promise.all(nodes.map((node) => nodeAnnotation(real.server, node.name, STATE)))).every((state) => state === 'compliant'),
      120_000,
      'every node compliant',
    );
    expect(mostAtOnce).to.equal(1);
    for (const node of nodes) {
      expect(node.kubelet.restarts).to.deep.equal(['kubelet']);
      expect(auditExit(node.root, node.internalIP), `${node.name} audits clean`).to.equal(0);
      // Changes that waited for the slot are a later part of the first hardening: Remediated, never drift.
      expect(await eventsAbout(real.server, node.name, 'Remediated')).to.have.length.within(1, 2);
      expect(await eventsAbout(real.server, node.name, 'DriftCorrected')).to.deep.equal([]);
    }
    expect(await slotHolder(real.server)).to.equal(null);
  });

  it('a killed slot holder frees its slot one lease duration after its last renewal', async () => {
    const policy = writeRealPolicy({ mode: 'enforce', maxConcurrent: 1, healthTimeoutSeconds: 60, leaseDurationSeconds: 4 });
    // The first node's kubelet does not come back: its agent holds the slot in the health gate, and dies there.
    const holder = await RealNode.create(real.server, 'killed-holder', '10.0.2.10', { refuses: () => true });
    const waiting = await RealNode.create(real.server, 'killed-waiter', '10.0.2.11');
    nodes.push(holder, waiting);
    holder.start(policy);
    await waitFor(() => holder.kubelet.restarts.length === 1, 60_000, 'the holder restarting its kubelet');
    expect(await slotHolder(real.server)).to.equal('killed-holder');
    waiting.start(policy);
    await waiting.ready();
    expect(await nodeAnnotation(real.server, 'killed-waiter', STATE)).to.equal('remediating');
    holder.kill('SIGKILL');
    const killedAt = Date.now();
    await waitFor(() => waiting.kubelet.restarts.length === 1, 50_000, 'the waiting node restarting after the dead holder expired');
    const waited = Date.now() - killedAt;
    // At least the lease duration after the last renewal (which came up to a third of it before the
    // kill); at most two slot retries (up to 15 s each with jitter: one to see the last renewal, one
    // after the lease duration) and the restart.
    expect(waited).to.be.at.least(4000 - 4000 / 3);
    expect(waited).to.be.below(2 * 15_000 + 5000);
    expect(holder.kubelet.restarts).to.deep.equal(['kubelet']);
    await waitFor(async () => (await nodeAnnotation(real.server, 'killed-waiter', STATE)) === 'compliant', 30_000, 'the waiting node compliant');
  });

  it('a restart that fails is rolled back: node degraded, a RolledBack Event, the rollbacks metric, and the rollout stops there', async () => {
    const policy = writeRealPolicy({ mode: 'enforce', maxConcurrent: 1, healthTimeoutSeconds: 3, leaseDurationSeconds: 10 });
    // This kubelet does not come back at all (not even with the old configuration).
    const broken = await RealNode.create(real.server, 'broken', '10.0.3.10', { refuses: () => true });
    const next = await RealNode.create(real.server, 'after-broken', '10.0.3.11');
    nodes.push(broken, next);
    const config = path.join(broken.root, 'var/lib/kubelet/config.yaml');
    const original = readFileSync(config, 'utf8');
    broken.start(policy);
    await waitFor(async () => (await nodeAnnotation(real.server, 'broken', STATE)) === 'degraded', 60_000, 'the broken node degraded');
    expect(broken.kubelet.restarts).to.deep.equal(['kubelet', 'kubelet']);
    expect(readFileSync(config, 'utf8')).to.equal(original);
    await waitFor(async () => (await eventsAbout(real.server, 'broken', 'RolledBack')).length === 1, 10_000, 'the RolledBack Event');
    const [event] = await eventsAbout(real.server, 'broken', 'RolledBack');
    expect(event!.type).to.equal('Warning');
    await broken.ready(); // /metrics is served once the first reconcile (this one) is over
    expect(metricValue(await broken.metrics(), /kube_harden_rollbacks_total\{service="kubelet"\} (\d+)/)).to.equal(1);
    // The broken node keeps the slot: the next node waits instead of being broken too.
    next.start(policy);
    await next.ready();
    await sleep(12_000); // longer than a slot retry
    expect(next.kubelet.restarts).to.deep.equal([]);
    expect(await slotHolder(real.server)).to.equal('broken');
    expect(await nodeAnnotation(real.server, 'after-broken', STATE)).to.equal('remediating');
  });

  it('the leader hardens the kube-proxy and kubelet-config ConfigMaps; kube-proxy rolls canary first, one node at a time, each once', async () => {
    await real.server.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-proxy', namespace: 'kube-system' },
      data: { 'config.conf': PROXY_CONF },
    } as KubernetesObject);
    await real.server.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kubelet-config', namespace: 'kube-system' },
      data: { kubelet: KUBELET_CONF },
    } as KubernetesObject);
    await real.server.apply({
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name: 'kube-proxy', namespace: 'kube-system' },
      spec: {
        selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
        template: {
          metadata: { labels: { 'k8s-app': 'kube-proxy' } },
          spec: { containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.31.4' }] },
        },
      },
    } as KubernetesObject);
    const names = ['proxy-0', 'proxy-1'];
    for (const name of names) await real.server.apply(kubeProxyPod(name, 0));
    const controller = kubeProxyController(real.server);
    try {
      const policy = writeRealPolicy({ mode: 'enforce', maxConcurrent: 1, healthTimeoutSeconds: 30, leaseDurationSeconds: 10 });
      for (const [index, name] of names.entries()) nodes.push(await RealNode.create(real.server, name, `10.0.6.${10 + index}`));
      nodes.forEach((node) => node.start(policy));
      await waitFor(() => names.every((name) => controller.order.includes(name)), 120_000, 'kube-proxy rolled on every node');
      const api = real.server.adminApi();
      const proxy = (await api.configMaps.get('kube-system', 'kube-proxy'))!;
      expect(proxy.data['config.conf']).to.not.equal(PROXY_CONF);
      const canary = proxy.annotations['kube-harden.io/roll-canary'];
      expect(names).to.include(canary);
      expect(controller.order[0]).to.equal(canary);
      await waitFor(
        async () => (await api.configMaps.get('kube-system', 'kube-proxy'))!.annotations['kube-harden.io/roll-state'] === 'rolling',
        10_000,
        'roll-state rolling',
      );
      expect((await api.configMaps.get('kube-system', 'kubelet-config'))!.data.kubelet).to.not.equal(KUBELET_CONF);
      expect(controller.mostDown).to.equal(1);
      // Once is enough: a pod created after the change is not rolled again (another roll check passes).
      // Fails on today's code whenever the canary's new pod is created in the same second as the change:
      // creationTimestamp has whole seconds (and the API server's clock), kube-harden.io/roll-at the
      // leader's milliseconds, so the fresh pod looks older than the change and is rolled once more at
      // the next roll check (agent/daemon/kube-proxy-roll.ts). The fake API server kept milliseconds.
      await sleep(35_000);
      expect(controller.order.slice().sort()).to.deep.equal(names);
    } finally {
      controller.stop();
    }
  });

  // Fails on today's code: the leader rewrites kube-system/kube-proxy and kube-system/kubelet-config in
  // audit mode (bug 1 of issue 14, being fixed separately); the test states what audit mode promises.
  it('audit mode changes nothing on the host, in ConfigMaps or pods, and still reports (annotations, Events)', async () => {
    await real.server.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kube-proxy', namespace: 'kube-system' },
      data: { 'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmetricsBindAddress: 0.0.0.0:10249\n' },
    } as KubernetesObject);
    await real.server.apply({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'kubelet-config', namespace: 'kube-system' },
      data: { kubelet: 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: true\n' },
    } as KubernetesObject);
    await real.server.apply({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged-web', namespace: 'default' },
      spec: { nodeName: 'audit-0', containers: [{ name: 'web', image: 'nginx', securityContext: { privileged: true } }] },
    } as KubernetesObject);
    const policy = writeRealPolicy({ mode: 'audit', maxConcurrent: 1, healthTimeoutSeconds: 10, leaseDurationSeconds: 10 });
    for (let index = 0; index < 2; index++) nodes.push(await RealNode.create(real.server, `audit-${index}`, `10.0.4.${10 + index}`));
    const before = nodes.map((node) => snapshotTree(node.root, ['var/lib/kube-harden', 'proc']));
    const from = real.server.audit().length;
    nodes.forEach((node) => node.start(policy));
    await Promise.all(nodes.map((node) => node.ready()));
    await waitFor(async () => (await nodeAnnotation(real.server, 'audit-0', STATE)) === 'drifted', 20_000, 'audit-0 annotated drifted');
    await sleep(3000); // the workload audit and the leader's pass
    nodes.forEach((node, index) =>
      expect(snapshotTree(node.root, ['var/lib/kube-harden', 'proc']), `${node.name} host unchanged`).to.deep.equal(before[index]),
    );
    expect(nodes.every((node) => node.kubelet.restarts.length === 0)).to.equal(true);
    expect(await nodeAnnotation(real.server, 'audit-1', STATE)).to.equal('drifted');
    const writes = real.server
      .agentRequests(from)
      .filter(
        (record) =>
          ['create', 'update', 'patch', 'delete'].includes(record.verb) && ['configmaps', 'pods', 'daemonsets'].includes(record.resource ?? ''),
      )
      .map((record) => `${record.verb} ${record.resource} ${record.namespace}/${record.name}`);
    const core = real.server.adminConfig().makeApiClient(CoreV1Api);
    const events = (await core.listNamespacedEvent({ namespace: 'default' })).items;
    expect(events.some((event) => event.reason === 'WorkloadViolation' && event.involvedObject.name === 'privileged-web')).to.equal(true);
    // No leader in audit mode: both agents report the unlabelled Namespace default, and make one Event of it.
    expect(events.filter((event) => event.involvedObject.kind === 'Namespace').map((event) => event.involvedObject.name)).to.deep.equal(['default']);
    for (const node of nodes)
      expect(await node.metrics(), node.name).to.contain(
        'kube_harden_workload_violations{rule="workload.namespace-pod-security",namespace="default"} 1',
      );
    // The ConfigMaps' contents, and the server's record of who wrote what.
    expect((await real.server.adminApi().configMaps.get('kube-system', 'kube-proxy'))!.data['config.conf']).to.contain(
      'metricsBindAddress: 0.0.0.0:10249',
    );
    expect(writes, 'writes to ConfigMaps or pods in audit mode').to.deep.equal([]);
  });

  it('through every scenario above, the agents as the shipped ServiceAccount met zero 403s', () => {
    const records = real.server.agentRequests();
    expect(records.length).to.be.greaterThan(20);
    expect(records.filter((record) => record.code === 403).map((record) => `${record.verb} ${record.uri}`)).to.deep.equal([]);
  });
});
