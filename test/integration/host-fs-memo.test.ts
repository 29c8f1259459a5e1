import { expect } from 'chai';
import { appendFileSync, chmodSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ExecPluginProber } from '../../agent/host/cni-plugin.js';
import { ProcessCommandRunner } from '../../agent/host/commands.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import { defaultPolicy } from '../../agent/core/policy.js';
import { inspectNode, type InspectedNode } from '../../agent/node/inspect.js';
import { RULE_VALUE_SPECS } from '../../agent/rules/index.js';
import { cleanupTempDirs, copyFixture, tempDir } from '../helpers/host.js';
import { TEST_PLUGIN_DIR } from '../helpers/prerequisites.js';

/** Long enough for a file's last change to count as settled (read-memo.ts trusts changes older than 1 s). */
const SETTLE_MS = 1_100;

/** Overwrites a file in place (same inode), keeping its size: only the change time tells it apart. */
async function overwriteInPlace(file: string, content: string): Promise<void> {
  const handle = await open(file, 'r+');
  await handle.write(content, 0);
  await handle.close();
}

describe('HostFs remembers unchanged files by identity (incremental observation)', function () {
  this.timeout(30_000);
  let root: string;
  let fs: HostFs;
  const at = (hostPath: string) => path.join(root, hostPath);

  before(async () => {
    root = tempDir('kh-memo-');
    mkdirSync(at('etc/kubernetes/manifests'), { recursive: true });
    mkdirSync(at('proc/sys/net/ipv4'), { recursive: true });
    mkdirSync(at('opt/real'), { recursive: true });
    for (const name of ['a.yaml', 'b.yaml', 'c.yaml', 'd.yaml', 'e.yaml']) writeFileSync(at(`etc/kubernetes/${name}`), `${name}: 1\n`);
    writeFileSync(at('proc/sys/net/ipv4/ip_forward'), '1\n');
    writeFileSync(at('opt/real/kubelet.conf'), 'real\n');
    symlinkSync('/opt/real', at('etc/linked'));
    await sleep(SETTLE_MS);
    fs = new HostFs(await HostRoot.open(root));
  });
  after(cleanupTempDirs);

  it('answers an unchanged, settled file with the state it read before (frozen, shared)', async () => {
    const first = await fs.readFile('/etc/kubernetes/a.yaml');
    expect(await fs.readFile('/etc/kubernetes/a.yaml')).to.equal(first);
    expect(Object.isFrozen(first)).to.equal(true);
  });

  it('sees a same-size overwrite in place (the change time moves)', async () => {
    await fs.readFile('/etc/kubernetes/b.yaml');
    await overwriteInPlace(at('etc/kubernetes/b.yaml'), 'B.yaml: 2\n');
    expect(await fs.readFile('/etc/kubernetes/b.yaml')).to.include({ content: 'B.yaml: 2\n' });
  });

  it('sees a file replaced by rename, and a chmod, in readFile and stat alike', async () => {
    await fs.readFile('/etc/kubernetes/c.yaml');
    await fs.stat('/etc/kubernetes/c.yaml');
    writeFileSync(at('etc/kubernetes/.c.tmp'), 'c.yaml: 9\n');
    renameSync(at('etc/kubernetes/.c.tmp'), at('etc/kubernetes/c.yaml'));
    expect(await fs.readFile('/etc/kubernetes/c.yaml')).to.include({ content: 'c.yaml: 9\n' });
    chmodSync(at('etc/kubernetes/c.yaml'), 0o600);
    expect(await fs.readFile('/etc/kubernetes/c.yaml')).to.include({ mode: 0o600 });
    expect(await fs.stat('/etc/kubernetes/c.yaml')).to.include({ mode: 0o600 });
  });

  it('reads a file changed within the last second again every time (two writes in one clock tick look alike)', async () => {
    writeFileSync(at('etc/kubernetes/fresh.yaml'), 'x: 1\n');
    const first = await fs.readFile('/etc/kubernetes/fresh.yaml');
    const second = await fs.readFile('/etc/kubernetes/fresh.yaml');
    expect(second).to.not.equal(first);
    expect(second).to.deep.equal(first);
  });

  it('never remembers /proc or /sys (their content changes without any timestamp)', async () => {
    const first = await fs.readFile('/proc/sys/net/ipv4/ip_forward');
    expect(await fs.readFile('/proc/sys/net/ipv4/ip_forward')).to.not.equal(first);
  });

  it('remembers a missing file by its directory, and sees it once it is created', async () => {
    const missing = await fs.readFile('/etc/kubernetes/manifests/etcd.yaml');
    expect(missing.kind).to.equal('missing');
    expect(await fs.readFile('/etc/kubernetes/manifests/etcd.yaml')).to.equal(missing);
    writeFileSync(at('etc/kubernetes/manifests/etcd.yaml'), 'kind: Pod\n');
    expect(await fs.readFile('/etc/kubernetes/manifests/etcd.yaml')).to.include({ kind: 'file', content: 'kind: Pod\n' });
  });

  it('follows a symlinked directory retargeted after a read (chroot resolution, never a stale file)', async () => {
    expect(await fs.readFile('/etc/linked/kubelet.conf')).to.include({ content: 'real\n' });
    mkdirSync(at('opt/other'));
    writeFileSync(at('opt/other/kubelet.conf'), 'other\n');
    rmSync(at('etc/linked'));
    symlinkSync('/opt/other', at('etc/linked'));
    expect(await fs.readFile('/etc/linked/kubelet.conf')).to.include({ content: 'other\n' });
  });

  it('sees a directory entry added, and a binary changed (checksum)', async () => {
    expect(await fs.listDir('/etc/kubernetes')).to.not.have.nested.property('entries[0]', 'new.yaml');
    writeFileSync(at('etc/kubernetes/new.yaml'), 'n: 1\n');
    expect(await fs.listDir('/etc/kubernetes'))
      .to.have.property('entries')
      .that.includes('new.yaml');
    const sum = await fs.sha256('/etc/kubernetes/d.yaml');
    expect(await fs.sha256('/etc/kubernetes/d.yaml')).to.equal(sum);
    appendFileSync(at('etc/kubernetes/d.yaml'), '#\n');
    expect(await fs.sha256('/etc/kubernetes/d.yaml')).to.not.equal(sum);
  });
});

