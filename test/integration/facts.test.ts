import { expect } from 'chai';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProcessCommandRunner } from '../../agent/host/commands.js';
import { detectKubeletVersion, findKubeletProcess, lsmFacts } from '../../agent/host/facts.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import { FakeCommandRunner } from '../fakes/fake-command-runner.js';
import { cleanupTempDirs, tempDir } from '../helpers/host.js';

function put(root: string, file: string, content: string | Buffer, mode = 0o644) {
  mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
  writeFileSync(path.join(root, file), content);
  chmodSync(path.join(root, file), mode);
}

describe('host facts', () => {
  after(cleanupTempDirs);

  it('finds the running kubelet in the host /proc and asks its own binary for the version', async () => {
    const root = tempDir();
    put(root, 'proc/1/cmdline', Buffer.from('/sbin/init\0'));
    put(root, 'proc/4242/cmdline', Buffer.from('/opt/k8s/bin/kubelet\0--config=/var/lib/kubelet/config.yaml\0'));
    // starttime (field 22) 12345 ticks after boot; btime from /proc/stat.
    put(root, 'proc/4242/stat', '4242 (kubelet) S 1 4242 4242 0 -1 4194560 100 0 0 0 10 5 0 0 20 0 15 0 12345 1000000 2000 18446744073709551615\n');
    put(root, 'proc/stat', 'cpu  1 2 3 4\nbtime 1790000000\nprocesses 100\n');
    put(root, 'proc/self/cmdline', Buffer.from('ignored\0'));
    put(root, 'opt/k8s/bin/kubelet', '#!/bin/sh\necho "Kubernetes v1.33.1"\n', 0o755);
    put(root, 'usr/bin/kubelet', '#!/bin/sh\necho "Kubernetes v1.20.0"\n', 0o755);
    const fs = new HostFs(await HostRoot.open(root));
    const process = await findKubeletProcess(fs);
    expect(process).to.deep.equal({
      pid: 4242,
      argv: ['/opt/k8s/bin/kubelet', '--config=/var/lib/kubelet/config.yaml'],
      startedAtMs: 1_790_000_000_000 + 123_450,
    });
    const version = await detectKubeletVersion(fs, new ProcessCommandRunner(), null, process, ['/usr/bin/kubelet']);
    expect(version).to.include({ major: 1, minor: 33, patch: 1, source: '/opt/k8s/bin/kubelet --version' });
  });

  it('prefers --kubelet-version, and is unknown (null) when nothing answers', async () => {
    const fs = new HostFs(await HostRoot.open(tempDir()));
    expect(await detectKubeletVersion(fs, new FakeCommandRunner(), 'v1.30.2', null, [])).to.include({ minor: 30, source: '--kubelet-version' });
    expect(await detectKubeletVersion(fs, new FakeCommandRunner(), null, null, ['/usr/bin/kubelet'])).to.equal(null);
  });

  it('reads AppArmor and SELinux state from the host sysfs; unreadable is unknown', async () => {
    const root = tempDir();
    put(root, 'sys/module/apparmor/parameters/enabled', 'Y\n');
    put(root, 'sys/fs/selinux/enforce', '0\n');
    expect(await lsmFacts(new HostFs(await HostRoot.open(root)))).to.deep.equal({
      apparmor: 'enabled',
      apparmorProfiles: null,
      selinux: 'permissive',
    });
    const none = tempDir();
    expect(await lsmFacts(new HostFs(await HostRoot.open(none)))).to.deep.equal({
      apparmor: 'disabled',
      apparmorProfiles: null,
      selinux: 'disabled',
    });
    const broken = tempDir();
    mkdirSync(path.join(broken, 'sys/module/apparmor/parameters/enabled'), { recursive: true });
    expect((await lsmFacts(new HostFs(await HostRoot.open(broken)))).apparmor).to.equal('unknown');
  });
});
