import { expect } from 'chai';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeApiServer } from '../../fakes/fake-api-server.js';
import { fleetHooks, simulatedNode, writeFleetPolicy, type SimulatedNode } from '../../helpers/fleet.js';
import { waitFor } from '../../helpers/wait.js';

type Lease = { spec: { holderIdentity?: string; renewTime?: string; leaseDurationSeconds?: number }; metadata: { resourceVersion: string } };

function annotation(server: FakeApiServer, node: string, key: string): string | undefined {
  return (server.node(node)?.metadata.annotations as Record<string, string> | undefined)?.[key];
}

function events(server: FakeApiServer, reason: string): { message: string; count: number; type: string; involvedObject: { name: string } }[] {
  return (
    server.list('events', 'default') as unknown as {
      reason: string;
      message: string;
      count: number;
      type: string;
      involvedObject: { name: string };
    }[]
  ).filter((event) => event.reason === reason);
}

/** The restart slot Leases (the leader's Lease lives in the same namespace). */
function restartSlots(server: FakeApiServer): Lease[] {
  return server.list('leases', 'kube-harden').filter((lease) => lease.metadata.name.startsWith('kube-harden-restart-')) as unknown as Lease[];
}

async function metric(node: SimulatedNode, pattern: RegExp): Promise<number> {
  const match = pattern.exec(await node.metrics.text());
  return match ? Number(match[1]) : 0;
}

