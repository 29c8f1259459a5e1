import { expect } from 'chai';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import { cleanupTempDirs, copyFixture, testCli } from '../helpers/host.js';

/**
 * docs/security.md: the host root's kubelet is run for its version, so an untrusted tree must be
 * audited with --kubelet-version, which runs nothing of it.
 */
describe("the host root's kubelet binary: run for its version, unless --kubelet-version is given", () => {
  after(cleanupTempDirs);

  function treeWithMarkingKubelet(): { root: string; marker: string } {
    const root = copyFixture('kubeadm-worker');
    const marker = path.join(root, 'kubelet-was-run');
    const kubelet = path.join(root, 'usr/bin/kubelet');
    writeFileSync(kubelet, `#!/bin/sh\ntouch '${marker}'\necho "Kubernetes v1.31.4"\n`);
    chmodSync(kubelet, 0o755);
    return { root, marker };
  }

  it('without --kubelet-version, audit runs it (and reports the version it answered)', async () => {
    const { root, marker } = treeWithMarkingKubelet();
    const cli = testCli();
    await runCli(['audit', '--output', 'json', '--host-root', root], cli.deps);
    expect(existsSync(marker)).to.equal(true);
    expect(JSON.parse(cli.stdout()).node.kubeletVersion).to.include('v1.31.4');
  });

  it('with --kubelet-version, audit and plan run nothing of the tree', async () => {
    const { root, marker } = treeWithMarkingKubelet();
    for (const command of ['audit', 'plan']) await runCli([command, '--kubelet-version', 'v1.31.4', '--host-root', root], testCli().deps);
    expect(existsSync(marker)).to.equal(false);
  });
});
