import type { ClusterApi } from '../cluster/api.js';
import type { LeaseSemaphore } from '../cluster/semaphore.js';
import type { OperatorInput } from '../core/observation.js';
import type { PluginProber } from '../host/cni-plugin.js';
import type { CommandRunner } from '../host/commands.js';
import type { HealthCheck, ServiceProbes } from '../host/health.js';
import type { HostFs } from '../host/host-fs.js';
import type { ServiceManager } from '../host/service-manager.js';
import type { Logger } from '../telemetry/logger.js';
import type { AgentMetrics } from '../telemetry/metrics.js';
import type { DisruptionCheck } from '../session/session.js';
import type { FlapGuardOptions } from './flap-guard.js';
import type { ClusterReporting } from './reporting.js';
import type { WorkloadAuditor } from './workload-audit.js';

/** Why a reconcile runs. `startup` changes are remediations; later ones count as drift corrections. */
export type ReconcileReason = 'startup' | 'event' | 'poll' | 'resync' | 'policy' | 'roll';

export interface DaemonOptions {
  readonly policyFile: string | null;
  readonly input: OperatorInput;
  readonly noRestart: boolean;
  /** Debounce of watcher events before a reconcile. */
  readonly debounceMs: number;
  /** Sysctls give no file events: how often they are polled. */
  readonly pollMs: number;
  /** Minimum time between two restarts of one service by the loop. */
  readonly restartIntervalMs: number;
  /** Fight detection; the default suits nodes (a benchmark of many tampers raises the threshold). */
  readonly flapGuard?: FlapGuardOptions;
  /** How soon to ask again for a restart slot when none was free. */
  readonly slotRetryMs: number;
  /** Poll interval of the health gate's checks. */
  readonly gateIntervalMs: number;
  /** How often a node checks whether a kube-proxy roll wants it (cluster features only). */
  readonly rollCheckMs: number;
}

export const DEFAULT_DAEMON_TIMING = {
  debounceMs: 50,
  pollMs: 10_000,
  restartIntervalMs: 300_000,
  slotRetryMs: 10_000,
  gateIntervalMs: 1000,
  rollCheckMs: 30_000,
} as const;

/** What the daemon does with cluster credentials: the restart semaphore, the health gate's cluster half, reporting. */
export interface DaemonCluster extends ClusterReporting {
  readonly semaphore: LeaseSemaphore;
  /** The node's Lease renewed since a kubelet restart at `sinceMs`, and the Node Ready. */
  readonly nodeHealth: (sinceMs: number) => HealthCheck;
  /** The workload audit of this node's pods (started after the first reconcile). */
  readonly workloads: WorkloadAuditor | null;
  /** For the cluster-wide settings (the leader) and the kube-proxy roll. */
  readonly api: ClusterApi;
  readonly leader: LeaseSemaphore;
}

export interface DaemonDeps {
  readonly fs: HostFs;
  readonly runner: CommandRunner;
  readonly plugins: PluginProber;
  readonly services: ServiceManager;
  /** A service's own health endpoint; the daemon adds the process and cluster stages for the kubelet. */
  readonly health: ServiceProbes;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** Null without credentials: host-level features only. */
  readonly cluster: DaemonCluster | null;
  /** When disruption may happen (windows, pause switch, blockers); absent = always. */
  readonly disruption?: DisruptionCheck | null;
}
