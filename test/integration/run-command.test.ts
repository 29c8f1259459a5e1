import { expect } from 'chai';
import { cpSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseListenAddress } from '../../agent/daemon/http.js';
import { httpGet, randomPort, runAgentSync, spawnAgent } from '../helpers/agent.js';
import { cleanupTempDirs, copyFixture, fixturePath, read, snapshotTree } from '../helpers/host.js';
import { waitFor } from '../helpers/wait.js';

describe('kube-harden run (the real process)', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('serves /readyz after the first reconcile, /healthz, /metrics; corrects a tamper; SIGTERM exits 0', async () => {
    const root = copyFixture('kubeadm-worker');
    cpSync(fixturePath('cni-flannel'), root, { recursive: true });
    const port = randomPort();
    const child = spawnAgent(root, port, ['--no-restart', '--log-level', 'info'], ['ignore', 'pipe', 'pipe']);
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk)); // piped above
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(async () => (await httpGet(port, '/readyz')).status === 200, 15_000, '/readyz');
      expect((await httpGet(port, '/healthz')).status).to.equal(200);
      expect((await httpGet(port, '/metrics')).body).to.contain('kube_harden_rule_status{rule="kubelet.anonymous-auth",status="pass"} 1');
      expect((await httpGet(port, '/nope')).status).to.equal(404);
      const file = path.join(root, 'var/lib/kubelet/config.yaml');
      writeFileSync(file, read(root, 'var/lib/kubelet/config.yaml').replace('readOnlyPort: 0', 'readOnlyPort: 10255'));
      await waitFor(() => read(root, 'var/lib/kubelet/config.yaml').includes('readOnlyPort: 0'), 2000, 'correction');
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve('timeout'), 5000))]);
      expect(code).to.equal(0);
      // One line per applied change with hashes; never file contents.
      const lines = stderr
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const applied = lines.filter(
        (line) => line.message === 'change applied' && line.path === '/var/lib/kubelet/config.yaml' && line.action === 'write',
      );
      expect(applied.length).to.be.greaterThan(0);
      expect(applied[0])
        .to.have.property('afterSha256')
        .that.matches(/^[0-9a-f]{64}$/);
      expect(stderr).to.not.contain('readOnlyPort');
      expect(
        lines.some((line) => line.message === 'no cluster credentials: host-level features only, restarts are not coordinated across nodes'),
      ).to.equal(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('--health-address splits the probes from /metrics (metrics on loopback behind a proxy, probes on the node IP)', async () => {
    const root = copyFixture('kubeadm-worker');
    const port = randomPort();
    const health = port + 1;
    const child = spawnAgent(root, port, ['--no-restart', '--health-address', `127.0.0.1:${health}`]);
    try {
      await waitFor(async () => (await httpGet(health, '/readyz')).status === 200, 15_000, '/readyz on the health address');
      expect((await httpGet(health, '/healthz')).status).to.equal(200);
      expect((await httpGet(health, '/metrics')).status).to.equal(404);
      expect((await httpGet(port, '/metrics')).body).to.contain('kube_harden_build_info');
      expect((await httpGet(port, '/healthz')).status).to.equal(404);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it('parses listen addresses', () => {
    expect(parseListenAddress(':9742')).to.deep.equal({ host: '0.0.0.0', port: 9742 });
    expect(parseListenAddress('127.0.0.1:1')).to.deep.equal({ host: '127.0.0.1', port: 1 });
    expect(parseListenAddress('[::1]:9742')).to.deep.equal({ host: '::1', port: 9742 });
    expect(() => parseListenAddress('9742')).to.throw(/host:port/);
    expect(() => parseListenAddress(':70000')).to.throw(/host:port/);
  });
});

describe('kube-harden run: refusals and audit mode', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('refuses to start on an invalid policy, listing every problem, exit 2', () => {
    const root = copyFixture('kubeadm-worker');
    const policy = path.join(root, 'policy.yaml');
    writeFileSync(policy, 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nmode: sometimes\nrules:\n  kubelet.nope: {}\n');
    const result = runAgentSync(root, randomPort(), ['--policy', policy]);
    expect(result.status).to.equal(2);
    expect(result.stderr).to.contain('mode must be').and.to.contain('kubelet.nope');
    expect(result.stderr).to.not.match(/^\s+at .+:\d+:\d+\)?$/m);
  });

  it('in audit mode reports and serves metrics but changes nothing', async () => {
    const root = copyFixture('kubeadm-worker');
    const before = snapshotTree(root, []);
    const policy = path.join(root, '..', `${path.basename(root)}-policy.yaml`);
    writeFileSync(policy, 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nmode: audit\n');
    const port = randomPort();
    const child = spawnAgent(root, port, ['--policy', policy]);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(async () => (await httpGet(port, '/readyz')).status === 200, 15_000, '/readyz');
      expect((await httpGet(port, '/metrics')).body).to.contain('kube_harden_rule_status{rule="kubelet.read-only-port",status="fail"} 1');
      child.kill('SIGTERM');
      expect(await exited).to.equal(0);
      expect(snapshotTree(root, [])).to.deep.equal(before);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
