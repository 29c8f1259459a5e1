/**
 * `npm run bench`: measures what operators ask about (docs/benchmarks.md is written from this run).
 * Not a test: nothing here asserts a time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, totalmem, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectNode, type InspectedNode } from '../../agent/node/inspect.js';
import { defaultPolicy } from '../../agent/core/policy.js';
import { Daemon } from '../../agent/daemon/daemon.js';
import { ExecPluginProber } from '../../agent/host/cni-plugin.js';
import { ProcessCommandRunner } from '../../agent/host/commands.js';
import { HEALTHY } from '../../agent/host/health.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import type { ServiceManager } from '../../agent/host/service-manager.js';
import { RULE_VALUE_SPECS, RULES } from '../../agent/rules/index.js';
import { KUBE_BENCH_CIS_1_12 } from './kube-bench-checks.js';
import { kubeBenchCommands, kubeBenchPass } from './kube-bench-baseline.js';
import { silentLogger } from '../../agent/telemetry/logger.js';
import { AgentMetrics } from '../../agent/telemetry/metrics.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const main = path.join(repo, 'dist/bundle/kube-harden.mjs');
const pluginDir = process.env.KUBE_HARDEN_TEST_PLUGIN_DIR ?? '/var/cache/kube-harden/cni';
const temps: string[] = [];

function host(...fixtures: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'kh-bench-'));
  temps.push(dir);
  for (const fixture of fixtures) cpSync(path.join(repo, 'test/fixtures/hosts', fixture), dir, { recursive: true, verbatimSymlinks: true });
  return dir;
}

function stats(samples: number[]): { median: number; p90: number; p99: number; min: number; max: number; n: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: at(0.5), p90: at(0.9), p99: at(0.99), min: sorted[0]!, max: sorted[sorted.length - 1]!, n: sorted.length };
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/**
 * The daemon's reconcile in process, as the daemon calls it (with its previous inspection), on a node
 * whose files settled (older than the 1 s HostFs trusts): unchanged, then with one file changed before
 * each run (a comment appended to the kubelet config: read, parsed and every rule judged again).
 */
async function inProcessReconcile(runs: number): Promise<{ unchanged: number[]; oneChanged: number[] }> {
  const root = host('kubeadm-control-plane', 'cni-flannel');
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const fs = new HostFs(await HostRoot.open(root));
  const runner = new ProcessCommandRunner();
  const plugins = new ExecPluginProber(fs, runner, pluginDir);
  const policy = defaultPolicy(RULE_VALUE_SPECS);
  const input = { nodeName: 'bench', nodeIp: null, nodeIpSource: null, kubeletVersion: 'v1.31.4', pluginDir };
  const time = async (previous: InspectedNode | null): Promise<[number, InspectedNode]> => {
    const start = process.hrtime.bigint();
    const node = await inspectNode(fs, runner, plugins, { ...input }, policy, previous);
    return [Number(process.hrtime.bigint() - start) / 1e6, node];
  };
  let [, previous] = await time(null);
  const unchanged: number[] = [];
  const oneChanged: number[] = [];
  for (let run = 0; run < runs + 5; run++) {
    const [took, node] = await time(previous);
    if (run >= 5) unchanged.push(took); // the first runs warm the JIT
    previous = node;
  }
  const config = path.join(root, 'var/lib/kubelet/config.yaml');
  const original = readFileSync(config, 'utf8');
  for (let run = 0; run < runs + 5; run++) {
    writeFileSync(config, `${original}# bench ${run}\n`);
    const [took, node] = await time(previous);
    if (run >= 5) oneChanged.push(took);
    previous = node;
  }
  return { unchanged, oneChanged };
}

const noRestarts: ServiceManager = { restart: async () => undefined };

