import { expect } from 'chai';
import { mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import { HttpHealthProbe } from '../../agent/host/health.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { FakeServiceManager } from '../fakes/fake-service-manager.js';
import { cleanupTempDirs, copyFixture, read, snapshotTree, testCli } from '../helpers/host.js';

describe('apply with restarts: health gate and rollback', () => {
  after(cleanupTempDirs);

  it('restarts the kubelet once and keeps the changes when it becomes healthy', async () => {
    const root = copyFixture('kubeadm-worker');
    const harness = testCli({ health: new FakeHealthProbe([true]) });
    const code = await runCli(['apply', '--output', 'json', '--host-root', root], harness.deps);
    expect(code).to.equal(0);
    expect(harness.services.restarts).to.deep.equal(['kubelet']);
    // One wait, on the policy's 120 s deadline: the endpoint stage gets what is left of it, so a
    // millisecond spent in an earlier stage shows (CI saw 119999).
    expect(harness.health.calls).to.have.length(1);
    expect(harness.health.calls[0]).to.be.within(119_000, 120_000);
    expect(JSON.parse(harness.stdout()).restarts[0]).to.include({ service: 'kubelet', result: 'restarted' });
  });

  it('rolls every change back and restarts again when the kubelet does not come up', async () => {
    const root = copyFixture('kubeadm-worker');
    const before = snapshotTree(root);
    const harness = testCli({ health: new FakeHealthProbe([false, true]) });
    const code = await runCli(['apply', '--output', 'json', '--host-root', root], harness.deps);
    expect(code).to.equal(1);
    const result = JSON.parse(harness.stdout());
    expect(result.changes.every((change: { result: string }) => change.result === 'rolled-back')).to.equal(true);
    expect(result.restarts[0]).to.include({ service: 'kubelet', result: 'failed' });
    expect(harness.services.restarts).to.deep.equal(['kubelet', 'kubelet']);
    expect(snapshotTree(root)).to.deep.equal(before);
    const list = testCli();
    await runCli(['rollback', '--list', '--host-root', root], list.deps);
    expect(list.stdout()).to.match(/rolled-back/);
  });

  it('a CLI apply holds nothing after a rollback: it says so, and running it again tries the change again', async () => {
    const root = copyFixture('kubeadm-worker');
    const warnings: string[] = [];
    const failing = testCli({ health: new FakeHealthProbe([false, true]) });
    const logger = { ...failing.deps.logger, warn: ((message: string) => warnings.push(message)) as unknown as typeof failing.deps.logger.warn };
    expect(await runCli(['apply', '--host-root', root], { ...failing.deps, logger })).to.equal(1);
    expect(warnings).to.include('change rolled back; apply tries it again when run again');
    expect(warnings).to.not.include('change rolled back and held until the policy or one of its files changes');
    const again = testCli({ health: new FakeHealthProbe([true]) });
    expect(await runCli(['apply', '--host-root', root], again.deps)).to.equal(0);
    expect(again.services.restarts).to.deep.equal(['kubelet']);
  });

  it('rolls back when the restart itself fails', async () => {
    const root = copyFixture('kubeadm-worker');
    const before = snapshotTree(root);
    const harness = testCli({ services: new FakeServiceManager('systemctl restart kubelet failed (exit 1)') });
    expect(await runCli(['apply', '--host-root', root], harness.deps)).to.equal(1);
    expect(harness.stdout()).to.contain('restart kubelet: failed: systemctl restart kubelet failed (exit 1)');
    expect(snapshotTree(root)).to.deep.equal(before);
  });

  it('uses a real HTTP health endpoint: a 500 from /healthz until the timeout means rollback', async () => {
    const server = http.createServer((_req, res) => {
      res.statusCode = 500;
      res.end('unhealthy');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
      const probe = new HttpHealthProbe(url, 50);
      expect(await probe.waitHealthy(300)).to.deep.equal({ healthy: false, reason: `${url} answered HTTP 500` });
      server.removeAllListeners('request');
      server.on('request', (_req, res) => res.end('ok'));
      expect((await probe.waitHealthy(2000)).healthy).to.equal(true);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('keeps protectKernelDefaults off when a live sysctl cannot be set, and still applies the rest', async () => {
    const root = copyFixture('kubeadm-worker');
    // A directory where procfs has a file: the live write fails as a read-only or missing sysctl would.
    rmSync(path.join(root, 'proc/sys/kernel/panic'));
    mkdirSync(path.join(root, 'proc/sys/kernel/panic'));
    const audit = testCli();
    await runCli(['audit', '--output', 'json', '--host-root', root], audit.deps);
    const sysctl = JSON.parse(audit.stdout()).results.find((result: { id: string }) => result.id === 'sysctl.kubelet-kernel-defaults');
    expect(sysctl.status).to.equal('unknown');
    const harness = testCli();
    expect(await runCli(['apply', '--no-restart', '--output', 'json', '--host-root', root], harness.deps)).to.equal(1);
    const result = JSON.parse(harness.stdout());
    expect(result.blocked.map((blocked: { id: string }) => blocked.id)).to.include('kubelet.protect-kernel-defaults');
    const config = read(root, 'var/lib/kubelet/config.yaml');
    expect(config).to.not.contain('protectKernelDefaults');
    expect(config).to.contain('podPidsLimit: 4096');
  });
});
