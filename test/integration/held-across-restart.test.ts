import { expect } from 'chai';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { startDaemon } from '../helpers/daemon.js';
import { cleanupTempDirs, copyFixture } from '../helpers/host.js';
import { writePolicyFile } from '../helpers/policy.js';

/**
 * security.md and operations.md: a change the health gate rolled back is held in
 * /var/lib/kube-harden/rolled-back.json (0600), so a restarted agent pod does not retry it; a policy
 * change releases it.
 */
describe('daemon: a rolled-back change stays held across an agent restart, until the policy changes', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('the next agent on the node does not retry it; a new policy does, once', async () => {
    const root = copyFixture('kubeadm-worker');
    const policyFile = writePolicyFile(['mode: enforce']);
    const first = await startDaemon(root, { policyFile, noRestart: false, health: new FakeHealthProbe([false, true]) });
    await first.daemon.settled();
    await first.daemon.stop();
    expect(first.services.restarts, 'the restart, then the one after the rollback').to.deep.equal(['kubelet', 'kubelet']);
    const held = path.join(root, 'var/lib/kube-harden/rolled-back.json');
    expect(statSync(held).mode & 0o777).to.equal(0o600);

    // A new agent pod on the same node, same policy: nothing is tried again.
    const second = await startDaemon(root, { policyFile, noRestart: false, health: new FakeHealthProbe([true]) });
    try {
      await second.daemon.settled();
      expect(second.services.restarts).to.deep.equal([]);
      // A policy update releases the held change: one try, healthy this time.
      writeFileSync(policyFile, readFileSync(policyFile, 'utf8').replace('mode: enforce', 'mode: enforce\ndrift: { resyncSeconds: 301 }'));
      second.daemon.trigger('policy');
      await second.daemon.settled();
      expect(second.services.restarts).to.deep.equal(['kubelet']);
    } finally {
      await second.daemon.stop();
    }
  });
});
