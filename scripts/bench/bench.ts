/**
 * `npm run bench`: measures what operators ask about (docs/benchmarks.md is written from this run).
 * Not a test: nothing here asserts a time.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, totalmem, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectNode } from '../../agent/node/inspect.js';
import { defaultPolicy } from '../../agent/core/policy.js';
import { Daemon } from '../../agent/daemon/daemon.js';
import { ExecPluginProber } from '../../agent/host/cni-plugin.js';
import { ProcessCommandRunner } from '../../agent/host/commands.js';
import { HEALTHY } from '../../agent/host/health.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import type { ServiceManager } from '../../agent/host/service-manager.js';
import { RULE_VALUE_SPECS, RULES } from '../../agent/rules/index.js';
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

function cliWallTimes(args: string[], fixtures: string[], runs: number, fresh: boolean): number[] {
  const times: number[] = [];
  let root = host(...fixtures);
  for (let run = 0; run < runs; run++) {
    if (fresh && run > 0) root = host(...fixtures);
    const start = process.hrtime.bigint();
    spawnSync(process.execPath, [main, ...args, '--host-root', root], { env: { PATH: process.env.PATH ?? '', KUBE_HARDEN_PLUGIN_DIR: pluginDir } });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}

async function inProcessReconcile(runs: number): Promise<number[]> {
  const root = host('kubeadm-control-plane', 'cni-flannel');
  const fs = new HostFs(await HostRoot.open(root));
  const runner = new ProcessCommandRunner();
  const plugins = new ExecPluginProber(fs, runner, pluginDir);
  const policy = defaultPolicy(RULE_VALUE_SPECS);
  const input = { nodeName: 'bench', nodeIp: null, nodeIpSource: null, kubeletVersion: 'v1.31.4', pluginDir };
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = process.hrtime.bigint();
    await inspectNode(fs, runner, plugins, input, policy);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times.slice(5); // the first runs warm the JIT and the plugin cache
}

const noRestarts: ServiceManager = { restart: async () => undefined };

async function driftLatency(tampers: number): Promise<number[]> {
  const root = host('kubeadm-worker', 'cni-flannel');
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

async function idleDaemon(seconds: number): Promise<{ rssMiB: number; cpuPercent: number; readyMs: number }> {
  const root = host('kubeadm-worker', 'cni-flannel');
  const port = 30000 + Math.floor(Math.random() * 20000);
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [main, 'run', '--host-root', root, '--no-restart', '--metrics-address', `127.0.0.1:${port}`, '--log-level', 'warn'],
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

/**
 * The same kind of checks done the way kube-bench does them: one shell process per check (stat for a
 * file's mode and owner, grep and sed on a manifest or config for a flag or field), on the same
 * fixture. Returns the wall time of one full pass and how many checks it ran.
 */
function kubeBenchStyle(runs: number): { times: number[]; checks: number } {
  const root = host('kubeadm-control-plane', 'cni-flannel');
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
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const start = process.hrtime.bigint();
    for (const command of commands) spawnSync('/bin/sh', ['-c', command], { stdio: 'ignore' });
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { times, checks: commands.length };
}

