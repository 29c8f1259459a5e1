import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StandInKubelet } from '../fakes/stand-in-kubelet.js';
import { metric, startDaemon } from '../helpers/daemon.js';
import { cleanupTempDirs, copyFixture, fixturePath, read, tempDir } from '../helpers/host.js';
import { E2E_REQUIRED, staticPluginMissing, TEST_PLUGIN_DIR } from '../helpers/prerequisites.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** A kubeadm worker with flannel: every kind of managed file in one tree. */
function workerWithCni(): string {
  const root = copyFixture('kubeadm-worker');
  cpSync(fixturePath('cni-flannel'), root, { recursive: true });
  return root;
}

const config = (root: string) => path.join(root, 'var/lib/kubelet/config.yaml');

describe('daemon: drift correction with the real watcher', function () {
  this.timeout(30_000);
  let root: string;
  let running: Awaited<ReturnType<typeof startDaemon>>;
  const pluginReady = staticPluginMissing().length === 0;

  before(async () => {
    if (!pluginReady && E2E_REQUIRED) throw new Error(`a static bandwidth plugin is required in ${TEST_PLUGIN_DIR}`);
    root = workerWithCni();
    running = await startDaemon(root);
  });
  after(async () => {
    await running?.daemon.stop();
    cleanupTempDirs();
  });

  it('hardens the node at start, without restarting anything under --no-restart', async () => {
    expect(running.daemon.reconciles).to.be.greaterThan(0);
    expect(read(root, 'var/lib/kubelet/config.yaml')).to.contain('podPidsLimit: 4096');
    expect(running.services.restarts).to.deep.equal([]);
  });

  it('a person turning anonymous auth back on is corrected within a second, each time', async () => {
    for (let round = 0; round < 3; round++) {
      writeFileSync(
        config(root),
        read(root, 'var/lib/kubelet/config.yaml').replace(/anonymous:\n {4}enabled: false/, 'anonymous:\n    enabled: true'),
      );
      const ms = await waitFor(
        () => read(root, 'var/lib/kubelet/config.yaml').includes('anonymous:\n    enabled: false'),
        1000,
        'anonymous auth corrected',
      );
      expect(ms).to.be.lessThan(1000);
      await sleep(200);
    }
    expect(await metric(running.metrics, /kube_harden_drift_corrections_total\{rule="kubelet.anonymous-auth"\} (\d+)/)).to.equal(3);
  });

  it('a touch without change is not a correction', async () => {
    await running.daemon.settled();
    const before = await running.metrics.text();
    utimesSync(config(root), new Date(), new Date());
    await sleep(150);
    await running.daemon.settled();
    const after = await running.metrics.text();
    const corrections = (text: string) =>
      text
        .split('\n')
        .filter((line) => line.startsWith('kube_harden_drift_corrections_total'))
        .join('\n');
    expect(corrections(after)).to.equal(corrections(before));
  });

  const tampers: Array<[string, (root: string) => void, (root: string) => boolean]> = [
    [
      'chmod',
      (r) => chmodSync(path.join(r, 'etc/kubernetes/kubelet.conf'), 0o644),
      (r) => (statSync(path.join(r, 'etc/kubernetes/kubelet.conf')).mode & 0o777) === 0o600,
    ],
    [
      'delete of the agent sysctl file',
      (r) => rmSync(path.join(r, 'etc/sysctl.d/90-kube-harden.conf')),
      (r) => existsSync(path.join(r, 'etc/sysctl.d/90-kube-harden.conf')),
    ],
    [
      'rename over config.yaml',
      (r) => {
        writeFileSync(
          path.join(r, 'var/lib/kubelet/weak.yaml'),
          read(r, 'var/lib/kubelet/config.yaml').replace('readOnlyPort: 0', 'readOnlyPort: 10255'),
        );
        renameSync(path.join(r, 'var/lib/kubelet/weak.yaml'), config(r));
      },
      (r) => read(r, 'var/lib/kubelet/config.yaml').includes('readOnlyPort: 0'),
    ],
    [
      'atomic replace of the flag file',
      (r) => {
        writeFileSync(path.join(r, 'etc/default/.kubelet.new'), 'KUBELET_EXTRA_ARGS="--max-pods=150 --tls-min-version=VersionTLS10"\n');
        renameSync(path.join(r, 'etc/default/.kubelet.new'), path.join(r, 'etc/default/kubelet'));
      },
      (r) => !read(r, 'etc/default/kubelet').includes('tls-min-version'),
    ],
    [
      'a live sysctl (polled)',
      (r) => writeFileSync(path.join(r, 'proc/sys/kernel/panic'), '0\n'),
      (r) => read(r, 'proc/sys/kernel/panic').trim() === '10',
    ],
    [
      'a removed conflist entry',
      (r) =>
        writeFileSync(
          path.join(r, 'etc/cni/net.d/10-flannel.conflist'),
          read(r, 'etc/cni/net.d/10-flannel.conflist').replace(/,\n {4}\{\n {6}"type": "bandwidth"[^]*?\n {4}\}(?=\n {2}\])/, ''),
        ),
      (r) => read(r, 'etc/cni/net.d/10-flannel.conflist').includes('"bandwidth"'),
    ],
    ['a deleted plugin binary', (r) => rmSync(path.join(r, 'opt/cni/bin/bandwidth')), (r) => existsSync(path.join(r, 'opt/cni/bin/bandwidth'))],
  ];
  for (const [name, tamper, fixed] of tampers)
    it(`corrects ${name}`, async function () {
      if (!pluginReady && /conflist|plugin/.test(name)) {
        // CI cannot get here: with KUBE_HARDEN_REQUIRE_E2E=1 the suite's before() fails without the plugin.
        console.log(`    (skipped: needs a static bandwidth plugin in ${TEST_PLUGIN_DIR}; run npm run build:plugin)`);
        this.skip();
      }
      await running.daemon.settled();
      expect(fixed(root), 'precondition').to.equal(true);
      tamper(root);
      await waitFor(() => fixed(root), 3000, name);
    });
});

