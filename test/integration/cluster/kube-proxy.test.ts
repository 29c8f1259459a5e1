import { expect } from 'chai';
import { parseDocument } from 'yaml';
import { parseVersion } from '../../../agent/core/version.js';
import { validateKubeProxyConfig } from '../../../agent/rules/kube-proxy/config-map.js';
import { FakeApiServer } from '../../fakes/fake-api-server.js';
import { PROXY_CONF, kubeProxyPod, kubeSystem } from '../../helpers/kube-system.js';
import { fleetHooks, simulatedNode, writeFleetPolicy } from '../../helpers/fleet.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The DaemonSet controller and kube-proxy itself: a deleted pod comes back on its node, reading the
 * ConfigMap as it is now, and is Ready only if kube-proxy of `running` accepts that configuration (and
 * this is not the roll told to fail, counting from 1). Records the most nodes whose kube-proxy was down at once.
 */
function daemonSetController(server: FakeApiServer, running: string, failRoll: number | null = null) {
  const record = { order: [] as string[], down: new Set<string>(), mostDown: 0 };
  server.onDelete = (kind, pod) => {
    if (kind !== 'pods') return;
    const node = (pod.spec as { nodeName: string }).nodeName;
    record.order.push(node);
    record.down.add(node);
    record.mostDown = Math.max(record.mostDown, record.down.size);
    setTimeout(() => {
      const conf = (server.get('configmaps', 'kube-system', 'kube-proxy')!.data as Record<string, string>)['config.conf']!;
      const ok = validateKubeProxyConfig(conf, parseVersion(running)!).length === 0 && record.order.length !== failRoll;
      server.putPod(kubeProxyPod(node, record.order.length, new Date().toISOString(), ok));
      if (ok) record.down.delete(node);
    }, 30);
  };
  return record;
}

function proxyConfig(server: FakeApiServer): Record<string, unknown> {
  return parseDocument((server.get('configmaps', 'kube-system', 'kube-proxy')!.data as Record<string, string>)['config.conf']!).toJS();
}

function rollState(server: FakeApiServer): string | undefined {
  return (server.get('configmaps', 'kube-system', 'kube-proxy')!.metadata.annotations as Record<string, string>)['kube-harden.io/roll-state'];
}

describe('cluster settings: kube-proxy ConfigMap and roll, kubeadm kubelet-config', function () {
  this.timeout(60_000);
  const fleet = fleetHooks();

  async function startFleet(names: readonly string[], ips: readonly string[], healthTimeoutSeconds = 10) {
    const policy = writeFleetPolicy({ maxConcurrent: 1, healthTimeoutSeconds, leaseDurationSeconds: 5 });
    for (const [index, name] of names.entries())
      fleet.nodes.push(await simulatedNode(fleet.server, name, policy, {}, { internalIP: ips[index]!, rollCheckMs: 100 }));
    // The first agent to start becomes the leader, and its node is the canary.
    await fleet.nodes[0]!.daemon.start();
    await Promise.all(fleet.nodes.slice(1).map((node) => node.daemon.start()));
  }

  it('kube-proxy 1.31: nodePortAddresses [primary], rolled one node at a time with the leader as canary; kubelet-config keeps node-specific fields out', async () => {
    const names = ['node-0', 'node-1', 'node-2'];
    kubeSystem(fleet.server, 'v1.31.4', names);
    const controller = daemonSetController(fleet.server, 'v1.31.4');
    await startFleet(names, ['10.0.1.5', '10.0.1.6', '10.0.12.7']);
    await waitFor(() => controller.order.length === 3 && controller.down.size === 0, 20_000, 'every kube-proxy rolled');

    expect(proxyConfig(fleet.server).nodePortAddresses).to.deep.equal(['primary']);
    expect(controller.order[0]).to.equal('node-0');
    expect(controller.mostDown).to.equal(1);
    expect(rollState(fleet.server)).to.equal('rolling');
    // Everything else in config.conf is kept byte for byte.
    const conf = (fleet.server.get('configmaps', 'kube-system', 'kube-proxy')!.data as Record<string, string>)['config.conf']!;
    expect(conf.replace('nodePortAddresses: [ primary ]', 'nodePortAddresses: null')).to.equal(PROXY_CONF);

    const kubelet = parseDocument((fleet.server.get('configmaps', 'kube-system', 'kubelet-config')!.data as Record<string, string>).kubelet!).toJS();
    // Judged by effective value like a node: TLS 1.2 and the read-only port off are already the defaults.
    expect(kubelet).to.include({ podPidsLimit: 4096, streamingConnectionIdleTimeout: '5m' });
    expect(kubelet.tlsCipherSuites).to.have.length(6);
    expect(kubelet).to.not.have.property('address');
    expect(kubelet).to.not.have.property('protectKernelDefaults');
    const leaderMetrics = await fleet.nodes[0]!.metrics.text();
    expect(leaderMetrics).to.contain('kube_harden_rule_status{rule="kube-proxy.nodeport-addresses",status="fail"} 1');
  });

  it('kube-proxy 1.30: CIDRs covering every node (primary would crash it), and a new node is covered at the next resync', async () => {
    const names = ['node-0', 'node-1'];
    kubeSystem(fleet.server, 'v1.30.8', names);
    const controller = daemonSetController(fleet.server, 'v1.30.8');
    await startFleet(names, ['10.0.1.5', '10.0.12.7']);
    await waitFor(() => controller.order.length === 2 && controller.down.size === 0, 20_000, 'both kube-proxies rolled');
    expect(proxyConfig(fleet.server).nodePortAddresses).to.deep.equal(['10.0.0.0/20']);

    fleet.server.putNode('node-9', 'True', 'v1.30.8', '10.0.64.3');
    fleet.nodes[0]!.daemon.trigger('resync');
    await waitFor(
      () => JSON.stringify(proxyConfig(fleet.server).nodePortAddresses) === JSON.stringify(['10.0.0.0/17']),
      10_000,
      'the new node covered',
    );
  });

  it('stops the roll at the first node whose new kube-proxy is not Ready; the leader restores the previous configuration and does not retry', async () => {
    const names = ['node-0', 'node-1', 'node-2'];
    kubeSystem(fleet.server, 'v1.31.4', names);
    // The roll after the canary fails, whichever node it is.
    const controller = daemonSetController(fleet.server, 'v1.31.4', 2);
    await startFleet(names, ['10.0.1.5', '10.0.1.6', '10.0.1.7'], 1);
    await waitFor(() => rollState(fleet.server) === 'halted', 20_000, 'the roll halted');
    fleet.nodes[0]!.daemon.trigger('resync');
    await waitFor(() => rollState(fleet.server) === 'reverted', 10_000, 'the previous configuration restored');

    expect(controller.order).to.have.length(2);
    expect(controller.order[0]).to.equal('node-0');
    expect(proxyConfig(fleet.server).nodePortAddresses).to.equal(null);
    const reasons = () => (fleet.server.list('events', 'kube-system') as unknown as { reason: string }[]).map((event) => event.reason);
    await waitFor(() => reasons().includes('KubeProxyRollHalted'), 5000, 'the KubeProxyRollHalted event on the ConfigMap');
    // Not tried again under the same policy.
    fleet.nodes[0]!.daemon.trigger('resync');
    await fleet.nodes[0]!.daemon.settled();
    expect(proxyConfig(fleet.server).nodePortAddresses).to.equal(null);
    expect(await fleet.nodes[0]!.metrics.text()).to.contain('kube_harden_rule_status{rule="kube-proxy.nodeport-addresses",status="fail"} 1');
  });
});
