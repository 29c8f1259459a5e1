import type { ActivationResult } from '../node/executor.js';
import type { InspectedNode } from '../node/inspect.js';
import { kubeletRestartNeeded } from '../rules/kubelet/restart-need.js';
import type { Logger } from '../telemetry/logger.js';
import type { AgentMetrics } from '../telemetry/metrics.js';

/**
 * The daemon's restart bookkeeping: when each service last restarted (one restart per interval at
 * most) and which restarts are pending (deferred by --no-restart, the rate limit, or a busy fleet).
 */
export class RestartBook {
  private readonly last = new Map<string, number>();
  private readonly pending = new Set<string>();

  constructor(
    private readonly intervalMs: number,
    private readonly noRestart: boolean,
    private readonly logger: Logger,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  tooSoon(service: string, now: number): boolean {
    const last = this.last.get(service);
    return last !== undefined && now - last < this.intervalMs;
  }

  /** Pending restarts the rate limit allows now (never any with --no-restart). */
  due(now: number): string[] {
    return this.noRestart ? [] : [...this.pending].filter((service) => !this.tooSoon(service, now));
  }

  restarted(service: string, now: number): void {
    this.pending.delete(service);
    this.last.set(service, now);
  }

  /**
   * When the running kubelet is visible in /proc, its start time against the settings files' change
   * times decides whether a kubelet restart is pending (also after an agent restart, or a change made
   * with --no-restart). Judged before this reconcile's own changes, which add their pending restarts.
   */
  judgeRunningKubelet(node: InspectedNode): void {
    const service = node.ctx.kubelet.service;
    if (!service || node.obs.kubeletProcess?.startedAtMs == null) return;
    const need = kubeletRestartNeeded(node.ctx, node.evaluated);
    if (!need) {
      this.pending.delete(service);
      return;
    }
    this.defer(service, need.reason);
  }

  /** What an apply did with its restarts: pending ones wait, done ones count. */
  recordApply(activations: readonly ActivationResult[], now: number, metrics: AgentMetrics): void {
    for (const { activation, result } of activations) {
      // A static pod reload pending under --no-restart is not a systemd restart to do later.
      if (result === 'pending') {
        if (activation.kind === 'restart') this.defer(activation.service, activation.reason);
        continue;
      }
      this.restarted(activation.service, now);
      metrics.serviceRestarts.inc({ service: activation.service, result });
      if (result === 'rolled-back' || result === 'failed') metrics.rollbacks.inc({ service: activation.service });
    }
  }

  private defer(service: string, reason: string): void {
    if (!this.pending.has(service)) this.logger.warn('service restart pending', { service, reason, noRestart: this.noRestart });
    this.pending.add(service);
  }
}
