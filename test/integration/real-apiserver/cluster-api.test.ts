import { expect } from 'chai';
import { CoreV1Api, EventsV1Api, V1MicroTime } from '@kubernetes/client-node';
import { ConflictError, type ClusterApi, type PodRecord } from '../../../agent/cluster/api.js';
import { EventRecorder } from '../../../agent/cluster/events.js';
import { nodeHealthCheck } from '../../../agent/cluster/node-health.js';
import { NodeAnnotator, STATE_ANNOTATION } from '../../../agent/cluster/node-status.js';
import { NodePodWatch } from '../../../agent/cluster/pod-watch.js';
import { LeaseSemaphore } from '../../../agent/cluster/semaphore.js';
import { HttpHealthProbe } from '../../../agent/host/health.js';
import { realApiServerHooks } from '../../helpers/real-apiserver.js';
import { sleep, waitFor } from '../../helpers/wait.js';

/**
 * The agent's cluster code (agent/cluster/*: the client adapter, the Lease semaphore, the Node
 * annotator, the Event recorder, the pod watch, the node health check) against a REAL kube-apiserver
 * v1.20.2 with etcd: optimistic concurrency, patch content types, field selectors and event
 * validation as the real server implements them. As admin here: RBAC is rbac.test.ts's subject.
 */
