import { expect } from 'chai';
import { runCli } from '../../agent/cli/index.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import type { FakeServiceManager } from '../fakes/fake-service-manager.js';
import { StandInKubelet } from '../fakes/stand-in-kubelet.js';
import { cleanupTempDirs, copyFixture, testCli } from '../helpers/host.js';

/**
 * After `apply --no-restart` the hardened settings are on disk but the running kubelet started before
 * them: audit must not call that compliant, and the next apply does the restart behind the gate.
 */
describe('a kubelet restart left pending by apply --no-restart', () => {
  after(cleanupTempDirs);

  it('audit reports it (exit 1, a table line, restartPending in JSON, JUnit and HTML evidence); apply restarts it behind the gate; then nothing is pending', async () => {
    const root = copyFixture('kubeadm-worker');
    const kubelet = new StandInKubelet(root); // running since an hour ago
    const cli = () => testCli({ services: kubelet as unknown as FakeServiceManager, health: new FakeHealthProbe([true]) });
    const pendingOf = async () => {
      const harness = cli();
      await runCli(['audit', '--output', 'json', '--node-ip', '10.0.0.10', '--host-root', root], harness.deps);
      return (JSON.parse(harness.stdout()) as { restartPending: { service: string; reason: string }[] }).restartPending;
    };
    expect(await pendingOf()).to.deep.equal([]);

    await runCli(['apply', '--no-restart', '--node-ip', '10.0.0.10', '--host-root', root], cli().deps);
    expect(kubelet.restarts).to.deep.equal([]);
    const pending = await pendingOf();
    expect(pending.map((entry) => entry.service)).to.deep.equal(['kubelet']);
    expect(pending[0]!.reason).to.contain('the running kubelet started before /var/lib/kubelet/config.yaml');
    const table = cli();
    expect(await runCli(['audit', '--node-ip', '10.0.0.10', '--host-root', root], table.deps)).to.equal(1);
    expect(table.stdout()).to.contain('RESTART PENDING kubelet: the running kubelet started before');
    // The JUnit and HTML evidence say the same: not compliant while the settings are not running.
    const junit = cli();
    await runCli(['audit', '--output', 'junit', '--node-ip', '10.0.0.10', '--host-root', root], junit.deps);
    expect(junit.stdout()).to.contain(
      '<testcase classname="kube-harden.restart" name="restart-pending.kubelet"><failure message="kubelet restart pending">',
    );
    const html = cli();
    await runCli(['audit', '--output', 'html', '--node-ip', '10.0.0.10', '--host-root', root], html.deps);
    expect(html.stdout()).to.contain('Summary: not compliant');
    expect(html.stdout()).to.contain('Restart pending: kubelet: the running kubelet started before');

    const apply = cli();
    await runCli(['apply', '--output', 'json', '--node-ip', '10.0.0.10', '--host-root', root], apply.deps);
    expect(kubelet.restarts).to.deep.equal(['kubelet']);
    const restarts = (JSON.parse(apply.stdout()) as { restarts: { service: string; result: string }[] }).restarts;
    expect(restarts).to.deep.include({ ...restarts.find((entry) => entry.service === 'kubelet'), service: 'kubelet', result: 'restarted' });
    expect(await pendingOf()).to.deep.equal([]);
  });
});