describe('fleet: Lease-limited restarts, health gate, rollback, node status and Events', function () {
  this.timeout(120_000);
  const fleet = fleetHooks();

  it('twenty agents with maxConcurrent 1 restart one node at a time, each proving health before the next', async () => {
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds: 10, leaseDurationSeconds: 5 });
    const disrupted = new Set<string>();
    let mostAtOnce = 0;
    const order: string[] = [];
    for (let index = 0; index < 20; index++) {
      const name = `node-${String(index).padStart(2, '0')}`;
      fleet.nodes.push(
        await simulatedNode(fleet.server, name, policy, {
          startDelayMs: 40,
          onRestart: () => {
            disrupted.add(name);
            order.push(name);
            mostAtOnce = Math.max(mostAtOnce, disrupted.size);
          },
          // Disrupted until the new kubelet reports; the slot is released only after the agent saw that.
          onSettled: () => disrupted.delete(name),
        }),
      );
    }
    await Promise.all(fleet.nodes.map((node) => node.daemon.start()));
    await waitFor(() => fleet.nodes.every((node) => node.kubelet.restarts.length >= 1), 90_000, 'every node restarted once');
    await waitFor(
      () => fleet.nodes.every((node) => annotation(fleet.server, node.name, 'kube-harden.io/state') === 'compliant'),
      10_000,
      'every node compliant',
    );

    expect(mostAtOnce).to.equal(1);
    expect(new Set(order).size).to.equal(20);
    expect(fleet.nodes.every((node) => node.kubelet.restarts.length === 1)).to.equal(true);
    // One slot Lease, free at the end; every node's Lease renewed after its restart.
    const slots = restartSlots(fleet.server);
    expect(slots).to.have.length(1);
    expect(slots[0]!.spec.holderIdentity).to.equal(undefined);
    for (const node of fleet.nodes) {
      expect(events(fleet.server, 'Remediated').some((event) => event.involvedObject.name === node.name)).to.equal(true);
      expect(annotation(fleet.server, node.name, 'kube-harden.io/last-reconcile')).to.match(/^\d{4}-\d\d-\d\dT/);
    }
    // Nodes that waited for the slot did their first hardening later: not drift (issue 14, item 11).
    expect(events(fleet.server, 'DriftCorrected'), 'DriftCorrected Events').to.deep.equal([]);
    for (const node of fleet.nodes) expect(await node.metrics.text(), node.name).to.not.match(/^kube_harden_drift_corrections_total\{/m);
  });

  it('without the semaphore (maxConcurrent 20) the same fleet is disrupted all at once: the limit is what serialises it', async () => {
    const policy = writeFleetPolicy({ maxConcurrent: 20, healthTimeoutSeconds: 10, leaseDurationSeconds: 5 });
    const disrupted = new Set<string>();
    let mostAtOnce = 0;
    for (let index = 0; index < 6; index++) {
      const name = `node-${index}`;
      fleet.nodes.push(
        await simulatedNode(fleet.server, name, policy, {
          startDelayMs: 300,
          onRestart: () => {
            disrupted.add(name);
            mostAtOnce = Math.max(mostAtOnce, disrupted.size);
          },
          onSettled: () => disrupted.delete(name),
        }),
      );
    }
    await Promise.all(fleet.nodes.map((node) => node.daemon.start()));
    await waitFor(() => fleet.nodes.every((node) => node.kubelet.restarts.length >= 1), 30_000, 'every node restarted');
    expect(mostAtOnce).to.be.greaterThan(1);
  });

  it('a dead holder blocks the fleet no longer than the lease duration', async () => {
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds: 10, leaseDurationSeconds: 2 });
    // A node that took the slot and died: it never renews again.
    fleet.server.objects.set('leases/kube-harden/kube-harden-restart-0', {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'kube-harden-restart-0', namespace: 'kube-harden', resourceVersion: '1' },
      spec: { holderIdentity: 'node-dead', leaseDurationSeconds: 2, renewTime: new Date().toISOString(), acquireTime: new Date().toISOString() },
    });
    let restartedAt = 0;
    const node = await simulatedNode(fleet.server, 'node-a', policy, { onRestart: () => (restartedAt = Date.now()) });
    fleet.nodes.push(node);
    const started = Date.now();
    await node.daemon.start();
    expect(node.kubelet.restarts).to.deep.equal([]);
    expect(annotation(fleet.server, 'node-a', 'kube-harden.io/state')).to.equal('remediating');
    await waitFor(() => restartedAt > 0, 10_000, 'the restart after the dead holder expired');
    const waited = restartedAt - started;
    expect(waited).to.be.at.least(2000);
    expect(waited).to.be.below(2000 + 2500);
    await waitFor(() => annotation(fleet.server, 'node-a', 'kube-harden.io/state') === 'compliant', 10_000, 'compliant');
  });

  it('a kubelet that refuses the new config is rolled back, the node marked degraded with an Event and a metric, and the change is not retried until the file changes', async () => {
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds: 2, leaseDurationSeconds: 5 });
    const node = await simulatedNode(fleet.server, 'node-a', policy, { refuses: (config) => /tlsMinVersion/.test(config) });
    fleet.nodes.push(node);
    const config = path.join(node.root, 'var/lib/kubelet/config.yaml');
    const original = readFileSync(config, 'utf8');
    await node.daemon.start();

    expect(node.kubelet.restarts).to.deep.equal(['kubelet', 'kubelet']);
    expect(readFileSync(config, 'utf8')).to.equal(original);
    expect(annotation(fleet.server, 'node-a', 'kube-harden.io/state')).to.equal('degraded');
    await node.daemon.settled();
    await waitFor(() => events(fleet.server, 'RolledBack').length === 1, 5000, 'the RolledBack event');
    const [rolledBack] = events(fleet.server, 'RolledBack');
    expect(rolledBack!.type).to.equal('Warning');
    expect(rolledBack!.message).to.match(/kubelet\.tls-min-version.*no kubelet process is running/);
    expect(await metric(node, /kube_harden_rollbacks_total\{service="kubelet"\} (\d+)/)).to.equal(1);
    // Healthy again after the rollback: the slot is free for the rest of the fleet.
    const [slot] = restartSlots(fleet.server);
    expect(slot!.spec.holderIdentity).to.equal(undefined);
    expect(existsSync(path.join(node.root, 'var/lib/kube-harden/rolled-back.json'))).to.equal(true);

    // Later reconciles do not try again.
    node.daemon.trigger('resync');
    await node.daemon.settled();
    node.daemon.trigger('event');
    await node.daemon.settled();
    expect(node.kubelet.restarts).to.have.length(2);
    expect(annotation(fleet.server, 'node-a', 'kube-harden.io/state')).to.equal('degraded');

    // An edit of the file is a new situation: the change is tried (and rolled back) once more.
    writeFileSync(config, `${original}# edited by an operator\n`);
    await waitFor(() => node.kubelet.restarts.length === 4, 10_000, 'the retry after the file changed');
    await node.daemon.settled();
    expect(await metric(node, /kube_harden_rollbacks_total\{service="kubelet"\} (\d+)/)).to.equal(2);
  });

  it('a node still unhealthy after its rollback keeps the slot, so the rollout stops there until it recovers', async () => {
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds: 1, leaseDurationSeconds: 5 });
    let kubeletBroken = true;
    const broken = await simulatedNode(fleet.server, 'node-a', policy, { refuses: () => kubeletBroken });
    const waiting = await simulatedNode(fleet.server, 'node-b', policy);
    fleet.nodes.push(broken, waiting);
    await broken.daemon.start();
    expect(broken.kubelet.restarts).to.deep.equal(['kubelet', 'kubelet']);
    await waiting.daemon.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(waiting.kubelet.restarts).to.deep.equal([]);
    expect(annotation(fleet.server, 'node-a', 'kube-harden.io/state')).to.equal('degraded');
    expect(annotation(fleet.server, 'node-b', 'kube-harden.io/state')).to.equal('remediating');
    const [slot] = restartSlots(fleet.server);
    expect(slot!.spec.holderIdentity).to.equal('node-a');

    // Someone repairs node-a: its agent sees it healthy, gives the slot back, and the rollout goes on.
    kubeletBroken = false;
    await broken.kubelet.restart('kubelet');
    broken.daemon.trigger('event');
    await waitFor(() => waiting.kubelet.restarts.length === 1, 10_000, 'node-b restarting after node-a recovered');
  });

  it('a kubelet restarted without its new flags (systemd not reloaded) fails the gate and is rolled back', async () => {
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds: 1, leaseDurationSeconds: 5 });
    const node = await simulatedNode(fleet.server, 'node-a', policy, { staleArgv: true });
    fleet.nodes.push(node);
    // A flag in the env file: the gate must see it on the new process's command line.
    const flags = path.join(node.root, 'var/lib/kubelet/kubeadm-flags.env');
    writeFileSync(flags, readFileSync(flags, 'utf8').replace('KUBELET_KUBEADM_ARGS="', 'KUBELET_KUBEADM_ARGS="--read-only-port=10255 '));
    await node.daemon.start();
    await node.daemon.settled();
    await waitFor(() => events(fleet.server, 'RolledBack').length === 1, 5000, 'the RolledBack event');
    expect(events(fleet.server, 'RolledBack')[0]!.message).to.match(/lacks --/);
  });
});