async function driftLatency(tampers: number): Promise<number[]> {
  const root = host('kubeadm-worker', 'cni-flannel');
  // A node's files are not all a second old: let the copied tree settle first (HostFs re-reads whatever
  // changed in the last second), as the reconcile rows do. The daemon's own start-up writes stay fresh.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const fs = new HostFs(await HostRoot.open(root));
  const runner = new ProcessCommandRunner();
  const daemon = new Daemon(
    {
      policyFile: null,
      input: { nodeName: 'bench', nodeIp: null, nodeIpSource: null, kubeletVersion: null, pluginDir },
      noRestart: true,
      debounceMs: 50,
      pollMs: 10_000,
      restartIntervalMs: 300_000,
      slotRetryMs: 10_000,
      gateIntervalMs: 50,
      rollCheckMs: 30_000,
      // Each tamper here is an independent edit; on a node, this many in a minute would be a fight.
      flapGuard: { threshold: 1e9, windowMs: 60_000, initialBackoffMs: 30_000, maxBackoffMs: 600_000, forgetAfterMs: 3_600_000 },
    },
    {
      fs,
      runner,
      plugins: new ExecPluginProber(fs, runner, pluginDir),
      services: noRestarts,
      health: () => ({ waitHealthy: async () => HEALTHY }),
      metrics: new AgentMetrics('bench'),
      logger: silentLogger(),
      now: () => Date.now(),
      cluster: null,
    },
  );
  await daemon.start();
  const file = path.join(root, 'var/lib/kubelet/config.yaml');
  const latencies: number[] = [];
  for (let round = 0; round < tampers; round++) {
    await daemon.settled();
    const hardened = readFileSync(file, 'utf8');
    const start = process.hrtime.bigint();
    writeFileSync(file, hardened.replace('anonymous:\n    enabled: false', 'anonymous:\n    enabled: true'));
    for (;;) {
      if (readFileSync(file, 'utf8').includes('anonymous:\n    enabled: false')) break;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  await daemon.stop();
  return latencies;
}

/**
 * Drift latency measured in processes of their own, as the daemon runs: in this process the heap still
 * holds what the rows before it left behind (a hundred inspections, cold runs' buffers), and collecting
 * that garbage lands in the drift samples (a p99 of 182 ms here against 110 ms alone, same code).
 * Several daemons, their samples pooled: on this VM one run's p99 (its second-worst of 200) moved
 * between 97 and 188 ms from one run to the next with the same code (fsync and scheduling spikes).
 */
function driftInOwnProcesses(daemons: number, tampers: number): number[] {
  return Array.from({ length: daemons }, () => driftInOwnProcess(tampers)).flat();
}

function driftInOwnProcess(tampers: number): number[] {
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), DRIFT_ONLY, String(tampers)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: process.env,
  });
  if (child.status !== 0) throw new Error(`drift measurement failed (exit ${child.status})`);
  return JSON.parse(child.stdout) as number[];
}

/** The argument that makes this script measure drift only and print the latencies as JSON. */
const DRIFT_ONLY = '--drift-only';

function get(port: number, url: string): Promise<number> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: url }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
      .on('error', () => resolve(0));
  });
}

function procSample(pid: number): { rssKiB: number; cpuTicks: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { rssKiB: rss, cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** The Node.js flags the image's ENTRYPOINT runs the agent with: the idle daemon is measured as shipped. */
function imageNodeFlags(): string[] {
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(path.join(repo, 'Dockerfile'), 'utf8'))?.[1];
  const argv = entrypoint ? (JSON.parse(entrypoint) as string[]) : [];
  return argv.slice(1).filter((arg) => arg.startsWith('--'));
}

async function idleDaemon(seconds: number): Promise<{ rssMiB: number; cpuPercent: number; readyMs: number }> {
  const root = host('kubeadm-worker', 'cni-flannel');
  const port = 30000 + Math.floor(Math.random() * 20000);
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [...imageNodeFlags(), main, 'run', '--host-root', root, '--no-restart', '--metrics-address', `127.0.0.1:${port}`, '--log-level', 'warn'],
    {
      env: { PATH: process.env.PATH ?? '', KUBE_HARDEN_PLUGIN_DIR: pluginDir },
      stdio: 'ignore',
    },
  );
  while ((await get(port, '/readyz')) !== 200) await new Promise((resolve) => setTimeout(resolve, 10));
  const readyMs = Date.now() - started;
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const first = procSample(child.pid!);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const last = procSample(child.pid!);
  child.kill('SIGTERM');
  await new Promise((resolve) => child.on('exit', resolve));
  const ticksPerSecond = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return { rssMiB: last.rssKiB / 1024, cpuPercent: ((last.cpuTicks - first.cpuTicks) / ticksPerSecond / seconds) * 100, readyMs };
}