describe('real API server: the agent cluster code', function () {
  this.timeout(60_000);
  const real = realApiServerHooks();
  let api: ClusterApi;

  before(function () {
    api = real.server.adminApi();
  });

  it("the kube-apiserver health gate's probe (HTTPS, the server's own self-signed certificate, /livez) finds a real API server healthy", async () => {
    // The same probe apply builds for static-pod/kube-apiserver; only the port differs from 6443.
    const url = new URL('/livez', real.server.url).toString();
    expect(url).to.match(/^https:\/\/127\.0\.0\.1:\d+\/livez$/);
    expect(await new HttpHealthProbe(url, 100).waitHealthy(10_000)).to.deep.equal({ healthy: true });
    // A path it does not serve is not healthy, so the verdict above means something.
    expect((await new HttpHealthProbe(new URL('/no-such-endpoint', real.server.url).toString(), 100).waitHealthy(500)).healthy).to.equal(false);
  });

  function semaphore(holder: string, leaseDurationSeconds = 30, namespace = 'kube-harden'): LeaseSemaphore {
    return new LeaseSemaphore(real.server.adminApi().leases, {
      namespace,
      holder,
      slots: () => 1,
      leaseDurationSeconds: () => leaseDurationSeconds,
      now: () => Date.now(),
      prefix: `test-${namespace}-${leaseDurationSeconds}`,
    });
  }

  describe('the Lease semaphore', () => {
    it('of ten agents racing for one slot, exactly one wins; the others see it held', async () => {
      const agents = Array.from({ length: 10 }, (_, index) => semaphore(`node-${index}`, 30));
      const won = await Promise.all(agents.map((agent) => agent.tryAcquire()));
      expect(won.filter(Boolean)).to.have.length(1);
      const winner = agents[won.indexOf(true)]!;
      const lease = await api.leases.get('kube-harden', winner.slot!);
      expect(lease!.holderIdentity).to.equal(`node-${won.indexOf(true)}`);
      // A second round while it is held: nobody else gets it.
      const again = await Promise.all(agents.filter((agent) => agent !== winner).map((agent) => agent.tryAcquire()));
      expect(again.every((taken) => !taken)).to.equal(true);
      await winner.release();
      expect((await api.leases.get('kube-harden', winner.slot ?? 'test-kube-harden-30-0'))!.holderIdentity).to.equal(null);
      agents.forEach((agent) => agent.abandon());
    });

    it('a replace at a stale resourceVersion is a 409 the adapter reports as ConflictError, and the writer does not get the slot', async () => {
      const first = await api.leases.create({
        name: 'stale-rv',
        namespace: 'kube-harden',
        resourceVersion: null,
        holderIdentity: 'node-a',
        leaseDurationSeconds: 30,
        acquireTimeMs: Date.now(),
        renewTimeMs: Date.now(),
        labels: {},
      });
      const renewed = await api.leases.replace({ ...first, renewTimeMs: Date.now() });
      expect(renewed.resourceVersion).to.not.equal(first.resourceVersion);
      let error: unknown = null;
      await api.leases.replace({ ...first, holderIdentity: 'node-b' }).catch((caught: unknown) => (error = caught));
      expect(error).to.be.instanceOf(ConflictError);
      expect((await api.leases.get('kube-harden', 'stale-rv'))!.holderIdentity).to.equal('node-a');
      // A create of an existing Lease is a conflict too (two agents creating slot 0 at once).
      error = null;
      await api.leases.create({ ...first, holderIdentity: 'node-c' }).catch((caught: unknown) => (error = caught));
      expect(error).to.be.instanceOf(ConflictError);
    });

    it("a dead holder's slot frees one lease duration after its last renewal, not before", async () => {
      const dead = semaphore('node-dead', 2);
      expect(await dead.tryAcquire()).to.equal(true);
      dead.abandon(); // the process died: no renewals any more
      const waiting = semaphore('node-alive', 2);
      const started = Date.now();
      expect(await waiting.tryAcquire()).to.equal(false);
      // An agent asks again now and then (the daemon every ~10 s; here every 200 ms, for a sharp bound).
      while (!(await waiting.tryAcquire())) {
        expect(Date.now() - started).to.be.below(10_000);
        await sleep(200);
      }
      const waited = Date.now() - started;
      expect(waited).to.be.at.least(2000);
      expect(waited).to.be.below(4500);
      // A holder that keeps renewing is never displaced.
      const other = semaphore('node-other', 2);
      expect(await other.tryAcquire()).to.equal(false);
      await sleep(2600);
      expect(await other.tryAcquire()).to.equal(false);
      await waiting.release();
      expect(await other.tryAcquire()).to.equal(true);
      await other.release();
    });
  });

  describe('the Node', () => {
    before(async function () {
      await real.server.putNode('annotated-node', 'True', 'v1.31.4', '10.0.0.21');
    });

    it("annotations go by merge patch: the agent's keys change, everyone else's stay", async () => {
      await real.server
        .objects()
        .patch(
          { apiVersion: 'v1', kind: 'Node', metadata: { name: 'annotated-node', annotations: { 'example.com/owner': 'ops' } } },
          undefined,
          undefined,
          undefined,
          undefined,
          'application/merge-patch+json',
        );
      const annotator = new NodeAnnotator(api.nodes, 'annotated-node', 300_000);
      expect(await annotator.report('drifted', Date.now())).to.equal(true);
      expect(await annotator.report('drifted', Date.now())).to.equal(false);
      expect(await annotator.report('compliant', Date.now())).to.equal(true);
      const node = await api.nodes.get('annotated-node');
      expect(node.annotations).to.include({ [STATE_ANNOTATION]: 'compliant', 'example.com/owner': 'ops' });
      expect(node.annotations['kube-harden.io/last-reconcile']).to.match(/^\d{4}-\d\d-\d\dT/);
      expect(node.ready).to.equal('True');
      expect(node.kubeletVersion).to.equal('v1.31.4');
      expect(node.internalIPs).to.deep.equal(['10.0.0.21']);
      // A null value removes a key.
      await api.nodes.patchAnnotations('annotated-node', { 'example.com/owner': null });
      expect((await api.nodes.get('annotated-node')).annotations).to.not.have.property('example.com/owner');
      // A new agent process reads what the last one wrote and does not patch again.
      expect(await new NodeAnnotator(api.nodes, 'annotated-node', 300_000).report('compliant', Date.now())).to.equal(false);
    });

    it('the health check wants the node Lease renewed after the restart and the Node Ready', async () => {
      const since = Date.now();
      const check = nodeHealthCheck(api.nodes, api.leases, 'annotated-node', since);
      expect(await check.check()).to.match(/not found or never renewed/);
      await real.server.renewNodeLease('annotated-node', since - 5000);
      expect(await check.check()).to.match(/not renewed since the restart/);
      await real.server.renewNodeLease('annotated-node', since + 100);
      expect(await check.check()).to.equal(null);
      await real.server.putNode('annotated-node', 'False');
      expect(await check.check()).to.match(/Ready condition is False/);
      await real.server.putNode('annotated-node', 'True');
    });
  });

  describe('Events about a Node', () => {
    let uid: string | null;
    before(async () => {
      await real.server.putNode('evented-node');
      uid = (await api.nodes.get('evented-node')).uid;
    });

    /** The agent's Event recorder for the node `evented-node`, errors collected into `errors`. */
    function nodeRecorder(errors: unknown[]): EventRecorder {
      return new EventRecorder(api.events, {
        namespace: 'default',
        node: { name: 'evented-node', uid },
        burst: 10,
        refillMs: 60_000,
        aggregateWindowMs: 600_000,
        patchIntervalMs: 60_000,
        now: () => Date.now(),
        onError: (error) => errors.push(error),
      });
    }

    async function eventsIn(namespace: string, reason: string): Promise<{ count?: number; involvedObject: { kind?: string; name?: string } }[]> {
      const core = real.server.adminConfig().makeApiClient(CoreV1Api);
      return (await core.listNamespacedEvent({ namespace })).items.filter((event) => event.reason === reason);
    }

    it('the recorder creates one core/v1 Event in default and patches its count on repeats (accepted by v1.20 and current servers alike)', async () => {
      const errors: unknown[] = [];
      const recorder = nodeRecorder(errors);
      recorder.record({ type: 'Normal', reason: 'Remediated', message: 'Applied kubelet.anonymous-auth to /var/lib/kubelet/config.yaml' });
      recorder.record({ type: 'Normal', reason: 'Remediated', message: 'Applied kubelet.anonymous-auth to /var/lib/kubelet/config.yaml' });
      recorder.record({ type: 'Normal', reason: 'Remediated', message: 'Applied kubelet.anonymous-auth to /var/lib/kubelet/config.yaml' });
      await recorder.flush();
      expect(errors).to.deep.equal([]);
      const events = await eventsIn('default', 'Remediated');
      expect(events).to.have.length(1);
      expect(events[0]!.count).to.equal(3);
      expect(events[0]!.involvedObject).to.include({ kind: 'Node', name: 'evented-node' });
    });

    it('v1.20 refuses an events.k8s.io/v1 Event about a Node in default (kube-system only): the reason the agent writes core/v1 Events', async function () {
      if (!real.server.version.startsWith('v1.20.')) {
        console.log(`    (skipped: this checks v1.20's refusal; the API server here is ${real.server.version})`);
        this.skip();
      }
      const events = real.server.adminConfig().makeApiClient(EventsV1Api);
      const body = (namespace: string, name: string) => ({
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name, namespace },
        eventTime: new V1MicroTime(Date.now()),
        reportingController: 'kube-harden.io/agent',
        reportingInstance: 'evented-node',
        action: 'Remediate',
        reason: 'Remediated',
        type: 'Normal',
        note: 'test',
        regarding: { kind: 'Node', name: 'evented-node', apiVersion: 'v1' },
      });
      const refused = await events.createNamespacedEvent({ namespace: 'default', body: body('default', 'evented-node.v1') }).then(
        () => null,
        (error: { code?: number; body?: string }) => `${error.code}: ${error.body}`,
      );
      expect(refused).to.match(/^422: .*involvedObject.namespace/);
      await events.createNamespacedEvent({ namespace: 'kube-system', body: body('kube-system', 'evented-node.v1') });
    });

    it('Events about a Pod or a ConfigMap go in that object’s namespace', async () => {
      const errors: unknown[] = [];
      const recorder = nodeRecorder(errors);
      recorder.record(
        { type: 'Warning', reason: 'KubeProxyRollHalted', message: 'halted' },
        { kind: 'ConfigMap', name: 'kube-proxy', namespace: 'kube-system', uid: null },
      );
      recorder.record(
        { type: 'Warning', reason: 'WorkloadViolation', message: 'privileged' },
        { kind: 'Pod', name: 'web', namespace: 'default', uid: null },
      );
      await recorder.flush();
      expect(errors).to.deep.equal([]);
      expect(await eventsIn('kube-system', 'KubeProxyRollHalted')).to.have.length(1);
      expect(await eventsIn('default', 'WorkloadViolation')).to.have.length(1);
    });
  });

  describe('ConfigMaps with a concurrent writer', () => {
    it('a replace at the resourceVersion read is refused (409) after another write; re-reading keeps both edits and the labels', async () => {
      await real.server.apply({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'kube-proxy', namespace: 'kube-system', labels: { app: 'kube-proxy' } },
        data: { 'config.conf': 'metricsBindAddress: 0.0.0.0:10249\n' },
      } as never);
      const read = (await api.configMaps.get('kube-system', 'kube-proxy'))!;
      // Someone else (kubeadm upgrade, an operator) writes in between.
      const other = real.server.adminApi();
      const theirs = (await other.configMaps.get('kube-system', 'kube-proxy'))!;
      await other.configMaps.replace({ ...theirs, data: { ...theirs.data, 'operator.note': 'kept' } });
      let error: unknown = null;
      await api.configMaps
        .replace({ ...read, data: { ...read.data, 'config.conf': 'metricsBindAddress: 127.0.0.1:10249\n' } })
        .catch((caught: unknown) => (error = caught));
      expect(error).to.be.instanceOf(ConflictError);
      // The agent judges again from a fresh read: nothing of the other writer's is lost.
      const fresh = (await api.configMaps.get('kube-system', 'kube-proxy'))!;
      await api.configMaps.replace({ ...fresh, data: { ...fresh.data, 'config.conf': 'metricsBindAddress: 127.0.0.1:10249\n' } });
      const final = (await api.configMaps.get('kube-system', 'kube-proxy'))!;
      expect(final.data).to.deep.equal({ 'config.conf': 'metricsBindAddress: 127.0.0.1:10249\n', 'operator.note': 'kept' });
      // A replace is a PUT of the whole object: the labels kubeadm set must travel with it.
      expect(final.labels).to.deep.equal({ app: 'kube-proxy' });
      // Annotations by merge patch (the roll state) leave the data alone.
      await api.configMaps.patchAnnotations('kube-system', 'kube-proxy', { 'kube-harden.io/roll-state': 'rolling' });
      const patched = (await api.configMaps.get('kube-system', 'kube-proxy'))!;
      expect(patched.annotations['kube-harden.io/roll-state']).to.equal('rolling');
      expect(patched.data).to.deep.equal(final.data);
      expect(await api.configMaps.get('kube-system', 'does-not-exist')).to.equal(null);
    });
  });

  describe('pods on this node', () => {
    async function pod(name: string, node: string, namespace = 'default'): Promise<void> {
      await real.server.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, labels: { app: name } },
        spec: { nodeName: node, containers: [{ name: 'c', image: 'registry.k8s.io/pause:3.9' }] },
      } as never);
    }

    it('list and watch with fieldSelector spec.nodeName see this node’s pods only, as they come and go', async () => {
      await pod('mine-1', 'watch-node-a');
      await pod('theirs-1', 'watch-node-b');
      const listed = await api.pods.listOnNode('watch-node-a');
      expect(listed.pods.map((record) => record.pod.metadata.name)).to.deep.equal(['mine-1']);
      expect(listed.resourceVersion).to.match(/^\d+$/);

      let current: ReadonlyMap<string, PodRecord> = new Map();
      const errors: Error[] = [];
      const watch = new NodePodWatch(api.pods, {
        node: 'watch-node-a',
        retryMs: 200,
        onChange: (pods) => (current = new Map(pods)),
        onError: (error) => errors.push(error),
      });
      await watch.start();
      try {
        expect([...current.keys()]).to.deep.equal(['default/mine-1']);
        await pod('mine-2', 'watch-node-a', 'kube-system');
        await pod('theirs-2', 'watch-node-b');
        await waitFor(() => current.has('kube-system/mine-2'), 5000, 'the new pod through the watch');
        expect([...current.keys()].sort()).to.deep.equal(['default/mine-1', 'kube-system/mine-2']);
        expect(current.get('kube-system/mine-2')!.createdMs).to.be.a('number');
        await real.server.adminConfig().makeApiClient(CoreV1Api).deleteNamespacedPod({ name: 'mine-1', namespace: 'default', gracePeriodSeconds: 0 });
        await waitFor(() => !current.has('default/mine-1'), 5000, 'the deleted pod gone');
        // The agent's own delete (the kube-proxy roll) works on the real server too.
        await api.pods.delete('kube-system', 'mine-2');
        // Without a kubelet a bound pod is deleted gracefully: it gets a deletionTimestamp (or is gone).
        const gone = await real.server
          .adminConfig()
          .makeApiClient(CoreV1Api)
          .readNamespacedPod({ name: 'mine-2', namespace: 'kube-system' })
          .then(
            (left) => left.metadata?.deletionTimestamp !== undefined,
            (error: { code?: number }) => error.code === 404,
          );
        expect(gone).to.equal(true);
        expect(errors).to.deep.equal([]);
      } finally {
        watch.stop();
      }
    });
  });
});
