/**
 * Whether a disruptive change (a restart, a static pod reload, a kube-proxy roll) may start now:
 * maintenance windows first, then the pause switch, then the blockers (Prometheus alerts, blocking
 * pods, Node conditions and taints). The enforcement session asks before it takes a restart slot and
 * again while it waits; non-disruptive changes never ask. Every input that cannot be read is an
 * `unknown` that holds the disruption (fail closed), except Prometheus with `failClosed: false`.
 */
import {
  alertVerdict,
  nodeVerdict,
  pauseVerdict,
  podVerdict,
  type BlockerVerdict,
  type DisruptionBlockedReason,
} from '../core/disruption-blockers.js';
import type { DisruptionPolicy } from '../core/disruption-policy.js';
import { windowState } from '../core/maintenance-window.js';
import type { Logger } from '../telemetry/logger.js';
import type { DaemonSetApi, NodeApi, PodApi } from './api.js';
import { httpAlertSource, type AlertSource } from './prometheus-alerts.js';

/** What a held disruption shows on the node and in `kube-harden report`. */
export type DisruptionWaitState = 'pending-window' | 'blocked' | 'paused';

/** The gate's answer. `retryAtMs`: when asking again makes sense (a window's opening; a blocker's re-check). */
export type DisruptionDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      readonly state: DisruptionWaitState;
      /** The `reason` label of kube_harden_disruption_blocked. */
      readonly cause: DisruptionBlockedReason;
      /** For people: which window, which alert, which pod, which taint. */
      readonly reason: string;
      readonly retryAtMs: number | null;
    };

export interface DisruptionGate {
  check(nowMs: number): Promise<DisruptionDecision>;
}

/** The slices of the ClusterApi the gate reads (the real client, or fakes in tests). */
export interface DisruptionGateCluster {
  readonly pods: Pick<PodApi, 'listOnNode'>;
  readonly nodes: Pick<NodeApi, 'get'>;
  readonly daemonSets: Pick<DaemonSetApi, 'annotations'>;
}

export interface DisruptionGateOptions {
  /** The policy in force (`policy().restarts`), read at every check so a reload applies at once. */
  readonly policy: () => DisruptionPolicy;
  readonly nodeName: string;
  /** Null without cluster credentials: a configured pod or node blocker is then `unknown`. */
  readonly cluster: DisruptionGateCluster | null;
  /** The agent's DaemonSet carrying the pause annotation; null without a cluster. */
  readonly daemonSet: { readonly namespace: string; readonly name: string } | null;
  readonly alerts: AlertSource;
  readonly logger: Logger;
  /** How soon a blocked or paused node asks again (default 60 s). */
  readonly recheckMs?: number;
}

/** The DaemonSet that carries the pause switch: `$KUBE_HARDEN_DAEMONSET`, else `kube-harden`. */
export function agentDaemonSetName(env: Readonly<Record<string, string | undefined>>): string {
  return env.KUBE_HARDEN_DAEMONSET?.trim() || 'kube-harden';
}

const DEFAULT_RECHECK_MS = 60_000;

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The gate over injected IO (ClusterApi slices, an AlertSource). */
export function createDisruptionGate(options: DisruptionGateOptions): DisruptionGate {
  const recheckMs = options.recheckMs ?? DEFAULT_RECHECK_MS;
  const { cluster, nodeName, logger } = options;

  async function pause(policy: DisruptionPolicy): Promise<BlockerVerdict> {
    if (policy.paused || !cluster || !options.daemonSet) return pauseVerdict(policy.paused, {}, '');
    const where = `${options.daemonSet.namespace}/${options.daemonSet.name}`;
    try {
      return pauseVerdict(false, await cluster.daemonSets.annotations(options.daemonSet.namespace, options.daemonSet.name), where);
    } catch (error) {
      return { verdict: 'unknown', reason: `pause switch unreadable: ${message(error)}` };
    }
  }

  async function alerts(policy: DisruptionPolicy): Promise<BlockerVerdict> {
    const prometheus = policy.blockers.prometheus;
    if (!prometheus) return { verdict: 'clear' };
    try {
      return alertVerdict(await options.alerts.alerts(prometheus.url, prometheus.timeoutSeconds * 1000), prometheus);
    } catch (error) {
      if (prometheus.failClosed) return { verdict: 'unknown', reason: message(error) };
      logger.warn('prometheus alerts unknown, disruption allowed (restarts.blockers.prometheus.failClosed: false)', { error: message(error) });
      return { verdict: 'clear' };
    }
  }

  async function pods(policy: DisruptionPolicy): Promise<BlockerVerdict> {
    if (policy.blockers.podSelectors.length === 0) return { verdict: 'clear' };
    if (!cluster) return { verdict: 'unknown', reason: 'blocking pods unknown: no cluster credentials' };
    try {
      const listed = await cluster.pods.listOnNode(nodeName);
      return podVerdict(
        listed.pods.map((record) => record.pod),
        policy.blockers.podSelectors,
      );
    } catch (error) {
      return { verdict: 'unknown', reason: `blocking pods unknown: ${message(error)}` };
    }
  }

  async function node(policy: DisruptionPolicy): Promise<BlockerVerdict> {
    const { nodeConditions, nodeTaints } = policy.blockers;
    if (nodeConditions.length === 0 && nodeTaints.length === 0) return { verdict: 'clear' };
    if (!cluster) return { verdict: 'unknown', reason: 'node conditions and taints unknown: no cluster credentials' };
    try {
      return nodeVerdict(await cluster.nodes.get(nodeName), nodeConditions, nodeTaints);
    } catch (error) {
      return { verdict: 'unknown', reason: `node conditions and taints unknown: ${message(error)}` };
    }
  }

  return {
    async check(nowMs: number): Promise<DisruptionDecision> {
      const policy = options.policy();
      const window = windowState(policy.windows, nowMs);
      if (!window.open) return { allowed: false, state: 'pending-window', cause: 'window', reason: window.reason, retryAtMs: window.nextOpenMs };
      const retryAtMs = nowMs + recheckMs;
      const paused = await pause(policy);
      if (paused.verdict === 'blocked') return { allowed: false, state: 'paused', cause: 'paused', reason: paused.reason, retryAtMs };
      if (paused.verdict === 'unknown') return { allowed: false, state: 'blocked', cause: 'unknown', reason: paused.reason, retryAtMs };
      const verdicts = await Promise.all([alerts(policy), pods(policy), node(policy)]);
      const causes: DisruptionBlockedReason[] = ['alert', 'pod', 'node'];
      const blocked = verdicts.flatMap((verdict, index) =>
        verdict.verdict === 'blocked' ? [{ cause: causes[index]!, reason: verdict.reason }] : [],
      );
      if (blocked.length > 0)
        return { allowed: false, state: 'blocked', cause: blocked[0]!.cause, reason: blocked.map((entry) => entry.reason).join('; '), retryAtMs };
      const unknown = verdicts.flatMap((verdict) => (verdict.verdict === 'unknown' ? [verdict.reason] : []));
      if (unknown.length > 0) return { allowed: false, state: 'blocked', cause: 'unknown', reason: unknown.join('; '), retryAtMs };
      return { allowed: true };
    },
  };
}

