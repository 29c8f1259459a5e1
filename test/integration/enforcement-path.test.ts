import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import type { PluginProber } from '../../agent/host/cni-plugin.js';
import type { HealthProbe, ServiceProbes } from '../../agent/host/health.js';
import { FakeApiServer } from '../fakes/fake-api-server.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { MAIN, httpGet, randomPort } from '../helpers/agent.js';
import { metric, startDaemon } from '../helpers/daemon.js';
import { TEST_PLUGIN_DIR } from '../helpers/prerequisites.js';
import { simulatedNode } from '../helpers/fleet.js';
import { cleanupTempDirs, copyFixture, read, snapshotTree, testCli } from '../helpers/host.js';
import { kubeSystem } from '../helpers/kube-system.js';
import { writePolicyFile } from '../helpers/policy.js';
import { sleep, waitFor } from '../helpers/wait.js';

/** Per-service probes that count their gates; `unhealthy` services never pass. */
function countingProbes(unhealthy: readonly string[]): { probes: ServiceProbes; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  return {
    calls,
    probes: (service) => {
      const probe: HealthProbe = {
        async waitHealthy() {
          calls.set(service, (calls.get(service) ?? 0) + 1);
          return unhealthy.includes(service) ? { healthy: false, reason: 'the fake probe says unhealthy' } : { healthy: true };
        },
      };
      return probe;
    },
  };
}