async function main_(): Promise<void> {
  const idleSeconds = Number(process.env.KUBE_HARDEN_BENCH_IDLE_SECONDS ?? 60);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log('audit, cold process (control plane + flannel) ...');
  const audit = stats(cliWallTimes(['audit', '--output', 'json'], ['kubeadm-control-plane', 'cni-flannel'], 15, false));
  log('node -e 0 (Node.js start-up alone) ...');
  const nodeStart = stats(
    Array.from({ length: 15 }, () => {
      const start = process.hrtime.bigint();
      spawnSync(process.execPath, ['-e', '0']);
      return Number(process.hrtime.bigint() - start) / 1e6;
    }),
  );
  log('kube-bench-style baseline: a shell process per check ...');
  const baselineRun = kubeBenchStyle(15);
  const baseline = stats(baselineRun.times);
  log('reconcile in process ...');
  const reconcile = stats(await inProcessReconcile(105));
  log('apply --no-restart, cold process, fresh host each run ...');
  const apply = stats(cliWallTimes(['apply', '--no-restart'], ['kubeadm-control-plane', 'cni-flannel'], 10, true));
  log('drift correction latency, 200 tampers ...');
  const drift = stats(await driftLatency(200));
  log(`idle daemon over ${idleSeconds}s ...`);
  const idle = await idleDaemon(idleSeconds);

  const cpu = cpus()[0]?.model ?? 'unknown';
  const machine = `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node.js ${process.version}, ${new Date().toISOString().slice(0, 10)}`;
  const row = (name: string, s: ReturnType<typeof stats>) =>
    `| ${name} | ${s.n} | ${ms(s.median)} | ${ms(s.p90)} | ${ms(s.p99)} | ${ms(s.min)} | ${ms(s.max)} |`;
  const report = `# Benchmarks

Written by \`npm run bench\` (scripts/bench/bench.ts). Goals, not assertions: no test fails on these.

Machine: ${machine}.

| measurement | runs | median | p90 | p99 | min | max |
|---|---|---|---|---|---|---|
${row(`CLI \`audit --output json\`, cold process, control-plane + flannel fixture (${RULES.length} rules)`, audit)}
${row(`baseline: the same kind of checks as kube-bench runs them, one \`sh -c\` (stat, grep, sed) per check (${baselineRun.checks} checks), same fixture`, baseline)}
${row('`node -e 0`: Node.js start-up alone', nodeStart)}
${row('in-process reconcile: observe + evaluate, same fixture (warm)', reconcile)}
${row('CLI `apply --no-restart`, cold process, fresh fixture each run (about 40 changes incl. plugin install)', apply)}
${row('drift correction: config.yaml tampered → hardened again (daemon, real watcher)', drift)}

Idle daemon (\`kube-harden run\`, worker + flannel fixture, no restarts), sampled from /proc over ${idleSeconds} s after
a 5 s settle: **RSS ${idle.rssMiB.toFixed(1)} MiB**, **CPU ${idle.cpuPercent.toFixed(2)} %** of one core
(the 10 s sysctl poll is the only periodic work); ready (first reconcile done) ${idle.readyMs} ms after start.

Cold \`audit\` against the shell baseline: ratio **${(audit.median / baseline.median).toFixed(2)}** (audit median ${ms(audit.median)},
baseline ${ms(baseline.median)}; below 1 means the audit is faster). The audit judges effective values
(flags over drop-ins over config over defaults) and probes the CNI plugin by running it, which the grep
baseline does not. Node.js start-up alone is ${ms(nodeStart.median)} of the cold audit.

Against the goals (issue #10; goals, not tests):

| goal | measured | met |
|---|---|---|
| cold audit < 150 ms | ${ms(audit.median)} | ${audit.median < 150 ? 'yes' : 'no'} |
| reconcile < 10 ms | ${ms(reconcile.median)} | ${reconcile.median < 10 ? 'yes' : 'no'} |
| drift p99 < 250 ms | ${ms(drift.p99)} | ${drift.p99 < 250 ? 'yes' : 'no'} |
| idle RSS < 60 MB | ${(idle.rssMiB * 1.048576).toFixed(1)} MB | ${idle.rssMiB * 1.048576 < 60 ? 'yes' : 'no'} |
| idle CPU near 0 | ${idle.cpuPercent.toFixed(2)} % | ${idle.cpuPercent < 1 ? 'yes' : 'no'} |

Where the cold audit goes (a CPU profile of one run): Node.js start-up and compiling the agent's modules
(about 130 ms before any rule runs), YAML parsing of the manifests and kubelet config (the largest
single item), reading the host files, and running the shipped and installed CNI plugin once each to
prove it works there. The reconcile figure is the same observe + evaluate without start-up.

Notes:
- The cold CLI time is mostly Node.js start-up and module loading; the reconcile itself is the in-process row.
- Drift latency includes the 50 ms debounce; the rest is re-observing and judging every rule, planning,
  backing up and the atomic write.
- The drift benchmark lifts the flap guard's threshold (200 tampers of one file in a minute would
  otherwise rightly count as a fight and back off).
`;
  writeFileSync(path.join(repo, 'docs/benchmarks.md'), report);
  log(report);
}

try {
  await main_();
} finally {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
}