describe('daemon: policy reload and anti-flap', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('a changed policy lands within seconds; an invalid one is refused and the last good one stays', async () => {
    const root = workerWithCni();
    const policyDir = tempDir('kh-policy-');
    const policy = path.join(policyDir, 'policy.yaml');
    writeFileSync(policy, 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\n');
    const { daemon } = await startDaemon(root, { policyFile: policy });
    try {
      expect(read(root, 'var/lib/kubelet/config.yaml')).to.contain('podPidsLimit: 4096');
      // A ConfigMap update: new content renamed into place.
      writeFileSync(
        path.join(policyDir, '.new'),
        'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  kubelet.pod-pids-limit: { value: 2048 }\n',
      );
      renameSync(path.join(policyDir, '.new'), policy);
      await waitFor(() => read(root, 'var/lib/kubelet/config.yaml').includes('podPidsLimit: 2048'), 5000, 'policy value applied');
      writeFileSync(policy, 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  kubelet.pod-pids-limit: { value: -1 }\n');
      await sleep(200);
      await daemon.settled();
      writeFileSync(config(root), read(root, 'var/lib/kubelet/config.yaml').replace('podPidsLimit: 2048', 'podPidsLimit: 9999'));
      await waitFor(() => read(root, 'var/lib/kubelet/config.yaml').includes('podPidsLimit: 2048'), 3000, 'last good policy still enforced');
    } finally {
      await daemon.stop();
    }
  });

  it('backs off from a writer that keeps reverting the same file, and says so in a metric', async () => {
    const root = workerWithCni();
    const { daemon, metrics } = await startDaemon(root);
    try {
      const weak = () => writeFileSync(config(root), read(root, 'var/lib/kubelet/config.yaml').replace('readOnlyPort: 0', 'readOnlyPort: 10255'));
      for (let round = 0; round < 11; round++) {
        weak();
        await waitFor(() => read(root, 'var/lib/kubelet/config.yaml').includes('readOnlyPort: 0'), 2000, `correction ${round + 1}`);
        await daemon.settled();
      }
      expect(await metric(metrics, /kube_harden_drift_conflict\{rule="kubelet.read-only-port"\} (\d+)/)).to.equal(1);
      weak();
      await sleep(300);
      await daemon.settled();
      // Backing off: the writer's value stays for now, and the loop is not hot.
      expect(read(root, 'var/lib/kubelet/config.yaml')).to.contain('readOnlyPort: 10255');
    } finally {
      await daemon.stop();
    }
  });
});

describe('daemon: metrics are promtool-clean', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('passes promtool check metrics', async function () {
    const promtool = spawnSync('promtool', ['--version']);
    if (promtool.status !== 0) {
      if (E2E_REQUIRED) throw new Error('promtool is required in CI (apt-get install prometheus)');
      console.log('    (skipped: needs promtool from Debian prometheus; KUBE_HARDEN_REQUIRE_E2E=1 makes this mandatory)');
      this.skip();
    }
    const root = workerWithCni();
    const { daemon, metrics } = await startDaemon(root);
    try {
      const text = await metrics.text();
      const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(check.status, `${check.stdout}${check.stderr}`).to.equal(0);
      expect(text).to.contain('kube_harden_build_info{version="test"} 1');
      expect(text).to.match(
        /kube_harden_node_info\{distribution="kubeadm",kubelet_version="v1.31.4",kernel="6.1.0-28-cloud-amd64",apparmor="enabled",selinux="disabled"\} 1/,
      );
    } finally {
      await daemon.stop();
    }
  });
});

describe('daemon: restarts decided from the running kubelet', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('restarts a kubelet that started before its hardened settings were written, once', async () => {
    const root = workerWithCni();
    // A kubelet running since boot, from before any file change; restarts write a new process entry.
    const kubelet = new StandInKubelet(root);
    const { daemon } = await startDaemon(root, { noRestart: false, services: kubelet, health: kubelet.healthProbe() });
    const services = kubelet;
    try {
      await sleep(400); // several polls: the pending restart must not repeat within the rate limit
      await daemon.settled();
      expect(services.restarts).to.deep.equal(['kubelet']);
    } finally {
      await daemon.stop();
    }
  });
});
