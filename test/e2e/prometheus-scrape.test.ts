import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import path from 'node:path';
import { httpGet, randomPort, spawnAgent } from '../helpers/agent.js';
import { REPO, cleanupTempDirs, copyFixture, fixturePath, tempDir } from '../helpers/host.js';
import { requirePrerequisites } from '../helpers/prerequisites.js';
import { waitFor } from '../helpers/wait.js';

type Vector = { data?: { result?: Array<{ metric: Record<string, string>; value: [number, string] }> } };

async function query(port: number, promql: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const { body } = await httpGet(port, `/api/v1/query?query=${encodeURIComponent(promql)}`);
  try {
    return (JSON.parse(body) as Vector)?.data?.result ?? [];
  } catch {
    return []; // not up yet
  }
}

/** A real Prometheus (Debian package) on loopback scrapes the agent running standalone on a fixture host. */
describe('e2e: a real Prometheus scrapes kube-harden run', function () {
  this.timeout(60_000);
  const children: ChildProcess[] = [];

  before(function () {
    const prometheus = spawnSync('prometheus', ['--version']);
    requirePrerequisites(this, prometheus.status === 0 ? [] : ['prometheus'], 'apt-get install --no-install-recommends prometheus');
  });
  after(() => {
    for (const child of children) child.kill('SIGKILL');
    cleanupTempDirs();
  });

  it('sees the agent up and every rule status series; every dashboard query and alert expression evaluates', async () => {
    const root = copyFixture('kubeadm-worker');
    cpSync(fixturePath('cni-flannel'), root, { recursive: true });
    const agentPort = randomPort();
    const promPort = agentPort + 1;
    const agent = spawnAgent(root, agentPort, ['--no-restart', '--log-level', 'warn']);
    children.push(agent);
    const dir = tempDir('kh-prometheus-');
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n- job_name: kube-harden\n  static_configs:\n  - targets: ['127.0.0.1:${agentPort}']\n`,
    );
    const prometheus = spawn(
      'prometheus',
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      {
        stdio: 'ignore',
      },
    );
    children.push(prometheus);
    // The first scrape lands a few seconds after start: poll, never sleep blindly.
    await waitFor(async () => (await query(promPort, 'up{job="kube-harden"} == 1')).length === 1, 30_000, 'Prometheus scraping the agent');
    const statuses = await query(promPort, 'sum by (rule) (kube_harden_rule_status)');
    expect(statuses.length).to.be.greaterThan(30);
    expect(statuses.every((series) => series.value[1] === '1')).to.equal(true);
    const failing = await query(promPort, 'kube_harden_rule_status{status="fail"} == 1');
    expect(failing.map((series) => series.metric.rule)).to.not.include('kubelet.anonymous-auth');
    expect(await query(promPort, 'kube_harden_build_info')).to.have.length(1);
    expect(await query(promPort, 'kube_harden_node_info{distribution="kubeadm"}')).to.have.length(1);
    const duration = await query(promPort, 'kube_harden_reconcile_duration_seconds_count');
    expect(Number(duration[0]?.value[1])).to.be.greaterThan(0);

    // Every dashboard query and alert expression evaluates against the real series without error.
    const dashboard = JSON.parse(readFileSync(path.join(REPO, 'manifests/monitoring/dashboard.json'), 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const rules = parseYaml(readFileSync(path.join(REPO, 'manifests/monitoring/prometheusrule.yaml'), 'utf8')) as {
      spec: { groups: { rules: { alert: string; expr: string }[] }[] };
    };
    const exprs = [
      ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ what: `panel "${panel.title}"`, expr: target.expr }))),
      ...rules.spec.groups.flatMap((group) => group.rules.map((rule) => ({ what: `alert ${rule.alert}`, expr: rule.expr }))),
    ];
    const withData: string[] = [];
    for (const { what, expr } of exprs) {
      const promql = expr.replaceAll('$node', '.*').replaceAll('$__rate_interval', '1m');
      const { status, body } = await httpGet(promPort, `/api/v1/query?query=${encodeURIComponent(promql)}`);
      const answer = JSON.parse(body) as { status: string; error?: string; data?: { result: unknown[] } };
      expect(status, `${what}: ${answer.error}`).to.equal(200);
      expect(answer.status, what).to.equal('success');
      if ((answer.data?.result.length ?? 0) > 0) withData.push(what);
    }
    // The panels about rule status, reconcile time and agents have data from a standalone agent.
    expect(withData).to.include.members([
      'panel "Non-compliant nodes"',
      'panel "Failing rules by node"',
      'panel "Agents and nodes"',
      'panel "Seconds since last reconcile"',
    ]);
  });
});
