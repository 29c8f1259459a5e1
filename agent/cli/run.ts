import { existsSync } from 'node:fs';
import { Daemon, DEFAULT_DAEMON_TIMING, type DaemonCluster } from '../daemon/daemon.js';
import { daemonDisruptionGate } from '../cluster/disruption-gate.js';
import { boundPort, healthLimits, parseListenAddress, serveHttp } from '../daemon/http.js';
import { disruptionEvent } from '../daemon/reporting.js';
import { ExecPluginProber } from '../host/cni-plugin.js';
import { HostFs } from '../host/host-fs.js';
import { LOG_LEVELS, loadLogger, type LogLevel } from '../telemetry/logger.js';
import { AgentMetrics } from '../telemetry/metrics.js';
import { COMMON_HELP, EXIT, InputError, UsageError, commonOptions, parseCommand } from './common.js';
import type { Command } from './command.js';
import { openHostRoot } from './node.js';
import { agentVersion } from './version.js';

/** Default metrics port: not 9100 (node-exporter), not 9808 (CSI livenessprobe), not a kubelet/control-plane port. */
export const DEFAULT_METRICS_ADDRESS = ':9742';

export const runCommand: Command = {
  name: 'run',
  help: `Usage: kube-harden run [options] [--no-restart] [--metrics-address host:port] [--log-level L]
                           [--kubeconfig FILE] [--namespace NS]

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

With cluster credentials (the pod's service account, or --kubeconfig) it also:
  - takes one of restarts.maxConcurrent restart slots (Leases kube-harden-restart-N in its namespace)
    before any disruptive change (a kubelet restart, a static pod manifest) is written, so no more than
    maxConcurrent nodes are disrupted at once; other changes never wait. A dead holder's slot frees
    restarts.leaseDurationSeconds (default 60) after its last renewal;
  - after a kubelet restart demands a new kubelet process running with the flags on disk, its /healthz,
    the node's Lease in kube-node-lease renewed after the restart and the Node Ready, all within
    restarts.healthTimeoutSeconds; otherwise it rolls back, restarts again, marks the node degraded and
    does not retry that change until the policy or the file changes. The slot is released only once the
    node is healthy: a node that stays unhealthy keeps it and the rollout stops there;
  - annotates its Node (kube-harden.io/state: compliant | drifted | remediating | degraded, and
    kube-harden.io/last-reconcile; written on change, refreshed every 5 minutes) and records Events on
    it (Remediated, DriftCorrected, RolledBack, ChangeBlocked, ChangeFailed), aggregated and rate-limited;
  - audits the pods on its node (a watch, fieldSelector spec.nodeName) against the workload rules, with
    the policy's exemptions; its own pod ($POD_NAMESPACE/$POD_NAME) is exempt;
  - one leader (Lease kube-harden-leader-0) hardens kube-system/kubelet-config and kube-system/kube-proxy
    (validated whole), then kube-proxy pods roll node by node, the leader's first, halting and
    restoring the previous configuration at the first pod that is not Ready; it also lists the
    namespaces at each resync and reports those without a Pod Security level
    (workload.namespace-pod-security; in audit mode every agent does, no leader being elected).

  --no-restart             never restart services (changes are written; restarts reported pending;
                           static pod manifests are left alone: writing one restarts its component)
  --metrics-address ADDR   HTTP for /metrics, and /healthz, /readyz unless --health-address is given
                           (default ${DEFAULT_METRICS_ADDRESS}, all interfaces; the pod runs with hostNetwork). The
                           DaemonSet binds it to 127.0.0.1 behind kube-rbac-proxy (docs/security.md)
  --health-address ADDR    serve /healthz and /readyz here instead (the kubelet's probes reach the
                           node IP; they reveal nothing), e.g. :9743
  --log-level L            error | warn | info (default) | debug; JSON lines on stderr
                           (default $KUBE_HARDEN_LOG_LEVEL, else info)
  --kubeconfig FILE        cluster credentials from FILE instead of the pod's service account
  --namespace NS           namespace of the restart slot Leases (default $POD_NAMESPACE, else the
                           service account's namespace, else kube-harden)

Without cluster credentials it runs with host-level features only (said once in the log): changes
are then not coordinated with other nodes.
SIGTERM/SIGINT: the write in progress finishes, watchers stop, exit 0.

${COMMON_HELP}`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, {
      'no-restart': { type: 'boolean' },
      'metrics-address': { type: 'string' },
      'health-address': { type: 'string' },
      'log-level': { type: 'string' },
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
    });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    // The flag, else the environment every command reads (a DaemonSet sets it once), else info.
    const level = (values['log-level'] as string | undefined) ?? deps.env.KUBE_HARDEN_LOG_LEVEL ?? 'info';
    if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
    const listen = (flag: 'metrics-address' | 'health-address', fallback: string | null) => {
      const text = (values[flag] as string | undefined) ?? fallback;
      try {
        return text === null ? null : parseListenAddress(text);
      } catch (error) {
        throw new UsageError(`--${flag} ${(error as Error).message}`);
      }
    };
    const address = listen('metrics-address', DEFAULT_METRICS_ADDRESS)!;
    const healthAddress = listen('health-address', null);
    const common = commonOptions(values, deps.env);
    const logger = await loadLogger(level as LogLevel);
    const fs = new HostFs(await openHostRoot(common.hostRoot));
    const metrics = new AgentMetrics(agentVersion());
    const now = () => deps.now().getTime();
    const kubeconfig = values.kubeconfig as string | undefined;
    const inCluster = Boolean(deps.env.KUBERNETES_SERVICE_HOST) && existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token');
    if (kubeconfig !== undefined && !existsSync(kubeconfig)) throw new InputError(`--kubeconfig ${kubeconfig}: no such file`);
    let daemon: Daemon | null = null;
    let cluster: DaemonCluster | null = null;
    let agentNs: string | null = null;
    if (kubeconfig !== undefined || inCluster) {
      // Loaded only here: audit, plan and apply never load the Kubernetes client.
      const { agentNamespace, connectCluster } = await import('./cluster.js');
      const namespace = agentNamespace(values.namespace as string | undefined, deps.env);
      ({ cluster } = await connectCluster({
        credentials: kubeconfig !== undefined ? { kind: 'kubeconfig', path: kubeconfig } : { kind: 'in-cluster' },
        namespace,
        nodeName: common.nodeName,
        policy: () => daemon!.policyInForce,
        logger,
        now,
        metrics,
        self: deps.env.POD_NAMESPACE && deps.env.POD_NAME ? { namespace: deps.env.POD_NAMESPACE, name: deps.env.POD_NAME } : null,
        workloadDebounceMs: 1000,
      }));
      agentNs = namespace;
      logger.info('cluster features on', { node: common.nodeName, namespace, credentials: kubeconfig ?? 'in-cluster' });
    } else logger.warn('no cluster credentials: host-level features only, restarts are not coordinated across nodes', { node: common.nodeName });
    // The pause switch lives on the agent's own DaemonSet: consulted when this agent runs in one (the
    // downward API's POD_NAMESPACE) or KUBE_HARDEN_DAEMONSET names it; windows, restarts.paused and
    // the blockers apply everywhere.
    const daemonSetKnown = Boolean(deps.env.POD_NAMESPACE || deps.env.KUBE_HARDEN_DAEMONSET);
    const disruption = daemonDisruptionGate({
      policy: () => daemon!.policyInForce.restarts,
      nodeName: common.nodeName,
      cluster: cluster?.api ?? null,
      namespace: daemonSetKnown ? agentNs : null,
      env: deps.env,
      metrics,
      logger,
      onChange: (decision) => cluster?.events.record(disruptionEvent(decision)),
    });
    daemon = new Daemon(
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
        cluster,
        disruption,
      },
    );
    // Load first: an invalid policy refuses to start (exit 2) before anything listens.
    try {
      await daemon.load();
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    // Probes and signal handlers are up before the first reconcile, which may wait minutes on health
    // gates: /healthz says the loop is alive, /readyz that the first reconcile is done.
    let stopSignal = (signal: string) => void signal;
    const stopped = new Promise<void>((resolve) => {
      stopSignal = (signal) => {
        logger.info('stopping', { signal });
        resolve();
      };
    });
    process.once('SIGTERM', () => stopSignal('SIGTERM'));
    process.once('SIGINT', () => stopSignal('SIGINT'));
    const limits = healthLimits(() => daemon.policyInForce);
    const servers = [await serveHttp(address, metrics, () => daemon, limits, now, { metrics: true, probes: healthAddress === null })];
    if (healthAddress) servers.push(await serveHttp(healthAddress, metrics, () => daemon, limits, now, { metrics: false, probes: true }));
    logger.info('serving', {
      address: `${address.host}:${boundPort(servers[0]!)}`,
      paths: healthAddress ? ['/metrics'] : ['/metrics', '/healthz', '/readyz'],
    });
    if (servers[1]) logger.info('serving', { address: `${healthAddress!.host}:${boundPort(servers[1])}`, paths: ['/healthz', '/readyz'] });
    const started = daemon.start();
    await stopped;
    await daemon.stop(); // the reconcile in progress finishes its writes first
    await started;
    await Promise.all(
      servers.map(
        (server) =>
          new Promise((resolve) => {
            server.close(resolve);
            server.closeAllConnections();
          }),
      ),
    );
    logger.info('stopped');
    return EXIT.ok;
  },
};
