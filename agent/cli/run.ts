import { existsSync } from 'node:fs';
import { Daemon, DEFAULT_DAEMON_TIMING } from '../daemon/daemon.js';
import { boundPort, parseListenAddress, serveHttp } from '../daemon/http.js';
import { ExecPluginProber } from '../host/cni-plugin.js';
import { HostFs } from '../host/host-fs.js';
import { LOG_LEVELS, createLogger, type LogLevel } from '../telemetry/logger.js';
import { AgentMetrics } from '../telemetry/metrics.js';
import { COMMON_HELP, EXIT, UsageError, commonOptions, parseCommand } from './common.js';
import type { Command } from './command.js';
import { openHostRoot } from './node.js';
import { agentVersion } from './version.js';

/** Default metrics port: not 9100 (node-exporter), not 9808 (CSI livenessprobe), not a kubelet/control-plane port. */
export const DEFAULT_METRICS_ADDRESS = ':9742';

export const runCommand: Command = {
  name: 'run',
  help: `Usage: kube-harden run [options] [--no-restart] [--metrics-address host:port] [--log-level L]

The DaemonSet entry point. Loads the policy, reconciles once (mode enforce: apply; mode audit: report
only), then keeps the node hardened:
  - watches the parent directory of every file the rules read (depth 0; inotify watches are shared
    with the host's kubelet and runtime), debounces events and re-observes the node; a tampered file is
    back within milliseconds;
  - polls live sysctls (no file events under /proc) every 10s and resyncs fully every
    drift.resyncSeconds (policy, default 300s);
  - reloads the policy file when it changes (a ConfigMap update swaps a symlink); an invalid policy is
    refused with every error logged and the last good one stays in force;
  - backs off exponentially from a file another writer keeps reverting (more than 10 corrections in a
    minute), sets kube_harden_drift_conflict{rule}=1 and logs it; an occasional edit is always fixed;
  - restarts a service at most once per 5 minutes; with --no-restart restarts are logged as pending.

  --no-restart             never restart services (changes are written; restarts reported pending)
  --metrics-address ADDR   HTTP for /metrics, /healthz, /readyz (default ${DEFAULT_METRICS_ADDRESS}, all interfaces;
                           the pod runs with hostNetwork)
  --log-level L            error | warn | info (default) | debug; JSON lines on stderr

Without cluster credentials it runs with host-level features only (said once in the log).
SIGTERM/SIGINT: the write in progress finishes, watchers stop, exit 0.

${COMMON_HELP}`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, {
      'no-restart': { type: 'boolean' },
      'metrics-address': { type: 'string' },
      'log-level': { type: 'string' },
    });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const level = (values['log-level'] as string | undefined) ?? 'info';
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
    let address: { host: string; port: number };
    try {
      address = parseListenAddress((values['metrics-address'] as string | undefined) ?? DEFAULT_METRICS_ADDRESS);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const common = commonOptions(values, deps.env);
    const logger = createLogger(level as LogLevel);
    const fs = new HostFs(await openHostRoot(common.hostRoot));
    const metrics = new AgentMetrics(agentVersion());
    const now = () => deps.now().getTime();
    const daemon = new Daemon(
      {
        policyFile: common.policyFile,
        input: {
          nodeName: common.nodeName,
          nodeIp: common.nodeIp,
          nodeIpSource: common.nodeIpSource,
          kubeletVersion: common.kubeletVersion,
          pluginDir: common.pluginDir,
        },
        noRestart: values['no-restart'] === true,
        ...DEFAULT_DAEMON_TIMING,
      },
      {
        fs,
        runner: deps.runner,
        plugins: new ExecPluginProber(fs, deps.runner, common.pluginDir),
        services: deps.services(common.hostRoot),
        health: deps.health,
        metrics,
        logger,
        now,
      },
    );
    const inCluster = Boolean(deps.env.KUBERNETES_SERVICE_HOST) && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
    logger.info(
      inCluster
        ? 'cluster credentials found; cluster features are not built yet, running host-level features only'
        : 'no cluster credentials: host-level features only',
      {
        node: common.nodeName,
      },
    );
    try {
      await daemon.start();
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const server = await serveHttp(address, metrics, () => daemon, { staleAfterMs: 60_000, stuckAfterMs: 300_000 }, now);
    logger.info('serving', { address: `${address.host}:${boundPort(server)}`, paths: ['/metrics', '/healthz', '/readyz'] });
    await new Promise<void>((resolve) => {
      const stop = (signal: string) => {
        logger.info('stopping', { signal });
        resolve();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
    await daemon.stop();
    await new Promise((resolve) => {
      server.close(resolve);
      server.closeAllConnections();
    });
    logger.info('stopped');
    return EXIT.ok;
  },
};
