import { expect } from 'chai';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import { cleanupTempDirs, copyFixture, testCli } from '../helpers/host.js';

async function findings(root: string) {
  const harness = testCli();
  await runCli(['audit', '--output', 'json', '--host-root', root], harness.deps);
  const report = JSON.parse(harness.stdout());
  const byId = new Map<string, { status: string; message: string }>(report.results.map((result: { id: string }) => [result.id, result]));
  return { report, byId };
}

function put(root: string, file: string, content: string) {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), content);
}

describe('kernel and LSM on fixture hosts', () => {
  after(cleanupTempDirs);

  it('a 5.x kernel with AppArmor passes both kernel rules and reports the LSM in node.lsm', async () => {
    const root = copyFixture('kubeadm-control-plane');
    put(root, 'proc/sys/kernel/osrelease', '5.15.0-126-generic\n');
    const { report, byId } = await findings(root);
    expect(byId.get('kernel.version')!.status).to.equal('pass');
    expect(byId.get('kernel.lsm')!.status).to.equal('pass');
    expect(report.node.lsm).to.deep.equal({ apparmor: 'enabled', apparmorProfiles: 2, selinux: 'disabled' });
  });

  it('a 4.4 kernel fails kernel.version as not remediable, and apply does not pretend to fix it', async () => {
    const root = copyFixture('kubeadm-worker');
    put(root, 'proc/sys/kernel/osrelease', '4.4.0-210-generic\n');
    const { byId } = await findings(root);
    expect(byId.get('kernel.version')).to.include({ status: 'fail', remediable: false });
    const plan = testCli();
    await runCli(['plan', '--output', 'json', '--host-root', root], plan.deps);
    expect(JSON.parse(plan.stdout()).blocked.find((b: { id: string }) => b.id === 'kernel.version').reason).to.contain('reboot');
  });

  it('SELinux enforcing and permissive from the host sysfs', async () => {
    for (const [value, mode] of [
      ['1', 'enforcing'],
      ['0', 'permissive'],
    ]) {
      const root = copyFixture('kubeadm-worker');
      rmSync(path.join(root, 'sys/module/apparmor'), { recursive: true });
      put(root, 'sys/fs/selinux/enforce', `${value}\n`);
      const { report, byId } = await findings(root);
      expect(report.node.lsm.selinux).to.equal(mode);
      expect(byId.get('kernel.lsm')!.status).to.equal('pass');
    }
  });

  it('neither AppArmor nor SELinux never passes kernel.lsm', async () => {
    const root = copyFixture('kubeadm-worker');
    rmSync(path.join(root, 'sys'), { recursive: true });
    const { byId } = await findings(root);
    expect(byId.get('kernel.lsm')!.status).to.equal('fail');
    expect(byId.get('kernel.lsm')!.message).to.contain('apparmor=1 security=apparmor');
  });

  it('unreadable sysfs is unknown, never pass', async () => {
    const root = copyFixture('kubeadm-worker');
    rmSync(path.join(root, 'sys/module/apparmor/parameters/enabled'));
    mkdirSync(path.join(root, 'sys/module/apparmor/parameters/enabled'));
    const { byId } = await findings(root);
    expect(byId.get('kernel.lsm')!.status).to.equal('unknown');
  });
});
