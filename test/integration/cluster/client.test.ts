import { expect } from 'chai';
import { ConflictError, type ClusterApi, type LeaseRecord } from '../../../agent/cluster/api.js';
import { clusterApi, loadKubeConfig } from '../../../agent/cluster/client.js';
import { FakeApiServer } from '../../fakes/fake-api-server.js';

const slot = (resourceVersion: string | null, holder: string | null, renewTimeMs: number): LeaseRecord => ({
  name: 'kube-harden-restart-0',
  namespace: 'kube-harden',
  resourceVersion,
  holderIdentity: holder,
  leaseDurationSeconds: 60,
  acquireTimeMs: renewTimeMs,
  renewTimeMs,
  labels: { 'app.kubernetes.io/managed-by': 'kube-harden' },
});

describe('cluster client: the real @kubernetes/client-node over HTTP against the fake API server', () => {
  let server: FakeApiServer;
  let api: ClusterApi;

  beforeEach(async () => {
    server = await new FakeApiServer().start();
    api = clusterApi(loadKubeConfig({ kind: 'kubeconfig', path: await server.kubeconfig() }));
  });
  afterEach(() => server.stop());

  it('creates, reads and replaces a Lease with microsecond times, and a stale resourceVersion is a ConflictError', async () => {
    expect(await api.leases.get('kube-harden', 'kube-harden-restart-0')).to.equal(null);
    const created = await api.leases.create(slot(null, 'node-a', 1_700_000_000_123));
    expect(created).to.include({ holderIdentity: 'node-a', renewTimeMs: 1_700_000_000_123, leaseDurationSeconds: 60 });
    const stored = server.objects.get('leases/kube-harden/kube-harden-restart-0')!;
    expect((stored.spec as { renewTime: string }).renewTime).to.equal('2023-11-14T22:13:20.123000Z');
    const renewed = await api.leases.replace({ ...created, renewTimeMs: 1_700_000_005_000 });
    expect(renewed.resourceVersion).to.not.equal(created.resourceVersion);
    let error: unknown;
    await api.leases.replace({ ...created, holderIdentity: 'node-b' }).catch((caught: unknown) => (error = caught));
    expect(error).to.be.instanceOf(ConflictError);
    await api.leases.create(slot(null, 'node-b', 1)).catch((caught: unknown) => (error = caught));
    expect(error).to.be.instanceOf(ConflictError);
  });

  it('merge-patches node annotations and reads Ready', async () => {
    server.putNode('node-a', 'True');
    await api.nodes.patchAnnotations('node-a', { 'kube-harden.io/state': 'compliant' });
    const node = await api.nodes.get('node-a');
    expect(node).to.include({ name: 'node-a', ready: 'True', uid: 'uid-node-a' });
    expect(node.annotations).to.deep.equal({ 'kube-harden.io/state': 'compliant' });
    expect(server.requests.filter((request) => request.method === 'PATCH')).to.have.length(1);
  });

  it('creates an Event on the Node and patches its count', async () => {
    await api.events.create({
      name: 'node-a.1',
      namespace: 'default',
      type: 'Warning',
      reason: 'RolledBack',
      message: 'Rolled back kubelet.tls-min-version',
      count: 1,
      firstTimestampMs: 1_700_000_000_000,
      lastTimestampMs: 1_700_000_000_000,
      involvedObject: { kind: 'Node', name: 'node-a', uid: 'uid-node-a' },
      source: { component: 'kube-harden', host: 'node-a' },
    });
    await api.events.patchCount('default', 'node-a.1', 3, 1_700_000_060_000);
    const [event] = server.list('events', 'default') as unknown as {
      count: number;
      reason: string;
      involvedObject: { kind: string };
      lastTimestamp: string;
    }[];
    expect(event).to.include({ count: 3, reason: 'RolledBack' });
    expect(event!.involvedObject.kind).to.equal('Node');
    expect(Date.parse(event!.lastTimestamp)).to.equal(1_700_000_060_000);
  });

  it('turns an HTTP error into a message that names the object', async () => {
    server.failNext('GET', /\/nodes\/node-a$/, 500);
    server.putNode('node-a');
    let error: Error | undefined;
    await api.nodes.get('node-a').catch((caught: Error) => (error = caught));
    expect(error?.message).to.match(/^node node-a: HTTP 500/);
  });
});
