import { expect } from 'chai';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { cleanupTempDirs, snapshotTree } from '../../helpers/host.js';
import { RealNode, nodeAnnotation, writeRealPolicy } from '../../helpers/real-fleet.js';
import { realApiServerHooks, shippedRbac } from '../../helpers/real-apiserver.js';
import { waitFor } from '../../helpers/wait.js';

function metricValue(text: string, operation: string): number {
  const match = new RegExp(`kube_harden_api_errors_total\\{operation="${operation.replace('.', '\\.')}"\\} (\\d+)`).exec(text);
  return match ? Number(match[1]) : 0;
}

function privilegedPod(name: string, namespace: string, node: string): KubernetesObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { nodeName: node, containers: [{ name: 'c', image: 'nginx', securityContext: { privileged: true } }] },
  } as KubernetesObject;
}

/**
 * A server that differs from what the agent expects in ways it cannot control: coordination.k8s.io/v1
 * switched off (no Lease kind: no restart slots, no leader), watches ended by the server every few
 * seconds (--min-request-timeout), and an Event refused (its namespace is being deleted). The agent
 * logs each failing operation once, counts it in kube_harden_api_errors_total{operation}, and the
 * node's own hardening goes on.
 */
describe('real API server that differs: the agent carries on', function () {
  this.timeout(120_000);
  const real = realApiServerHooks(['--runtime-config=coordination.k8s.io/v1=false', '--min-request-timeout=3']);
  let node: RealNode | null = null;

  before(async function () {
    for (const object of shippedRbac()) await real.server.apply(object);
  });
  after(async function () {
    await node?.stop();
    cleanupTempDirs();
  });

  it('no Lease API, an Event refused, watches that end: each logged once and counted; non-disruptive hardening goes on, disruptive changes wait', async () => {
    const core = real.server.adminConfig().makeApiClient(CoreV1Api);
    await real.server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'doomed' } });
    await real.server.apply(privilegedPod('in-doomed', 'doomed', 'differ-0'));
    // Without a controller manager the namespace stays Terminating: new content (an Event) is refused.
    await core.deleteNamespace({ name: 'doomed' });

    node = await RealNode.create(real.server, 'differ-0', '10.0.5.10');
    const before = snapshotTree(node.root, ['var/lib/kube-harden', 'proc']);
    node.start(writeRealPolicy({ mode: 'enforce', maxConcurrent: 1, healthTimeoutSeconds: 10, leaseDurationSeconds: 10 }));
    await node.ready();

    // The node's own hardening went on: files changed without a restart; the kubelet restart waits for a slot that cannot be had.
    expect(snapshotTree(node.root, ['var/lib/kube-harden', 'proc'])).to.not.deep.equal(before);
    expect(node.kubelet.restarts).to.deep.equal([]);
    await waitFor(
      async () => (await nodeAnnotation(real.server, 'differ-0', 'kube-harden.io/state')) === 'remediating',
      10_000,
      'the node annotated',
    );

    // The server ends the watch after 3-6 s; the agent watches again from where it was (a second watch
    // request in the server's log), and a pod that arrives then is still seen.
    const podWatches = () => real.server.agentRequests().filter((record) => record.verb === 'watch' && record.resource === 'pods');
    await waitFor(() => podWatches().length >= 2, 30_000, 'the pod watch resumed after the server ended it');
    await real.server.apply(privilegedPod('late', 'default', 'differ-0'));
    await waitFor(
      async () =>
        (await core.listNamespacedEvent({ namespace: 'default' })).items.some(
          (event) => event.reason === 'WorkloadViolation' && event.involvedObject.name === 'late',
        ),
      15_000,
      'a WorkloadViolation Event about the late pod',
    );
    const metrics = await node.metrics();
    expect(metricValue(metrics, 'leases.create')).to.be.at.least(2); // the leader and the restart slot, at least once each
    expect(metricValue(metrics, 'events.create')).to.be.at.least(1); // the Event about the pod in the doomed namespace
    expect(metricValue(metrics, 'pods.watch')).to.equal(0); // a watch the server ends normally is resumed, not an error
    const logged = node
      .logText()
      .split('\n')
      .slice(0, -1) // the agent is still running: its last line may be half-written
      .filter((line) => line.includes('Kubernetes API call failed'))
      .map((line) => (JSON.parse(line) as { operation: string }).operation);
    expect(logged.filter((operation) => operation === 'leases.create')).to.have.length(1);
    expect(logged.filter((operation) => operation === 'events.create')).to.have.length(1);
    expect(node.logText()).to.not.match(/\n\s+at /);
  });
});
