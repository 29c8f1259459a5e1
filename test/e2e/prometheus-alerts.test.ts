import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createDisruptionGate } from '../../agent/cluster/disruption-gate.js';
import { httpAlertSource } from '../../agent/cluster/prometheus-alerts.js';
import { parsePolicy, type Policy } from '../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../agent/rules/index.js';
import { silentLogger } from '../../agent/telemetry/logger.js';
import { randomPort } from '../helpers/agent.js';
import { cleanupTempDirs, tempDir } from '../helpers/host.js';
import { requirePrerequisites } from '../helpers/prerequisites.js';
import { waitFor } from '../helpers/wait.js';

const HEAD = 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\n';

function policyWithPrometheus(url: string, alertSelector: string, failClosed = true): Policy {
  const text = `${HEAD}restarts:\n  blockers:\n    prometheus: { url: "${url}", alertSelector: ${alertSelector}, timeoutSeconds: 2, failClosed: ${failClosed} }\n`;
  const result = parsePolicy(text, 'policy.yaml', RULE_VALUE_SPECS);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.policy;
}

function check(policy: Policy): ReturnType<ReturnType<typeof createDisruptionGate>['check']> {
  return createDisruptionGate({
    policy: () => policy.restarts,
    nodeName: 'node-a',
    cluster: null,
    daemonSet: null,
    alerts: httpAlertSource,
    logger: silentLogger(),
  }).check(Date.now());
}

/** A loopback port nobody listens on: bind, read the port, close. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A real Prometheus (Debian package) with a rule whose alert always fires holds every disruption. */
describe('e2e: disruption blocked while a real Prometheus has a matching alert firing', function () {
  this.timeout(60_000);
  let prometheus: ChildProcess | null = null;
  let url = '';

  before(async function () {
    const version = spawnSync('prometheus', ['--version']);
    requirePrerequisites(this, version.status === 0 ? [] : ['prometheus'], 'apt-get install --no-install-recommends prometheus');
    const dir = tempDir('kh-prometheus-alerts-');
    writeFileSync(
      path.join(dir, 'rules.yml'),
      'groups:\n- name: kube-harden-test\n  rules:\n  - alert: KubeHardenTestAlwaysFiring\n    expr: vector(1)\n    labels: { severity: critical }\n',
    );
    writeFileSync(path.join(dir, 'prometheus.yml'), 'global:\n  evaluation_interval: 1s\nrule_files:\n- rules.yml\n');
    const port = randomPort();
    url = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    // The rule is evaluated a second or two after start: poll, never sleep blindly.
    await waitFor(
      async () => (await httpAlertSource.alerts(url, 1000).catch(() => [])).some((alert) => alert.state === 'firing'),
      30_000,
      'the always-firing alert in Prometheus',
    );
  });
  after(() => {
    prometheus?.kill('SIGKILL');
    cleanupTempDirs();
  });

  it('a firing alert matching the labels or the alertname regexp blocks; one that does not match lets the disruption go', async () => {
    expect(await check(policyWithPrometheus(url, '{ labels: { severity: critical } }'))).to.deep.include({
      allowed: false,
      state: 'blocked',
      cause: 'alert',
      reason: 'Prometheus alert firing: KubeHardenTestAlwaysFiring',
    });
    expect(await check(policyWithPrometheus(`${url}/`, '{ alertnameRegexp: "KubeHarden.*" }'))).to.deep.include({ cause: 'alert' });
    expect(await check(policyWithPrometheus(url, '{ labels: { severity: warning } }'))).to.deep.equal({ allowed: true });
    expect(await check(policyWithPrometheus(url, '{ alertnameRegexp: "KubeHarden" }'))).to.deep.equal({ allowed: true }); // anchored
  });

  it('an unreachable Prometheus (a closed loopback port) blocks when failClosed, lets it go when not', async () => {
    const closed = `http://127.0.0.1:${await closedPort()}`;
    const decision = await check(policyWithPrometheus(closed, '{ labels: { severity: critical } }'));
    expect(decision).to.deep.include({ allowed: false, state: 'blocked', cause: 'unknown' });
    expect((decision as { reason: string }).reason).to.equal('prometheus unreachable: ECONNREFUSED');
    expect(await check(policyWithPrometheus(closed, '{ labels: { severity: critical } }', false))).to.deep.equal({ allowed: true });
  });
});