/** One pass of the former baseline, started as it always was (`sh -c`, output discarded). */
function grepPass(commands: readonly string[]): number {
  const start = process.hrtime.bigint();
  for (const command of commands) spawnSync('/bin/sh', ['-c', command], { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * The baseline this benchmark used before: one `sh -c` per check that greps the manifest or config
 * for the value (cheaper than kube-bench's `ps -ef | grep` per flag), 58 commands. Kept as a row so
 * its figures stay comparable with earlier runs.
 */
function grepBaselineCommands(root: string): string[] {
  const manifests = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd'].map(
    (name) => `${root}/etc/kubernetes/manifests/${name}.yaml`,
  );
  const files = [
    ...manifests,
    ...['admin.conf', 'super-admin.conf', 'scheduler.conf', 'controller-manager.conf', 'kubelet.conf'].map(
      (name) => `${root}/etc/kubernetes/${name}`,
    ),
    `${root}/etc/kubernetes/pki`,
    `${root}/var/lib/kubelet/config.yaml`,
    `${root}/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf`,
  ];
  const flag = (file: string, name: string) => `grep -E -- '--${name}(=|\\s)' ${file} | sed -e 's/.*--${name}=//' -e 's/"//g'`;
  const field = (name: string) => `grep -E '^${name}:' ${root}/var/lib/kubelet/config.yaml | sed -e 's/^${name}: *//'`;
  const commands = [
    ...files.flatMap((file) => [`stat -c %a ${file}`, `stat -c %U:%G ${file}`]),
    ...[
      'anonymous-auth',
      'profiling',
      'authorization-mode',
      'enable-admission-plugins',
      'audit-log-path',
      'audit-log-maxage',
      'audit-log-maxbackup',
      'audit-log-maxsize',
      'kubelet-certificate-authority',
      'service-account-lookup',
      'service-account-key-file',
      'etcd-certfile',
      'tls-cert-file',
      'client-ca-file',
      'etcd-cafile',
      'encryption-provider-config',
      'tls-cipher-suites',
    ].map((name) => flag(manifests[0]!, name)),
    ...[
      'profiling',
      'terminated-pod-gc-threshold',
      'use-service-account-credentials',
      'service-account-private-key-file',
      'root-ca-file',
      'bind-address',
    ].map((name) => flag(manifests[1]!, name)),
    ...['profiling', 'bind-address'].map((name) => flag(manifests[2]!, name)),
    ...[
      'readOnlyPort',
      'streamingConnectionIdleTimeout',
      'protectKernelDefaults',
      'tlsMinVersion',
      'tlsCipherSuites',
      'podPidsLimit',
      'rotateCertificates',
      'address',
    ].map(field),
    'ps -ef | grep kubelet | grep -v grep',
  ];
  return commands;
}

/** Numbers of the last run before issue 17 (commit 2aacab6, this machine): the "before" column. */
const BEFORE = {
  audit: 494.8,
  baseline: 225.6,
  nodeStart: 79.2,
  reconcileUnchanged: 58.2,
  apply: 825.3,
  driftMedian: 94.7,
  driftP99: 131.0,
  rssMiB: 78.3,
  cpuPercent: 0.83,
};

/** One cold CLI run's wall time. */
function coldRun(args: string[], root: string): number {
  const start = process.hrtime.bigint();
  spawnSync(process.execPath, [main, ...args, '--host-root', root], { env: { PATH: process.env.PATH ?? '', KUBE_HARDEN_PLUGIN_DIR: pluginDir } });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main_(): Promise<void> {
  const idleSeconds = Number(process.env.KUBE_HARDEN_BENCH_IDLE_SECONDS ?? 60);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  // Interleaved, so the three cold measurements share the machine's state (ratios from one run).
  log("cold audit, node -e 0, kube-bench's commands and the former grep baseline, interleaved, 21 rounds ...");
  const auditRoot = host('kubeadm-control-plane', 'cni-flannel');
  const judged = new Set(RULES.flatMap((rule) => rule.meta.cis));
  const kubeBench = kubeBenchCommands(auditRoot, judged);
  const grepBaseline = grepBaselineCommands(auditRoot);
  const auditTimes: number[] = [];
  const nodeTimes: number[] = [];
  const baselineTimes: number[] = [];
  const grepTimes: number[] = [];
  for (let round = 0; round < 21; round++) {
    auditTimes.push(coldRun(['audit', '--output', 'json'], auditRoot));
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, ['-e', '0']);
    nodeTimes.push(Number(process.hrtime.bigint() - start) / 1e6);
    baselineTimes.push(kubeBenchPass(kubeBench));
    grepTimes.push(grepPass(grepBaseline));
  }
  const audit = stats(auditTimes.slice(1));
  const nodeStart = stats(nodeTimes.slice(1));
  const baseline = stats(baselineTimes.slice(1));
  const grep = stats(grepTimes.slice(1));
  log('reconcile in process: unchanged node, one changed file ...');
  const reconcileRuns = await inProcessReconcile(100);
  const unchanged = stats(reconcileRuns.unchanged);
  const oneChanged = stats(reconcileRuns.oneChanged);
  log('apply --no-restart, cold process, fresh host each run ...');
  const apply = stats(Array.from({ length: 10 }, () => coldRun(['apply', '--no-restart'], host('kubeadm-control-plane', 'cni-flannel'))));
  log('drift correction latency, 3 daemons × 200 tampers ...');
  const drift = stats(driftInOwnProcesses(3, 200));
  log(`idle daemon over ${idleSeconds}s ...`);
  const idle = await idleDaemon(idleSeconds);

  const cpu = cpus()[0]?.model ?? 'unknown';
  const machine = `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node.js ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const row = (name: string, s: ReturnType<typeof stats>) =>
    `| ${name} | ${s.n} | ${ms(s.median)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.min)} | ${ms(s.max)} |`;
  const yes = (met: boolean) => (met ? 'yes' : '**no**');
  const auditBudget = nodeStart.median + 100;
  const ratio = audit.median / baseline.median;
  const processCount = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).length;
  const kubeBenchChecks = KUBE_BENCH_CIS_1_12.filter((check) => judged.has(check.id)).length;
  const flags = imageNodeFlags();
  const report = `# Benchmarks

Written by \`npm run bench\` (scripts/bench/bench.ts). Goals, not assertions: no test fails on these.

Machine: ${machine}. The CLI is the bundle users get (\`dist/bundle/kube-harden.mjs\`).

| measurement | runs | median | p90 | p99 | min | max |
|---|---|---|---|---|---|---|
${row(`CLI \`audit --output json\`, cold process, control-plane + flannel fixture (${RULES.length} rules)`, audit)}
${row(`shell baseline: kube-bench's own commands for the ${kubeBenchChecks} CIS checks the audit judges (${kubeBench.length} \`/bin/sh\` runs), same fixture`, baseline)}
${row(`former baseline: one \`sh -c\` per check grepping the manifest or config instead of \`ps\` (${grepBaseline.length} commands)`, grep)}
${row('`node -e 0`: Node.js start-up alone', nodeStart)}
${row("reconcile in process (the daemon's call, with its previous inspection), unchanged control-plane node", unchanged)}
${row('reconcile in process, one file changed before each run (kubelet config: read, parsed, every rule judged)', oneChanged)}
${row('CLI `apply --no-restart`, cold process, fresh fixture each run (about 40 changes incl. plugin install)', apply)}
${row('drift correction: config.yaml tampered → hardened again (3 daemons, each in a process of its own, 200 tampers each, real watcher)', drift)}

The four cold rows are interleaved (audit, \`node -e 0\`, kube-bench's commands, the former baseline;
21 rounds, the first dropped), so their ratios come from one run on one machine state.

Idle daemon (\`kube-harden run\`, worker + flannel fixture, no restarts, Node.js flags of the image's
ENTRYPOINT: \`${flags.join(' ') || '(none)'}\`), sampled from /proc over ${idleSeconds} s after a 5 s settle:
**RSS ${idle.rssMiB.toFixed(1)} MiB**, **CPU ${idle.cpuPercent.toFixed(2)} %** of one core; ready (first
reconcile done) ${idle.readyMs} ms after start.

## Issue 17: before and after

"Before" is the last run before the work (commit 2aacab6, same machine, same fixtures).

| measurement | before | now | goal | met |
|---|---|---|---|---|
| cold audit | ${ms(BEFORE.audit)} | ${ms(audit.median)} | ≤ \`node -e 0\` + 100 ms = ${ms(auditBudget)} | ${yes(audit.median <= auditBudget)} |
| cold audit / shell baseline (kube-bench's commands) | (not measured then) | ${ratio.toFixed(2)} | ≤ 0.4 | ${yes(ratio <= 0.4)} |
| cold audit / former grep baseline | ${(BEFORE.audit / BEFORE.baseline).toFixed(2)} | ${(audit.median / grep.median).toFixed(2)} | (none: see notes) | – |
| reconcile, unchanged control-plane node (median) | ${ms(BEFORE.reconcileUnchanged)} | ${ms(unchanged.median)} | ≤ 5 ms | ${yes(unchanged.median <= 5)} |
| reconcile, one changed file (median) | (no incremental path) | ${ms(oneChanged.median)} | ≤ 15 ms | ${yes(oneChanged.median <= 15)} |
| drift correction p99 | ${ms(BEFORE.driftP99)} | ${ms(drift.p99)} | ≤ 133 ms | ${yes(drift.p99 <= 133)} |
| idle RSS | ${BEFORE.rssMiB.toFixed(1)} MiB | ${idle.rssMiB.toFixed(1)} MiB | < 60 MiB | ${yes(idle.rssMiB < 60)} |
| idle CPU | ${BEFORE.cpuPercent.toFixed(2)} % | ${idle.cpuPercent.toFixed(2)} % | near 0 | ${yes(idle.cpuPercent < 1)} |
| cold apply | ${ms(BEFORE.apply)} | ${ms(apply.median)} | – | – |

What changed, and what each step bought, is in docs/performance.md.

Notes:
- The shell baseline is kube-bench's: for each CIS check the audit judges, the commands kube-bench
  v1.12's cfg gives (scripts/bench/kube-bench-checks.ts, transcribed from kube-bench a73ce378), handed
  to \`/bin/sh\` as kube-bench does, with its variables set to the fixture's paths. Left out, so the
  baseline is if anything too fast: kube-bench's own start-up, its search for the running components
  (a \`ps\` per candidate binary) and its judging. It still does less than the audit: it does not
  resolve effective values (flags over drop-ins over config over defaults) or run the CNI plugin.
- Most of kube-bench's commands run \`ps -ef\`, whose cost grows with the processes on the machine:
  ${processCount} during this run. A Kubernetes node, with its containers, usually has more.
- Until 2026-11-30 the baseline was the former row: 58 \`sh -c\` that grep the manifests for flags,
  where kube-bench runs \`ps -ef | grep\` for each flag, one command for each of 58 of the checks. The goal's
  ratio is now taken against what kube-bench runs; the former row stays for comparison with earlier
  runs (docs/performance.md says why).
- Both baselines start their shells with Node's \`spawnSync\` (the rows are timed in one process);
  started from a shell loop instead, 58 \`sh -c stat\` take about a fifth less here (175 against
  213 ms).
- Drift latency includes the 50 ms debounce; the rest is re-observing and judging every rule, planning,
  backing up and the atomic write.
- The drift "before" (131 ms) was that commit's bench: 200 tampers in the bench's own process, right
  after copying the host tree. Measured the way the row is measured now (own processes, a settled
  tree, 3 × 200 tampers), interleaved with the current code on 2026-11-30, commit 2aacab6 gave
  median 123.2 ms and p99 292.5 ms against 81.7 and 106.0 ms (docs/performance.md).
- The drift benchmark lifts the flap guard's threshold (200 tampers of one file in a minute would
  otherwise rightly count as a fight and back off).
`;
  writeFileSync(path.join(repo, 'docs/benchmarks.md'), report);
  log(report);
}

// The daemon-side rows (reconcile, drift) run in this process: with the image's Node.js flags, as shipped.
const missingFlags = imageNodeFlags().filter((flag) => !process.execArgv.includes(flag));
if (missingFlags.length > 0) {
  const again = spawnSync(process.execPath, [...process.execArgv, ...missingFlags, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(again.status ?? 1);
}

try {
  const driftOnly = process.argv.indexOf(DRIFT_ONLY);
  if (driftOnly >= 0) process.stdout.write(JSON.stringify(await driftLatency(Number(process.argv[driftOnly + 1]))));
  else await main_();
} finally {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
}
