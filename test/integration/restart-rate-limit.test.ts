import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { metric, startDaemon } from '../helpers/daemon.js';
import { cleanupTempDirs, copyFixture } from '../helpers/host.js';
import { sleep, waitFor } from '../helpers/wait.js';

/**
 * architecture.md: at most one restart per service per interval (5 minutes as shipped); a restart the
 * loop may not do yet stays pending and is done, behind the gate, once allowed.
 */
describe('daemon: the restart rate limit defers a second kubelet restart, then does it', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('a drift corrected within the interval is written at once; its restart waits for the interval, then runs gated', async () => {
    const root = copyFixture('kubeadm-worker');
    const health = new FakeHealthProbe([true]);
    const { daemon, services, metrics } = await startDaemon(root, { noRestart: false, restartIntervalMs: 2_000, health });
    const config = path.join(root, 'var/lib/kubelet/config.yaml');
    try {
      await daemon.settled();
      expect(services.restarts).to.deep.equal(['kubelet']);
      const gates = health.calls.length;
      writeFileSync(config, readFileSync(config, 'utf8').replace('readOnlyPort: 0', 'readOnlyPort: 10255'));
      await waitFor(() => readFileSync(config, 'utf8').includes('readOnlyPort: 0'), 1_000, 'the drift corrected at once');
      await sleep(300);
      expect(services.restarts, 'the second restart waits for the interval').to.deep.equal(['kubelet']);
      await waitFor(() => services.restarts.length === 2, 5_000, 'the deferred restart once the interval passed');
      expect(health.calls.length, 'behind the gate').to.be.greaterThan(gates);
      expect(await metric(metrics, /kube_harden_service_restarts_total\{service="kubelet",result="restarted"\} (\d+)/)).to.equal(2);
    } finally {
      await daemon.stop();
    }
  });
});
