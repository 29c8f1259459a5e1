import { expect } from 'chai';
import type { ClusterPolicyReport } from '../../../agent/core/policy-report.js';
import { fleetHooks, simulatedNode } from '../../helpers/fleet.js';
import { read } from '../../helpers/host.js';
import { writePolicyFile } from '../../helpers/policy.js';

function podPidsLimit(root: string): string | null {
  return /^podPidsLimit: (\d+)$/m.exec(read(root, '/var/lib/kubelet/config.yaml'))?.[1] ?? null;
}

describe('node pools end to end: the daemon reads its Node labels', function () {
  this.timeout(120_000);
  const fleet = fleetHooks();

  it('a matching node enforces its pool value, the others the default; a node relabelled out of the pool follows at the next resync', async () => {
    const policy = writePolicyFile([
      'mode: enforce',
      'restarts: { maxConcurrent: 2, healthTimeoutSeconds: 30, leaseDurationSeconds: 60 }',
      'overrides:',
      '  - name: inference',
      '    nodeSelector: { matchLabels: { pool: inference } }',
      '    rules:',
      '      kubelet.pod-pids-limit: { value: 16384 }',
    ]);
    const gpu = await simulatedNode(fleet.server, 'gpu-1', policy, {}, { internalIP: '10.0.0.11' });
    const cpu = await simulatedNode(fleet.server, 'cpu-1', policy, {}, { internalIP: '10.0.0.12' });
    fleet.nodes.push(gpu, cpu);
    fleet.server.node('gpu-1')!.metadata.labels = { pool: 'inference' };
    fleet.server.node('cpu-1')!.metadata.labels = { pool: 'batch' };
    await Promise.all([gpu.daemon.start(), cpu.daemon.start()]);
    await Promise.all([gpu.daemon.settled(), cpu.daemon.settled()]);
    expect(podPidsLimit(gpu.root)).to.equal('16384');
    expect(podPidsLimit(cpu.root)).to.equal('4096');
    const expected = (node: string) =>
      (fleet.server.get('clusterpolicyreports', '', `kube-harden-${node}`) as unknown as ClusterPolicyReport).results.find(
        (result) => result.policy === 'kubelet.pod-pids-limit',
      )!;
    expect(expected('gpu-1').properties.expected).to.contain('16384');
    expect(expected('cpu-1').properties.expected).to.contain('4096');
    // Like kube_harden_rule_status, a report shows the node as the reconcile observed it before fixing:
    // the fix shows at the next reconcile (the 10 s sysctl poll in production).
    expect([expected('gpu-1').result, expected('cpu-1').result]).to.deep.equal(['fail', 'fail']);
    gpu.daemon.trigger('poll');
    cpu.daemon.trigger('poll');
    await Promise.all([gpu.daemon.settled(), cpu.daemon.settled()]);
    expect([expected('gpu-1').result, expected('cpu-1').result]).to.deep.equal(['pass', 'pass']);

    // Out of the pool: the default (stricter) limit applies at the next resync. (Into the pool changes
    // nothing on a node already at 4096: a lower PID limit passes, the rule's value is a maximum.)
    fleet.server.node('gpu-1')!.metadata.labels = { pool: 'batch' };
    gpu.daemon.trigger('resync');
    await gpu.daemon.settled();
    expect(podPidsLimit(gpu.root)).to.equal('4096');
    expect(expected('gpu-1').properties.expected).to.contain('4096');
  });
});
