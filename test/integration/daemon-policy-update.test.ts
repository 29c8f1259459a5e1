import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import { boundPort, healthLimits, serveHttp } from '../../agent/daemon/http.js';
import { AgentMetrics } from '../../agent/telemetry/metrics.js';
import { httpGet } from '../helpers/agent.js';
import { metric, startDaemon } from '../helpers/daemon.js';
import { cleanupTempDirs, copyFixture } from '../helpers/host.js';
import { policyFrom, writePolicyFile } from '../helpers/policy.js';
import { sleep } from '../helpers/wait.js';

/** Settings read from the policy in force, so an update through the ConfigMap takes effect without a restart. */
describe('daemon: the policy’s drift and health settings, as the policy in force says', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('/healthz: a reconcile is stuck after max(5 min, 8 × healthTimeoutSeconds) of the policy in force now', async () => {
    let policy = policyFrom('restarts: { healthTimeoutSeconds: 60 }');
    const now = 10_000_000;
    const loop = { reconciles: 1, lastActivity: now, reconcileStartedAt: (now - 600_000) as number | null };
    const server: http.Server = await serveHttp(
      { host: '127.0.0.1', port: 0 },
      new AgentMetrics('test'),
      () => loop,
      healthLimits(() => policy),
      () => now,
    );
    const port = boundPort(server);
    try {
      // 10 minutes into one reconcile: stuck under 60 s gates (limit 8 min)...
      expect(await httpGet(port, '/healthz')).to.deep.equal({ status: 503, body: 'reconcile stuck\n' });
      // ...alive once the policy allows 120 s gates (limit 16 min), without a restart of the agent.
      policy = policyFrom('restarts: { healthTimeoutSeconds: 120 }');
      expect((await httpGet(port, '/healthz')).status).to.equal(200);
      // Between reconciles the loop must tick.
      loop.reconcileStartedAt = null;
      loop.lastActivity = now - 61_000;
      expect(await httpGet(port, '/healthz')).to.deep.equal({ status: 503, body: 'loop not ticking\n' });
    } finally {
      server.close();
    }
  });

  it('drift.resyncSeconds: the new interval is in force after the update, not after the next pod start', async () => {
    const policyFile = writePolicyFile(['mode: audit', 'drift: { resyncSeconds: 300 }']);
    const { daemon } = await startDaemon(copyFixture('kubeadm-worker'), { policyFile });
    const reasons: string[] = [];
    const trigger = daemon.trigger.bind(daemon);
    daemon.trigger = (reason) => {
      reasons.push(reason);
      trigger(reason);
    };
    try {
      writeFileSync(policyFile, readFileSync(policyFile, 'utf8').replace('resyncSeconds: 300', 'resyncSeconds: 1'));
      daemon.trigger('policy');
      await daemon.settled();
      await sleep(2_600);
      expect(reasons.filter((reason) => reason === 'resync').length).to.be.at.least(2);
    } finally {
      await daemon.stop();
    }
  });

  it('drift.enabled: false hardens once at start-up, then only reports a change (not corrected, rule status fail)', async () => {
    const root = copyFixture('kubeadm-worker');
    const policyFile = writePolicyFile(['mode: enforce', 'drift: { enabled: false }']);
    const { daemon, metrics } = await startDaemon(root, { policyFile });
    const config = path.join(root, 'var/lib/kubelet/config.yaml');
    try {
      await daemon.settled();
      expect(readFileSync(config, 'utf8')).to.contain('readOnlyPort: 0');
      writeFileSync(config, readFileSync(config, 'utf8').replace('readOnlyPort: 0', 'readOnlyPort: 10255'));
      await sleep(1_000); // the watcher's debounce is 20 ms and the poll 100 ms here
      await daemon.settled();
      expect(readFileSync(config, 'utf8')).to.contain('readOnlyPort: 10255');
      expect(await metric(metrics, /kube_harden_rule_status\{rule="kubelet.read-only-port",status="fail"\} (\d+)/)).to.equal(1);
    } finally {
      await daemon.stop();
    }
  });
});
