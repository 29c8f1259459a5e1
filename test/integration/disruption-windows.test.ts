import { expect } from 'chai';
import { createDisruptionGate, ReportedDisruptionGate } from '../../agent/cluster/disruption-gate.js';
import type { AlertSource } from '../../agent/cluster/prometheus-alerts.js';
import { silentLogger } from '../../agent/telemetry/logger.js';
import { FakeServiceManager } from '../fakes/fake-service-manager.js';
import { metric, startDaemon } from '../helpers/daemon.js';
import { cleanupTempDirs, copyFixture, read } from '../helpers/host.js';
import { writePolicyFile } from '../helpers/policy.js';

const noAlerts: AlertSource = { alerts: async () => [] };

/**
 * Issue 21 through the enforcement session: a kubelet restart due outside the maintenance window waits
 * (its changes are not written, so the running kubelet and its files agree) and happens when the window
 * opens; non-disruptive changes never wait.
 */
describe('maintenance windows through the enforcement session (fake clock)', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('a restart due at 14:00 with a 02:00-04:00 window waits, and happens at 02:00', async () => {
    const root = copyFixture('kubeadm-worker');
    const policy = writePolicyFile(['restarts:', '  windows:', '    - { start: "02:00", end: "04:00", timeZone: UTC }']);
    const clock = { now: Date.parse('2026-12-01T14:00:00Z') };
    const services = new FakeServiceManager();
    const { daemon, metrics } = await startDaemon(root, {
      policyFile: policy,
      noRestart: false,
      services,
      pollMs: 60_000,
      now: () => clock.now,
      disruption: (recorder, current) =>
        new ReportedDisruptionGate(
          createDisruptionGate({
            policy: () => current().restarts,
            nodeName: 'n',
            cluster: null,
            daemonSet: null,
            alerts: noAlerts,
            logger: silentLogger(),
          }),
          recorder,
          silentLogger(),
        ),
    });
    try {
      // Outside the window: the kubelet's settings wait with their restart; the sysctls and modes do not.
      expect(services.restarts).to.deep.equal([]);
      expect(read(root, 'var/lib/kubelet/config.yaml')).to.not.contain('podPidsLimit');
      expect(read(root, 'etc/sysctl.d/90-kube-harden.conf')).to.contain('kernel.panic = 10');
      expect(await metric(metrics, /^kube_harden_disruption_blocked\{reason="window"\} (\d+)$/m)).to.equal(1);

      clock.now = Date.parse('2026-12-02T01:59:00Z');
      daemon.trigger('poll');
      await daemon.settled();
      expect(services.restarts).to.deep.equal([]);

      clock.now = Date.parse('2026-12-02T02:00:00Z');
      daemon.trigger('poll');
      await daemon.settled();
      expect(services.restarts).to.deep.equal(['kubelet']);
      expect(read(root, 'var/lib/kubelet/config.yaml')).to.contain('podPidsLimit: 4096');
      expect(await metric(metrics, /^kube_harden_disruption_blocked\{reason="window"\} (\d+)$/m)).to.equal(0);
    } finally {
      await daemon.stop();
    }
  });
});
