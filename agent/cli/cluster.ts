import { readFileSync } from 'node:fs';
import { ConflictError, type ClusterApi } from '../cluster/api.js';
import { clusterApi, loadKubeConfig, type ClusterCredentials } from '../cluster/client.js';
import { countedClusterApi, type ApiErrorSink } from '../cluster/counted.js';
import { DEFAULT_EVENT_LIMITS, EventRecorder } from '../cluster/events.js';
import { nodeHealthCheck } from '../cluster/node-health.js';
import { NodeAnnotator } from '../cluster/node-status.js';
import { POLICY_REPORT_RETRY_MS, PolicyReportWriter } from '../cluster/policy-reports.js';
import { LeaseSemaphore } from '../cluster/semaphore.js';
import type { Policy } from '../core/policy.js';
import { LEADER_PREFIX } from '../session/cluster-settings.js';
import type { DaemonCluster } from '../daemon/daemon.js';
import { WorkloadAuditor } from '../daemon/workload-audit.js';
import type { SelfPod } from '../rules/workloads/pod-rules.js';
import type { AgentMetrics } from '../telemetry/metrics.js';
import type { Logger } from '../telemetry/logger.js';
import { InputError } from './common.js';

/**
 * Wiring of the daemon's cluster features (imported lazily by `run`: no other command loads the
 * Kubernetes client).
 */

/** The service account's namespace file in a pod. */
const POD_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** How often an unchanged node state refreshes `kube-harden.io/last-reconcile`. */
export const ANNOTATION_HEARTBEAT_MS = 300_000;

export interface ClusterWiring {
  readonly credentials: ClusterCredentials;
  /** Namespace of the restart slot Leases (the agent's own). */
  readonly namespace: string;
  readonly nodeName: string;
  /** The policy in force (maxConcurrent and the lease duration follow policy reloads). */
  readonly policy: () => Policy;
  readonly logger: Logger;
  readonly now: () => number;
  readonly metrics: AgentMetrics;
  /** The agent's own pod ($POD_NAMESPACE/$POD_NAME from the downward API): exempt from the workload audit. */
  readonly self: SelfPod | null;
  /** Debounce of pod changes before a workload audit. */
  readonly workloadDebounceMs: number;
}

/** The agent's namespace: --namespace, $POD_NAMESPACE, the service account's, else kube-harden. */
export function agentNamespace(flag: string | undefined, env: Readonly<Record<string, string | undefined>>): string {
  if (flag) return flag;
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  try {
    return readFileSync(POD_NAMESPACE_FILE, 'utf8').trim() || 'kube-harden';
  } catch {
    return 'kube-harden';
  }
}

/**
 * Counts every failed API call in kube_harden_api_errors_total{operation} and logs the first failure of
 * each operation (an API server that refuses, say, Events would otherwise log on every reconcile).
 */
export function apiErrorSink(metrics: AgentMetrics, logger: Logger): ApiErrorSink {
  const logged = new Set<string>();
  return (operation, error) => {
    metrics.apiErrors.inc({ operation });
    if (logged.has(operation)) return;
    logged.add(operation);
    logger.warn('Kubernetes API call failed; the node keeps hardening without it (further failures of this operation are only counted)', {
      operation,
      metric: 'kube_harden_api_errors_total',
      error: error.message,
    });
  };
}

/** Builds the client and the daemon's cluster features. A kubeconfig that cannot be loaded is the user's error. */
export async function connectCluster(wiring: ClusterWiring): Promise<{ cluster: DaemonCluster; api: ClusterApi }> {
  let api: ClusterApi;
  try {
    api = countedClusterApi(clusterApi(loadKubeConfig(wiring.credentials)), apiErrorSink(wiring.metrics, wiring.logger));
  } catch (error) {
    const source = wiring.credentials.kind === 'kubeconfig' ? `--kubeconfig ${wiring.credentials.path}` : 'the in-cluster service account';
    throw new InputError(`cannot load cluster credentials from ${source}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const { nodeName, logger } = wiring;
  // The Node's uid makes Events point at this Node incarnation; without it they still name the Node.
  const uid = await api.nodes.get(nodeName).then(
    (node) => node.uid,
    (error: unknown) => {
      logger.warn('cannot read this Node; cluster features retry on use', {
        node: nodeName,
        error: error instanceof Error ? error.message : String(error),
      });
      return null;
    },
  );
  const semaphore = new LeaseSemaphore(api.leases, {
    namespace: wiring.namespace,
    holder: nodeName,
    slots: () => wiring.policy().restarts.maxConcurrent,
    leaseDurationSeconds: () => wiring.policy().restarts.leaseDurationSeconds,
    now: wiring.now,
    // The failed call itself is counted by the counted API (leases.replace).
    onRenewError: (error) => {
      logger.warn('restart slot renewal failed; retried, the slot expires after a lease duration without one', {
        error: error instanceof Error ? error.message : String(error),
      });
    },
    onLost: (slot) => {
      logger.error('restart slot taken by another holder: this agent stalled past its lease duration', { slot });
    },
  });
  const events = new EventRecorder(api.events, {
    namespace: 'default',
    node: { name: nodeName, uid },
    ...DEFAULT_EVENT_LIMITS,
    now: wiring.now,
    // Failed calls are counted and logged once per operation by the counted API; conflicts are benign.
    onError: (error) =>
      logger.debug('event not recorded', {
        error: error instanceof ConflictError ? 'conflict' : error instanceof Error ? error.message : String(error),
      }),
  });
  // Events about Namespaces get a rate limit of their own: many unlabelled namespaces must not crowd out the Node's.
  const namespaceEvents = new EventRecorder(api.events, {
    namespace: 'default',
    node: { name: nodeName, uid },
    ...DEFAULT_EVENT_LIMITS,
    now: wiring.now,
    onError: (error) =>
      logger.debug('namespace event not recorded', {
        error: error instanceof ConflictError ? 'conflict (another agent recorded it)' : error instanceof Error ? error.message : String(error),
      }),
  });
  const workloads = new WorkloadAuditor(
    nodeName,
    wiring.self,
    {
      pods: api.pods,
      events,
      metrics: wiring.metrics,
      logger,
      policy: wiring.policy,
      now: wiring.now,
      namespaces: api.namespaces,
      namespaceEvents,
      selfNamespace: wiring.namespace,
    },
    wiring.workloadDebounceMs,
  );
  const leader = new LeaseSemaphore(api.leases, {
    namespace: wiring.namespace,
    holder: nodeName,
    slots: () => 1,
    leaseDurationSeconds: () => wiring.policy().restarts.leaseDurationSeconds,
    now: wiring.now,
    prefix: LEADER_PREFIX,
  });
  return {
    api,
    cluster: {
      api,
      leader,
      semaphore,
      events,
      workloads,
      annotator: new NodeAnnotator(api.nodes, nodeName, ANNOTATION_HEARTBEAT_MS),
      policyReport: new PolicyReportWriter(api.policyReports, api.nodes, {
        nodeName,
        logger,
        retryMs: POLICY_REPORT_RETRY_MS,
        onAvailability: (unavailable) => wiring.metrics.policyReportUnavailable.set(unavailable ? 1 : 0),
      }),
      nodeHealth: (sinceMs) => nodeHealthCheck(api.nodes, api.leases, nodeName, sinceMs),
    },
  };
}
