import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import { cleanupTempDirs, copyFixture, fixturePath, read, snapshotTree, tempDir, testCli } from '../helpers/host.js';
import { DEBIAN_CNI_DIR, isRoot, requirePrerequisites, staticPluginMissing, TEST_PLUGIN_DIR } from '../helpers/prerequisites.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

async function cli(args: string[], root: string, pluginDir = TEST_PLUGIN_DIR) {
  const harness = testCli({ env: { KUBE_HARDEN_PLUGIN_DIR: pluginDir } });
  const code = await runCli([...args, '--host-root', root], harness.deps);
  return { code, out: harness.stdout(), err: harness.err.join('') };
}

async function cniFindings(root: string, pluginDir = TEST_PLUGIN_DIR) {
  const { out } = await cli(['audit', '--output', 'json'], root, pluginDir);
  return new Map<string, { status: string; message: string; remediable: boolean }>(
    JSON.parse(out)
      .results.filter((result: { id: string }) => result.id.startsWith('cni.'))
      .map((result: { id: string }) => [result.id, result]),
  );
}

describe('CNI bandwidth on fixture hosts, with the real static plugin', function () {
  before(function () {
    requirePrerequisites(
      this,
      [...staticPluginMissing(), ...(isRoot() ? [] : ['root (chroot)'])],
      'run scripts/build-bandwidth.sh /var/cache/kube-harden/cni as root',
    );
  });
  after(cleanupTempDirs);

  it('flannel worker: plugin installed byte for byte, chained once, otherwise unchanged; inactive config untouched; second plan empty', async () => {
    const root = copyFixture('cni-flannel');
    const flannel = read(root, 'etc/cni/net.d/10-flannel.conflist');
    const podman = read(root, 'etc/cni/net.d/87-podman-bridge.conflist');
    expect((await cniFindings(root)).get('cni.bandwidth-plugin')!.status).to.equal('fail');
    const apply = await cli(['apply', '--no-restart', '--output', 'json'], root);
    const result = JSON.parse(apply.out);
    expect(
      result.changes.map((change: { action: string; path: string; result: string }) => [change.action, change.path, change.result]),
    ).to.deep.include.members([
      ['install', '/opt/cni/bin/bandwidth', 'applied'],
      ['write', '/etc/cni/net.d/10-flannel.conflist', 'applied'],
    ]);
    const installed = path.join(root, 'opt/cni/bin/bandwidth');
    expect(sha(installed)).to.equal(sha(`${TEST_PLUGIN_DIR}/bandwidth`));
    expect(statSync(installed).mode & 0o777).to.equal(0o755);
    const chained = read(root, 'etc/cni/net.d/10-flannel.conflist');
    const at = flannel.lastIndexOf('}', flannel.lastIndexOf(']')) + 1;
    expect(chained).to.equal(
      `${flannel.slice(0, at)},\n    {\n      "type": "bandwidth",\n      "capabilities": {\n        "bandwidth": true\n      }\n    }${flannel.slice(at)}`,
    );
    expect(read(root, 'etc/cni/net.d/87-podman-bridge.conflist')).to.equal(podman);
    const findings = await cniFindings(root);
    expect(findings.get('cni.bandwidth-plugin')!.status).to.equal('pass');
    expect(findings.get('cni.bandwidth-chain')!.status).to.equal('pass');
    const second = JSON.parse((await cli(['plan', '--output', 'json'], root)).out);
    expect(second.changes).to.deep.equal([]);
  });

  it('says the durable fix for Flannel is its ConfigMap', async () => {
    const root = copyFixture('cni-flannel');
    expect((await cniFindings(root)).get('cni.bandwidth-chain')!.message).to.contain('kube-flannel-cfg');
  });

  it('calico that already chains bandwidth is not rewritten', async () => {
    const root = copyFixture('cni-calico');
    const before = read(root, 'etc/cni/net.d/10-calico.conflist');
    await cli(['apply', '--no-restart'], root);
    expect(read(root, 'etc/cni/net.d/10-calico.conflist')).to.equal(before);
    expect((await cniFindings(root)).get('cni.bandwidth-chain')!.status).to.equal('pass');
  });

  it('a Cilium node is reported, not patched', async () => {
    const root = copyFixture('cni-cilium');
    const before = read(root, 'etc/cni/net.d/05-cilium.conflist');
    const { code } = await cli(['apply', '--no-restart'], root);
    expect(code).to.equal(1);
    expect(read(root, 'etc/cni/net.d/05-cilium.conflist')).to.equal(before);
    const finding = (await cniFindings(root)).get('cni.bandwidth-chain')!;
    expect(finding).to.include({ status: 'fail', remediable: false });
    expect(finding.message).to.contain('bandwidthManager.enabled=true');
  });

  it('a single-plugin .conf becomes a .conflist (same mode), the .conf goes to the backup; rollback undoes both', async () => {
    const root = copyFixture('cni-bridge-conf');
    chmodSync(path.join(root, 'etc/cni/net.d/10-bridge.conf'), 0o600);
    const before = snapshotTree(root);
    await cli(['apply', '--no-restart'], root);
    expect(existsSync(path.join(root, 'etc/cni/net.d/10-bridge.conf'))).to.equal(false);
    expect(statSync(path.join(root, 'etc/cni/net.d/10-bridge.conflist')).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(read(root, 'etc/cni/net.d/10-bridge.conflist')).plugins.map((p: { type: string }) => p.type)).to.deep.equal([
      'bridge',
      'bandwidth',
    ]);
    expect(read(root, 'etc/cni/net.d/99-loopback.conf')).to.equal(
      readFileSync(path.join(fixturePath('cni-bridge-conf'), 'etc/cni/net.d/99-loopback.conf'), 'utf8'),
    );
    expect((await cli(['rollback', '--no-restart'], root)).code).to.equal(0);
    const after = snapshotTree(root);
    after.delete('var');
    after.delete('var/lib');
    expect(after).to.deep.equal(before);
  });

  it('Debian dynamically linked plugin: does not run chrooted on the host, so it is not installed and nothing is chained', async function () {
    if (!existsSync(`${DEBIAN_CNI_DIR}/bandwidth`))
      requirePrerequisites(this, [`${DEBIAN_CNI_DIR}/bandwidth`], 'apt-get install containernetworking-plugins');
    const dynamicDir = tempDir('kh-dynamic-');
    mkdirSync(dynamicDir, { recursive: true });
    copyFileSync(`${DEBIAN_CNI_DIR}/bandwidth`, path.join(dynamicDir, 'bandwidth'));
    chmodSync(path.join(dynamicDir, 'bandwidth'), 0o755);
    const root = copyFixture('cni-flannel');
    const flannel = read(root, 'etc/cni/net.d/10-flannel.conflist');
    const apply = await cli(['apply', '--no-restart', '--output', 'json'], root, dynamicDir);
    expect(apply.code).to.equal(1);
    const result = JSON.parse(apply.out);
    const install = result.changes.find((change: { action: string }) => change.action === 'install');
    expect(install.result).to.equal('failed');
    expect(install.error).to.contain('was taken back out');
    expect(result.blocked.find((b: { id: string }) => b.id === 'cni.bandwidth-chain').reason).to.contain('requires cni.bandwidth-plugin');
    expect(existsSync(path.join(root, 'opt/cni/bin/bandwidth'))).to.equal(false);
    expect(read(root, 'etc/cni/net.d/10-flannel.conflist')).to.equal(flannel);
  });
});