describe('one enforcement path (issue 14)', function () {
  this.timeout(60_000);
  afterEach(cleanupTempDirs);

  it('audit mode with cluster credentials writes nothing to the host, the sysctls or the API, and still reports', async () => {
    const server = await new FakeApiServer().start();
    kubeSystem(server, 'v1.29.10', ['cp-1']);
    const node = await simulatedNode(
      server,
      'cp-1',
      writePolicyFile(['mode: audit']),
      {},
      { fixture: 'kubeadm-control-plane', kubeletVersion: 'v1.29.10' },
    );
    const before = snapshotTree(node.root, []);
    const configMaps = JSON.stringify(server.list('configmaps', 'kube-system'));
    try {
      await node.daemon.start();
      for (const reason of ['resync', 'roll', 'event', 'policy'] as const) {
        node.daemon.trigger(reason);
        await node.daemon.settled();
      }
      expect(snapshotTree(node.root, []), 'the host tree (files, modes, owners, /proc/sys) is unchanged').to.deep.equal(before);
      expect(JSON.stringify(server.list('configmaps', 'kube-system'))).to.equal(configMaps);
      // Reporting is not a write to what is hardened: the Node's annotations, Events and its
      // ClusterPolicyReport are allowed.
      const reporting = (request: { method: string; path: string }) =>
        (request.method === 'PATCH' && request.path === '/api/v1/nodes/cp-1') ||
        /\/events(\/|$)/.test(request.path) ||
        request.path.startsWith('/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports');
      const writes = server.requests.filter((request) => request.method !== 'GET' && !reporting(request));
      expect(writes, 'API writes in audit mode').to.deep.equal([]);
      // This control-plane node did judge kubeadm-config (its flags are not there), and wrote nothing to it.
      expect(
        server.requests.some((request) => request.method === 'GET' && request.path === '/api/v1/namespaces/kube-system/configmaps/kubeadm-config'),
      ).to.equal(true);
      expect(await metric(node.metrics, /kube_harden_rule_status\{rule="kubeadm.cluster-configuration",status="fail"\} (\d+)/)).to.equal(1);
      expect(server.list('pods', 'kube-system')).to.have.length(1);
      expect((server.node('cp-1')!.metadata.annotations as Record<string, string>)['kube-harden.io/state']).to.equal('drifted');
    } finally {
      await node.daemon.stop();
      await server.stop();
    }
  });

  it('/healthz answers within a second of start while the first reconcile waits on a failing health gate', async () => {
    const root = copyFixture('kubeadm-worker');
    const port = randomPort();
    const policy = writePolicyFile(['mode: enforce', 'restarts: { healthTimeoutSeconds: 20 }']);
    const agent = spawn(process.execPath, [MAIN, 'run', '--host-root', root, '--metrics-address', `127.0.0.1:${port}`, '--policy', policy], {
      env: {
        PATH: process.env.PATH ?? '',
        KUBE_HARDEN_PLUGIN_DIR: TEST_PLUGIN_DIR,
        // "systemctl restart kubelet" succeeds, and the kubelet's /healthz never answers: the gate waits.
        KUBE_HARDEN_SERVICE_PREFIX: 'true',
        KUBE_HARDEN_KUBELET_HEALTHZ: `http://127.0.0.1:${randomPort()}/healthz`,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      // The agent's first log line: Node has started and loaded the agent.
      const logging = await new Promise<number>((resolve) => agent.stderr!.once('data', () => resolve(Date.now())));
      await waitFor(async () => (await httpGet(port, '/healthz')).status === 200, 5000, '/healthz');
      expect(Date.now() - logging, 'ms from the first log line to /healthz 200').to.be.lessThan(1000);
      expect((await httpGet(port, '/readyz')).status, 'the first reconcile is not done').to.equal(503);
      await sleep(8000); // well into the gate's wait (5 s settle, then polling)
      expect((await httpGet(port, '/healthz')).status).to.equal(200);
      expect((await httpGet(port, '/readyz')).status).to.equal(503);
    } finally {
      agent.kill('SIGKILL');
      await new Promise((resolve) => agent.once('exit', resolve));
    }
  });

  it('a static-pod change that fails its gate is written once, restored once, and held until its file changes', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const manifest = path.join(root, 'etc/kubernetes/manifests/kube-scheduler.yaml');
    const original = read(root, 'etc/kubernetes/manifests/kube-scheduler.yaml');
    const { probes, calls } = countingProbes(['static-pod/kube-scheduler']);
    const { daemon } = await startDaemon(root, { noRestart: false, probes, pollMs: 60_000 });
    try {
      // One gate after the write, one after the restore.
      expect(calls.get('static-pod/kube-scheduler')).to.equal(2);
      expect(read(root, 'etc/kubernetes/manifests/kube-scheduler.yaml')).to.equal(original);
      for (let round = 0; round < 3; round++) {
        daemon.trigger('event');
        await daemon.settled();
      }
      expect(calls.get('static-pod/kube-scheduler'), 'not retried while nothing changed').to.equal(2);
      expect(read(root, 'etc/kubernetes/manifests/kube-scheduler.yaml')).to.equal(original);
      // An edit of the manifest is a new situation: the change is tried again (and fails again, once).
      writeFileSync(manifest, original.replace('- --leader-elect=true', '- --leader-elect=true\n    - --v=2'));
      await waitFor(() => calls.get('static-pod/kube-scheduler') === 4, 10_000, 'a retry after the file changed');
      await daemon.settled();
      expect(calls.get('static-pod/kube-scheduler')).to.equal(4);
    } finally {
      await daemon.stop();
    }
  });

  it('a configuration file put back reports no restart that never ran', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const first = testCli();
    expect(await runCli(['apply', '--host-root', root, '--output', 'json'], first.deps)).to.be.oneOf([0, 1]);
    const config = path.join(root, 'etc/kubernetes/admission-control.yaml');
    writeFileSync(config, read(root, 'etc/kubernetes/admission-control.yaml').replace('qps: 10', 'qps: 1000'));
    const health = new FakeHealthProbe([true]);
    const again = testCli({ health });
    await runCli(['apply', '--host-root', root, '--output', 'json'], again.deps);
    const result = JSON.parse(again.stdout()) as { changes: { path: string; result: string }[]; restarts: { service: string }[] };
    expect(result.changes.map((change) => `${change.path} ${change.result}`)).to.deep.equal(['/etc/kubernetes/admission-control.yaml applied']);
    expect(result.restarts, 'nothing was restarted, and nothing says so').to.deep.equal([]);
    expect(health.calls).to.deep.equal([]);
    expect(again.services.restarts).to.deep.equal([]);
  });

  it('a policy value is judged, not only the presence of a setting (EventRateLimit qps)', async () => {
    const root = copyFixture('kubeadm-control-plane');
    await runCli(['apply', '--host-root', root], testCli().deps);
    const strict = writePolicyFile(['rules:', '  apiserver.event-rate-limit: { value: { limits: [{ type: Server, qps: 1, burst: 5 }] } }']);
    const audit = testCli();
    await runCli(['audit', '--host-root', root, '--policy', strict, '--output', 'json'], audit.deps);
    const finding = (JSON.parse(audit.stdout()) as { results: { id: string; status: string; expected: string; actual: string }[] }).results.find(
      (result) => result.id === 'apiserver.event-rate-limit',
    )!;
    expect(finding.status).to.equal('fail');
    expect(finding.expected).to.contain('Server qps 1 burst 5');
    expect(finding.actual).to.contain('Server qps 50 burst 100');
    const health = new FakeHealthProbe([true]);
    const apply = testCli({ health });
    await runCli(['apply', '--host-root', root, '--policy', strict, '--output', 'json'], apply.deps);
    const result = JSON.parse(apply.stdout()) as { changes: { path: string }[]; restarts: { service: string; kind: string; result: string }[] };
    expect(result.changes.map((change) => change.path)).to.include.members([
      '/etc/kubernetes/admission-control.yaml',
      '/etc/kubernetes/manifests/kube-apiserver.yaml',
    ]);
    // The apiserver reads the limits only at start: the manifest's digest annotation recreates it, gated.
    const apiserver = result.restarts.find((restart) => restart.service === 'static-pod/kube-apiserver');
    expect(apiserver).to.include({ kind: 'reload', result: 'restarted' });
    expect(read(root, 'etc/kubernetes/admission-control.yaml')).to.match(/qps: 1\b/);
    const again = testCli();
    await runCli(['audit', '--host-root', root, '--policy', strict, '--output', 'json'], again.deps);
    expect(
      (JSON.parse(again.stdout()) as { results: { id: string; status: string }[] }).results.find((r) => r.id === 'apiserver.event-rate-limit')!
        .status,
    ).to.equal('pass');
  });

  it('mode and owner drift is corrected by the watcher, not the poll', async () => {
    const root = copyFixture('kubeadm-worker');
    const { daemon } = await startDaemon(root, { pollMs: 60_000 });
    try {
      const config = path.join(root, 'var/lib/kubelet/config.yaml');
      expect(statSync(config).mode & 0o777).to.equal(0o600);
      for (let round = 0; round < 2; round++) {
        chmodSync(config, 0o644);
        const changed = Date.now();
        await waitFor(() => (statSync(config).mode & 0o777) === 0o600, 1000, `chmod corrected within a second (round ${round + 1})`);
        expect(Date.now() - changed).to.be.lessThan(1000);
        await daemon.settled();
      }
      // An owner change is a change of the same file: corrected the same way.
      chownSync(config, 1000, 1000);
      await waitFor(() => statSync(config).uid === 0 && statSync(config).gid === 0, 1000, 'chown corrected within a second');
      await daemon.settled();
    } finally {
      await daemon.stop();
    }
  });

  it('apply and plan list every rule they could not judge, with the file and line', async () => {
    const root = copyFixture('kubeadm-worker');
    writeFileSync(
      path.join(root, 'var/lib/kubelet/config.yaml'),
      'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\naddress: [unclosed\n',
    );
    for (const command of ['plan', 'apply']) {
      const harness = testCli();
      await runCli(
        [command, '--host-root', root, '--no-restart', '--output', 'json'].filter((arg) => command === 'apply' || arg !== '--no-restart'),
        harness.deps,
      );
      const blocked = (JSON.parse(harness.stdout()) as { blocked: { id: string; reason: string }[] }).blocked;
      const unjudged = blocked.filter((entry) => entry.reason.startsWith('not judged'));
      expect(
        unjudged.map((entry) => entry.id),
        command,
      ).to.include.members(['kubelet.address', 'kubelet.tls-min-version', 'kubelet.pod-pids-limit']);
      for (const entry of unjudged.filter((candidate) => candidate.id.startsWith('kubelet.address')))
        // The file and its line, as path:line (the parser's own "at line N, column M:" is no longer repeated).
        expect(entry.reason).to.match(/\/var\/lib\/kubelet\/config\.yaml:\d+: /);
    }
  });

  it('a change made after a policy change is not drift; a tampered file is', async () => {
    const root = copyFixture('kubeadm-worker');
    const policy = writePolicyFile(['mode: enforce']);
    const { daemon, metrics } = await startDaemon(root, { policyFile: policy, pollMs: 100 });
    const drift = () => metric(metrics, /kube_harden_drift_corrections_total\{rule="kubelet.pod-pids-limit"\} (\d+)/);
    try {
      expect(await drift()).to.equal(0);
      // A ConfigMap update: new content renamed into place.
      const next = path.join(path.dirname(policy), '.next');
      writeFileSync(
        next,
        [
          'apiVersion: kube-harden.io/v1alpha1',
          'kind: HardeningPolicy',
          'mode: enforce',
          'rules:',
          '  kubelet.pod-pids-limit: { value: 2048 }',
          '',
        ].join('\n'),
      );
      renameSync(next, policy);
      await waitFor(() => read(root, 'var/lib/kubelet/config.yaml').includes('podPidsLimit: 2048'), 10_000, 'the new policy value');
      await daemon.settled();
      expect(await drift(), 'a policy change is not drift').to.equal(0);
      const config = path.join(root, 'var/lib/kubelet/config.yaml');
      writeFileSync(config, read(root, 'var/lib/kubelet/config.yaml').replace('podPidsLimit: 2048', 'podPidsLimit: -1'));
      await waitFor(() => read(root, 'var/lib/kubelet/config.yaml').includes('podPidsLimit: 2048'), 5000, 'the tamper corrected');
      await daemon.settled();
      expect(await drift()).to.equal(1);
    } finally {
      await daemon.stop();
    }
  });

  it('a failed reconcile does not move the last-reconcile timestamp, and is counted', async () => {
    const root = copyFixture('kubeadm-worker');
    let broken = false;
    const failing = (real: PluginProber): PluginProber => ({
      readShipped: (name) => real.readShipped(name),
      probeShipped: (name) => (broken ? Promise.reject(new Error('probe failed')) : real.probeShipped(name)),
      probeHost: (hostPath) => (broken ? Promise.reject(new Error('probe failed')) : real.probeHost(hostPath)),
    });
    const { daemon, metrics } = await startDaemon(root, { plugins: failing, pollMs: 60_000 });
    const last = () => metric(metrics, /^kube_harden_last_reconcile_timestamp_seconds (\S+)$/m);
    try {
      const before = await last();
      expect(before).to.be.greaterThan(0);
      broken = true;
      await sleep(20);
      daemon.trigger('resync');
      await daemon.settled();
      expect(await last()).to.equal(before);
      expect(await metric(metrics, /^kube_harden_reconcile_errors_total (\S+)$/m)).to.equal(1);
    } finally {
      await daemon.stop();
    }
  });
});
