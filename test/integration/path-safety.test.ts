import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import { cleanupTempDirs, copyFixture, read, snapshotTree, tempDir, testCli } from '../helpers/host.js';

/** A directory outside the host root holding files a confused agent might write: it must never change. */
function outside(): { dir: string; unchanged: () => void } {
  const dir = tempDir('kh-outside-');
  writeFileSync(path.join(dir, 'config.yaml'), 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nreadOnlyPort: 10255\n');
  writeFileSync(path.join(dir, 'ca.crt'), 'not a certificate\n');
  const before = snapshotTree(dir, []);
  return { dir, unchanged: () => expect(snapshotTree(dir, [])).to.deep.equal(before) };
}

async function apply(root: string, extra: readonly string[] = []): Promise<number> {
  return runCli(['apply', '--no-restart', '--host-root', root, ...extra], testCli().deps);
}

describe('path safety: nothing is ever written outside the host root', function () {
  this.timeout(60_000);
  after(cleanupTempDirs);

  it('a kubelet --config that climbs out with .. (absolute and relative) resolves inside the host root', async () => {
    for (const climb of ['/../../../../../../..', '../../../../../../../..']) {
      const target = outside();
      const root = copyFixture('kubeadm-worker');
      const flags = path.join(root, 'var/lib/kubelet/kubeadm-flags.env');
      writeFileSync(
        flags,
        read(root, 'var/lib/kubelet/kubeadm-flags.env').replace(
          'KUBELET_KUBEADM_ARGS="',
          `KUBELET_KUBEADM_ARGS="--config=${climb}${target.dir}/config.yaml `,
        ),
      );
      expect(await apply(root)).to.be.oneOf([0, 1]);
      target.unchanged();
    }
  });

  it('config.yaml as a symlink out of the host (absolute or relative) is followed inside the root only', async () => {
    const target = outside();
    for (const linkTarget of [`${target.dir}/config.yaml`, `${'../'.repeat(12)}${target.dir.slice(1)}/config.yaml`]) {
      const root = copyFixture('kubeadm-worker');
      const config = path.join(root, 'var/lib/kubelet/config.yaml');
      rmSync(config);
      symlinkSync(linkTarget, config);
      const audit = testCli();
      await runCli(['audit', '--output', 'json', '--host-root', root], audit.deps);
      const results = (JSON.parse(audit.stdout()) as { results: { id: string; status: string }[] }).results;
      // The link points at a path that does not exist inside the host root: unknown, not the outside file's values.
      expect(results.find((result) => result.id === 'kubelet.read-only-port')?.status).to.equal('unknown');
      expect(await apply(root)).to.equal(1);
      target.unchanged();
    }
  });

  it('.. in a policy path value stays inside the host root', async () => {
    const target = outside();
    const root = copyFixture('kubeadm-control-plane');
    const policy = path.join(root, 'policy.yaml');
    writeFileSync(
      policy,
      `apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  apiserver.kubelet-certificate-authority: { value: { confirmed: true, caFile: "/etc/kubernetes/pki/../../../../../../..${target.dir}/ca.crt" } }\n`,
    );
    expect(await apply(root, ['--policy', policy])).to.be.oneOf([0, 1]);
    target.unchanged();
  });

  it('a parent directory swapped for a symlink out of the host while files are written: no data ever lands outside', async () => {
    const target = tempDir('kh-outside-');
    const root = tempDir('kh-swap-root-');
    mkdirSync(path.join(root, 'etc/kh'), { recursive: true });
    const fs = new HostFs(await HostRoot.open(root));
    // Another process flips etc/kh between the real directory and an absolute symlink to `target` (which
    // the kernel follows outside the host root) as fast as it can, without spawning anything per flip.
    const flip = `const f=require('fs');process.chdir(${JSON.stringify(path.join(root, 'etc'))});for(;;){try{f.renameSync('kh','kh.real');f.symlinkSync(${JSON.stringify(target)},'kh');f.unlinkSync('kh');f.renameSync('kh.real','kh');}catch{}}`;
    const swapper = spawn(process.execPath, ['-e', flip], { stdio: 'ignore' });
    let written = 0;
    let refused = 0;
    try {
      const until = Date.now() + 3000;
      for (let index = 0; Date.now() < until; index++) {
        try {
          await fs.writeAtomic('/etc/kh/file.conf', `secret-${index}\n`);
          written++;
        } catch {
          refused++;
        }
      }
    } finally {
      swapper.kill('SIGKILL');
      await new Promise((resolve) => swapper.once('exit', resolve));
    }
    // A temp file may be created through the link before the identity check catches it (Node has no
    // openat); it is empty then, and removed when the path still leads there. No data ever lands outside.
    for (const name of readdirSync(target)) expect(statSync(path.join(target, name)).size, name).to.equal(0);
    expect(written + refused).to.be.greaterThan(100);
    expect(written).to.be.greaterThan(0);
    // Whatever landed is inside the host root (the real directory, wherever the swapper left it).
    const inside = [path.join(root, 'etc/kh/file.conf'), path.join(root, 'etc/kh.real/file.conf')].filter((file) => {
      try {
        return readFileSync(file, 'utf8').startsWith('secret-');
      } catch {
        return false;
      }
    });
    expect(inside.length).to.be.greaterThan(0);
  });
});
