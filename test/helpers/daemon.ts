import { Daemon } from '../../agent/daemon/daemon.js';
import { ExecPluginProber, type PluginProber } from '../../agent/host/cni-plugin.js';
import { ProcessCommandRunner } from '../../agent/host/commands.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import type { HealthProbe, ServiceProbes } from '../../agent/host/health.js';
import type { ServiceManager } from '../../agent/host/service-manager.js';
import type { Policy } from '../../agent/core/policy.js';
import type { DisruptionCheck } from '../../agent/session/session.js';
import { silentLogger } from '../../agent/telemetry/logger.js';
import { AgentMetrics } from '../../agent/telemetry/metrics.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { FakeServiceManager } from '../fakes/fake-service-manager.js';
import { TEST_PLUGIN_DIR } from './prerequisites.js';

/** Starts a standalone daemon (no cluster) on a host root with fast timings; resolves after the first reconcile. */
export async function startDaemon(
  root: string,
  options: {
    policyFile?: string | null;
    pollMs?: number;
    noRestart?: boolean;
    /** At most one restart per service per this long (default 5 minutes, as shipped). */
    restartIntervalMs?: number;
    services?: ServiceManager & { readonly restarts: string[] };
    health?: HealthProbe;
    /** Per-service probes (wins over `health`). */
    probes?: ServiceProbes;
    /** Wraps the real plugin prober (a test can make it fail). */
    plugins?: (real: PluginProber) => PluginProber;
    /** The agent's clock (a fake one for maintenance windows). */
    now?: () => number;
    /** When disruption may happen, built with the daemon's metrics and its policy in force. */
    disruption?: (metrics: AgentMetrics, policy: () => Policy) => DisruptionCheck;
  } = {},
) {
  const fs = new HostFs(await HostRoot.open(root));
  const runner = new ProcessCommandRunner();
  const metrics = new AgentMetrics('test');
  const services = options.services ?? new FakeServiceManager();
  const daemon: Daemon = new Daemon(
    {
      policyFile: options.policyFile ?? null,
      input: { nodeName: 'n', nodeIp: null, nodeIpSource: null, kubeletVersion: null, pluginDir: TEST_PLUGIN_DIR },
      noRestart: options.noRestart ?? true,
      debounceMs: 20,
      pollMs: options.pollMs ?? 100,
      restartIntervalMs: options.restartIntervalMs ?? 300_000,
      slotRetryMs: 10_000,
      gateIntervalMs: 50,
      rollCheckMs: 30_000,
    },
    {
      fs,
      runner,
      plugins: (options.plugins ?? ((real) => real))(new ExecPluginProber(fs, runner, TEST_PLUGIN_DIR)),
      services,
      health: options.probes ?? (() => options.health ?? new FakeHealthProbe([true])),
      metrics,
      logger: silentLogger(),
      now: options.now ?? (() => Date.now()),
      cluster: null,
      disruption: options.disruption ? options.disruption(metrics, () => daemon.policyInForce) : null,
    },
  );
  await daemon.start();
  return { daemon, metrics, services };
}

export async function metric(metrics: AgentMetrics, pattern: RegExp): Promise<number> {
  const match = pattern.exec(await metrics.text());
  return match ? Number(match[1]) : 0;
}