describe('inspectNode with the previous inspection (the daemon on an unchanged node)', function () {
  this.timeout(30_000);
  let root: string;
  let fs: HostFs;
  const policy = defaultPolicy(RULE_VALUE_SPECS);
  const input = { nodeName: 'memo', nodeIp: null, nodeIpSource: null, kubeletVersion: 'v1.29.10', pluginDir: TEST_PLUGIN_DIR };
  const plugins = () => new ExecPluginProber(fs, new ProcessCommandRunner(), TEST_PLUGIN_DIR);
  const inspect = (previous: InspectedNode | null) => inspectNode(fs, new ProcessCommandRunner(), plugins(), { ...input }, policy, previous);
  const status = (node: InspectedNode, id: string) => node.evaluated.find((rule) => rule.meta.id === id)?.evaluation.finding.status;

  before(async () => {
    root = copyFixture('kubeadm-control-plane');
    await sleep(SETTLE_MS);
    fs = new HostFs(await HostRoot.open(root));
  });
  after(cleanupTempDirs);

  it('returns the previous inspection itself when nothing read has changed', async () => {
    const first = await inspect(null);
    expect(await inspect(first)).to.equal(first);
  });

  it('judges again when a live sysctl changes (procfs has no timestamps to trust)', async () => {
    const first = await inspect(null);
    const before = status(first, 'sysctl.kubelet-kernel-defaults');
    writeFileSync(path.join(root, 'proc/sys/vm/overcommit_memory'), '1\n');
    const next = await inspect(first);
    expect(next).to.not.equal(first);
    expect(next.obs.sysctls.get('vm.overcommit_memory')).to.include({ value: '1' });
    expect(before).to.not.equal(undefined);
  });

  it('judges again when a configuration file changes, with a new policy, and not otherwise', async () => {
    const first = await inspect(null);
    const config = path.join(root, 'var/lib/kubelet/config.yaml');
    appendFileSync(config, 'readOnlyPort: 10255\n');
    const changed = await inspect(first);
    expect(changed).to.not.equal(first);
    expect(status(changed, 'kubelet.read-only-port')).to.equal('fail');
    const other = await inspectNode(fs, new ProcessCommandRunner(), plugins(), { ...input }, defaultPolicy(RULE_VALUE_SPECS), changed);
    expect(other).to.not.equal(changed);
    expect(other.obs).to.equal(changed.obs);
  });

  it('on a changed node, reads each path once (discovery reuses what the re-read just got)', async () => {
    const first = await inspect(null);
    const reads = new Map<string, number>();
    /** Counts what reaches the host: the memo's answer included (one lstat each). */
    class CountingFs extends HostFs {
      override readFile(hostPath: string) {
        reads.set(hostPath, (reads.get(hostPath) ?? 0) + 1);
        return super.readFile(hostPath);
      }
      override listDir(hostPath: string) {
        reads.set(`${hostPath}/`, (reads.get(`${hostPath}/`) ?? 0) + 1);
        return super.listDir(hostPath);
      }
    }
    const counting = new CountingFs(await HostRoot.open(root));
    const config = path.join(root, 'var/lib/kubelet/config.yaml');
    appendFileSync(config, '# changed\n');
    const changed = await inspectNode(counting, new ProcessCommandRunner(), plugins(), { ...input }, policy, first);
    expect(changed, 'the change must be seen').to.not.equal(first);
    expect(reads.size).to.be.greaterThan(10);
    expect([...reads].filter(([, count]) => count > 1)).to.deep.equal([]);
  });

  it('continued from the previous observation, reads exactly what a fresh discovery reads', async () => {
    const first = await inspect(null);
    const dropIn = path.join(root, 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf');
    // The drop-in no longer names /etc/default/kubelet: a fresh discovery does not read it.
    writeFileSync(dropIn, readFileSync(dropIn, 'utf8').replace('EnvironmentFile=-/etc/default/kubelet\n', ''));
    const continued = await inspect(first);
    const fresh = await inspectNode(new HostFs(await HostRoot.open(root)), new ProcessCommandRunner(), plugins(), { ...input }, policy, null);
    const dropped = [...first.obs.files.keys()].filter((key) => !fresh.obs.files.has(key));
    expect(dropped, 'the edit must make a fresh discovery read less than before').to.not.deep.equal([]);
    for (const map of ['files', 'dirs', 'stats', 'sysctls', 'hostPlugins', 'shippedPlugins'] as const)
      expect([...continued.obs[map].keys()].sort(), map).to.deep.equal([...fresh.obs[map].keys()].sort());
  });
});