/** What the caller-facing gate records. */
export interface DisruptionBlockedRecorder {
  recordDisruptionBlocked(reason: DisruptionBlockedReason | null): void;
}

/**
 * The gate as the enforcement session uses it: each answer sets `kube_harden_disruption_blocked`
 * (1 for the current reason while held) and a change of answer is logged once and passed to
 * `onChange` (for an Event and the node's annotation). `clear()` when nothing disruptive waits any
 * more, so the metric does not stay at 1 for a change that is gone.
 */
export class ReportedDisruptionGate implements DisruptionGate {
  private last: DisruptionDecision | null = null;

  constructor(
    private readonly gate: DisruptionGate,
    private readonly metrics: DisruptionBlockedRecorder,
    private readonly logger: Logger,
    private readonly onChange: (decision: DisruptionDecision) => void = () => undefined,
  ) {}

  /** The last answer (null before the first check or after clear()). */
  get decision(): DisruptionDecision | null {
    return this.last;
  }

  async check(nowMs: number): Promise<DisruptionDecision> {
    const decision = await this.gate.check(nowMs);
    this.metrics.recordDisruptionBlocked(decision.allowed ? null : decision.cause);
    // Nothing held before (the first check, or after clear()) is the same as allowed: only a change of
    // answer is news, and "allowed" after "allowed" is none.
    if (!sameDecision(this.last ?? { allowed: true }, decision)) {
      if (decision.allowed) this.logger.info('disruption allowed', {});
      else
        this.logger.info('disruption held', {
          state: decision.state,
          cause: decision.cause,
          reason: decision.reason,
          retryAt: decision.retryAtMs === null ? null : new Date(decision.retryAtMs).toISOString(),
        });
      this.onChange(decision);
    }
    this.last = decision;
    return decision;
  }

  clear(): void {
    this.metrics.recordDisruptionBlocked(null);
    this.last = null;
  }
}

/** Same state, cause and reason: a re-check that changes nothing logs nothing. */
function sameDecision(a: DisruptionDecision | null, b: DisruptionDecision): boolean {
  if (a === null) return false;
  if (a.allowed || b.allowed) return a.allowed === b.allowed;
  return a.state === b.state && a.cause === b.cause && a.reason === b.reason;
}

/**
 * The daemon's gate in one call: the real Prometheus source, the agent's DaemonSet
 * (`$KUBE_HARDEN_DAEMONSET` in `namespace`), the metric. `cluster` and `namespace` are null without
 * cluster credentials (then only windows, `restarts.paused` and Prometheus apply).
 */
export function daemonDisruptionGate(options: {
  readonly policy: () => DisruptionPolicy;
  readonly nodeName: string;
  readonly cluster: DisruptionGateCluster | null;
  readonly namespace: string | null;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly metrics: DisruptionBlockedRecorder;
  readonly logger: Logger;
  readonly onChange?: (decision: DisruptionDecision) => void;
  readonly alerts?: AlertSource;
}): ReportedDisruptionGate {
  const gate = createDisruptionGate({
    policy: options.policy,
    nodeName: options.nodeName,
    cluster: options.cluster,
    daemonSet: options.cluster && options.namespace ? { namespace: options.namespace, name: agentDaemonSetName(options.env) } : null,
    alerts: options.alerts ?? httpAlertSource,
    logger: options.logger,
  });
  return new ReportedDisruptionGate(gate, options.metrics, options.logger, options.onChange);
}
