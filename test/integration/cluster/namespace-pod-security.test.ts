import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { NAMESPACE_POD_SECURITY } from '../../../agent/rules/workloads/namespace-rules.js';
import type { AgentMetrics } from '../../../agent/telemetry/metrics.js';
import { fleetHooks, simulatedNode, writeFleetPolicy } from '../../helpers/fleet.js';
import { tempDir } from '../../helpers/host.js';
import { metric } from '../../helpers/daemon.js';
import { waitFor } from '../../helpers/wait.js';

const SERIES = new RegExp(`kube_harden_workload_violations\\{rule="${NAMESPACE_POD_SECURITY.replace('.', '\\.')}",namespace="shop"\\} (\\d+)`);

function auditPolicy(): string {
  const file = path.join(tempDir('kh-policy-'), 'policy.yaml');
  writeFileSync(file, 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nmode: audit\n');
  return file;
}

const shopSeries = (metrics: AgentMetrics) => metric(metrics, SERIES);

/**
 * The daemon's part of workload.namespace-pod-security: Namespaces are cluster-wide, so they are judged
 * where the cluster-wide settings are (the leader; every agent in audit mode, where none is elected),
 * and every agent that reports one makes the same Event, so there is one.
 */
describe('daemon: namespaces without a Pod Security level, reported once for the fleet', function () {
  this.timeout(60_000);
  const fleet = fleetHooks();

  function namespaces() {
    fleet.server.putNamespace('shop');
    fleet.server.putNamespace('team', { 'pod-security.kubernetes.io/enforce': 'restricted' });
    fleet.server.putNamespace('kube-harden', { 'pod-security.kubernetes.io/enforce': 'privileged' });
  }

  function shopEvents() {
    return fleet.server.list('events', 'shop') as unknown as { reason: string; message: string; involvedObject: { kind: string; name: string } }[];
  }

  it('enforce: only the leader lists namespaces and reports them (metric, one Event on the Namespace); a label fixes it at the next resync', async () => {
    namespaces();
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds: 10, leaseDurationSeconds: 5 });
    for (const name of ['node-0', 'node-1']) fleet.nodes.push(await simulatedNode(fleet.server, name, policy));
    await fleet.nodes[0]!.daemon.start(); // the first agent becomes the leader
    await fleet.nodes[1]!.daemon.start();
    const [leader, other] = fleet.nodes as [(typeof fleet.nodes)[0], (typeof fleet.nodes)[0]];

    expect(await shopSeries(leader.metrics)).to.equal(1);
    expect(await shopSeries(other.metrics)).to.equal(0);
    expect(await leader.metrics.text()).to.not.match(/namespace-pod-security",namespace="(team|kube-harden)"/);
    expect(fleet.server.requests.filter((request) => request.path === '/api/v1/namespaces')).to.have.length(1);
    await waitFor(() => shopEvents().length > 0, 5000, 'the Event on Namespace shop');
    const events = shopEvents();
    expect(events.map((event) => `${event.involvedObject.kind}/${event.involvedObject.name} ${event.reason}`)).to.deep.equal([
      'Namespace/shop WorkloadViolation',
    ]);
    expect(events[0]!.message).to.contain(`${NAMESPACE_POD_SECURITY}: no pod-security.kubernetes.io/enforce label`);

    fleet.server.putNamespace('shop', { 'pod-security.kubernetes.io/enforce': 'baseline' });
    leader.daemon.trigger('resync');
    await leader.daemon.settled();
    expect(await shopSeries(leader.metrics)).to.equal(0);
    // A policy change lists them again too (exemptions or the minimum level may have changed).
    leader.daemon.trigger('policy');
    await leader.daemon.settled();
    expect(fleet.server.requests.filter((request) => request.path === '/api/v1/namespaces')).to.have.length(3);
  });

  it('namespace Events have their own rate limit: twelve unlabelled namespaces make ten Events, and the Node’s own Event still goes out', async () => {
    for (let index = 0; index < 12; index++) fleet.server.putNamespace(`team-${String(index).padStart(2, '0')}`);
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds: 10, leaseDurationSeconds: 5 });
    fleet.nodes.push(await simulatedNode(fleet.server, 'node-0', policy));
    await fleet.nodes[0]!.daemon.start();
    const namespaceEvents = () =>
      (fleet.server.list('events') as unknown as { involvedObject: { kind: string } }[]).filter((event) => event.involvedObject.kind === 'Namespace');
    await waitFor(() => namespaceEvents().length === 10, 5000, 'ten namespace Events');
    await waitFor(
      () => (fleet.server.list('events', 'default') as unknown as { reason: string }[]).some((event) => event.reason === 'Remediated'),
      5000,
      'the Node’s Remediated Event',
    );
    expect(await fleet.nodes[0]!.metrics.text()).to.match(/namespace-pod-security",namespace="team-11"\} 1/);
  });

  it('audit mode: no leader, so every agent reports the namespace, and their Events converge on one', async () => {
    namespaces();
    const policy = auditPolicy();
    for (const name of ['node-0', 'node-1']) fleet.nodes.push(await simulatedNode(fleet.server, name, policy));
    await Promise.all(fleet.nodes.map((node) => node.daemon.start()));
    for (const node of fleet.nodes) expect(await shopSeries(node.metrics), node.name).to.equal(1);
    // Both agents created the Event under the same name: the second create was a conflict.
    const creates = () => fleet.server.requests.filter((request) => request.method === 'POST' && request.path === '/api/v1/namespaces/shop/events');
    await waitFor(() => creates().length === 2, 5000, 'both agents’ Event creates');
    expect(
      creates()
        .map((request) => request.status)
        .sort(),
    ).to.deep.equal([201, 409]);
    expect(shopEvents()).to.have.length(1);
  });
});
