import { expect } from 'chai';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HostRoot } from '../../agent/host/host-root.js';
import { cleanupTempDirs, tempDir } from '../helpers/host.js';

describe('HostRoot: chroot-style path resolution', () => {
  let root: string;
  let host: HostRoot;
  let outside: string;
  beforeEach(async () => {
    root = tempDir('kh-root-');
    outside = tempDir('kh-outside-');
    writeFileSync(path.join(outside, 'secret'), 'outside');
    mkdirSync(path.join(root, 'var/lib/kubelet/pki'), { recursive: true });
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    writeFileSync(path.join(root, 'var/lib/kubelet/pki/kubelet-client-2026.pem'), 'cert');
    host = await HostRoot.open(root);
  });
  after(cleanupTempDirs);

  it('takes an absolute symlink target inside the host root (kubeadm kubelet-client-current.pem)', async () => {
    symlinkSync('/var/lib/kubelet/pki/kubelet-client-2026.pem', path.join(root, 'var/lib/kubelet/pki/kubelet-client-current.pem'));
    expect(await host.resolve('/var/lib/kubelet/pki/kubelet-client-current.pem')).to.equal(
      path.join(host.root, 'var/lib/kubelet/pki/kubelet-client-2026.pem'),
    );
  });

  it('stops `..` at the host root', async () => {
    expect(await host.resolve('/../../../etc/passwd')).to.equal(path.join(host.root, 'etc/passwd'));
    symlinkSync('../../../../../../etc', path.join(root, 'var/lib/kubelet/up'));
    expect(await host.resolve('/var/lib/kubelet/up/shadow')).to.equal(path.join(host.root, 'etc/shadow'));
  });

  it('never resolves to the agent filesystem, even for a link that names a real outside path', async () => {
    symlinkSync(path.join(outside, 'secret'), path.join(root, 'etc/escape'));
    const resolved = await host.resolve('/etc/escape');
    expect(resolved.startsWith(host.root + path.sep)).to.equal(true);
    expect(resolved).to.equal(path.join(host.root, outside, 'secret'));
  });

  it('resolves links in the middle of a path and keeps a missing tail for creation', async () => {
    symlinkSync('/var/lib/kubelet', path.join(root, 'etc/kubelet-dir'));
    expect(await host.resolve('/etc/kubelet-dir/new/file')).to.equal(path.join(host.root, 'var/lib/kubelet/new/file'));
  });

  it('refuses symlink loops', async () => {
    symlinkSync('/etc/b', path.join(root, 'etc/a'));
    symlinkSync('/etc/a', path.join(root, 'etc/b'));
    try {
      await host.resolve('/etc/a');
      expect.fail('should throw');
    } catch (error) {
      expect(String(error)).to.contain('too many levels of symbolic links');
    }
  });
});
