import { expect } from 'chai';
import type { FakeApiServer } from '../../fakes/fake-api-server.js';
import { fleetHooks, simulatedNode, writeFleetPolicy } from '../../helpers/fleet.js';
import { writePolicyFile } from '../../helpers/policy.js';
import { waitFor } from '../../helpers/wait.js';

const PAUSE = 'kube-harden.io/paused';

function state(server: FakeApiServer, node: string): string | undefined {
  return (server.node(node)?.metadata.annotations as Record<string, string> | undefined)?.['kube-harden.io/state'];
}

/** Issue 21: the pause annotation on the agent's DaemonSet, through the enforcement session. */
describe('fleet: the pause switch holds a rollout after the node in progress', function () {
  this.timeout(60_000);
  const fleet = fleetHooks();

  it('pausing during the first restart lets it finish its gate, holds the other four (annotated paused), and unpausing resumes', async () => {
    const daemonSet = fleet.server.putAgentDaemonSet();
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds: 10, leaseDurationSeconds: 5 });
    const order: string[] = [];
    const pause = (value: string | null) => {
      const annotations = daemonSet.metadata.annotations as Record<string, string>;
      if (value === null) delete annotations[PAUSE];
      else annotations[PAUSE] = value;
    };
    for (let index = 0; index < 5; index++) {
      const name = `node-${index}`;
      fleet.nodes.push(
        await simulatedNode(
          fleet.server,
          name,
          policy,
          {
            startDelayMs: 200,
            onRestart: () => {
              order.push(name);
              // The operator pauses the fleet while the first node restarts.
              if (order.length === 1) pause('true: change freeze');
            },
          },
          { pauseSwitch: true },
        ),
      );
    }
    await Promise.all(fleet.nodes.map((node) => node.daemon.start()));
    await waitFor(() => order.length === 1 && state(fleet.server, order[0]!) === 'compliant', 20_000, 'the first node finished its gate');
    const held = fleet.nodes.filter((node) => node.name !== order[0]);
    for (const node of held) {
      node.daemon.trigger('poll');
      await node.daemon.settled();
    }
    expect(order, 'nothing else restarted while paused').to.have.length(1);
    for (const node of held) expect(state(fleet.server, node.name), node.name).to.equal('paused');
    expect(await held[0]!.metrics.text()).to.match(/^kube_harden_disruption_blocked\{reason="paused"\} 1$/m);

    pause(null);
    for (const node of held) node.daemon.trigger('poll');
    await waitFor(() => order.length === 5, 30_000, 'the rollout resumed');
    await waitFor(() => fleet.nodes.every((node) => state(fleet.server, node.name) === 'compliant'), 20_000, 'every node compliant');
    expect(new Set(order).size).to.equal(5);
  });

  it('a blocking pod on the node holds its kubelet restart, and the node says why; when the pod is gone it goes ahead', async () => {
    const policy = writePolicyFile([
      'mode: enforce',
      'restarts:',
      '  maxConcurrent: 1',
      '  healthTimeoutSeconds: 10',
      '  leaseDurationSeconds: 5',
      '  blockers: { podSelector: "kube-harden.io/block-restarts=true" }',
    ]);
    const restarts: string[] = [];
    const node = await simulatedNode(fleet.server, 'batch-node', policy, { onRestart: () => restarts.push('kubelet') });
    fleet.nodes.push(node);
    fleet.server.putPod({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'nightly-etl', namespace: 'jobs', labels: { 'kube-harden.io/block-restarts': 'true' } },
      spec: { nodeName: 'batch-node', containers: [{ name: 'etl', image: 'etl' }] },
      status: { phase: 'Running' },
    });
    await node.daemon.start();
    expect(restarts).to.deep.equal([]);
    expect(state(fleet.server, 'batch-node')).to.equal('blocked');
    const held = (fleet.server.list('events', 'default') as unknown as { reason: string; message: string }[]).find(
      (event) => event.reason === 'DisruptionHeld',
    );
    expect(held?.message ?? '', 'the Event says why').to.contain('nightly-etl');
    fleet.server.objects.delete('pods/jobs/nightly-etl');
    node.daemon.trigger('poll');
    await waitFor(() => restarts.length === 1, 10_000, 'the restart once the pod is gone');
    await waitFor(() => state(fleet.server, 'batch-node') === 'compliant', 10_000, 'compliant');
  });
});
