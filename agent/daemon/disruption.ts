import type { ApplyResult } from '../apply/executor.js';
import type { RestartGate } from '../apply/health-gate.js';
import { RolledBackChanges } from '../apply/rolled-back.js';
import type { LeaseSemaphore } from '../cluster/semaphore.js';
import type { Plan } from '../core/plan.js';
import type { HostFs } from '../host/host-fs.js';
import type { Logger } from '../telemetry/logger.js';

/** Why the held rules wait: shown in the plan's `blocked` list and the logs. */
export const WAITING_FOR_SLOT = 'waiting for a restart slot: restarts.maxConcurrent nodes are being disrupted';

/** The rules of a plan whose changes disrupt a component now: a restart done now, or a static pod reload. */
export function disruptiveRules(plan: Plan, restartsNow: boolean): string[] {
  return plan.restarts
    .filter((restart) => restart.disruption === 'reload' || (restart.disruption === 'restart' && restartsNow))
    .flatMap((restart) => restart.rules);
}

/**
 * Everything that keeps a node's disruption safe for the fleet, between plan and apply:
 *  - changes a health gate rolled back are held until the policy or the file changes;
 *  - a disruptive change waits for a slot of the cluster-wide restart semaphore (none without one);
 *  - the slot is released only once the node proved healthy; a node still unhealthy after its rollback
 *    keeps it, so the rollout stops there instead of spreading, until the node is healthy again.
 */
export class DisruptionControl {
  readonly rolledBack: RolledBackChanges;
  /** Set while this node holds a slot because it stayed unhealthy after a rollback. */
  private stuckService: string | null = null;
  private slotRetry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    fs: HostFs,
    private readonly semaphore: LeaseSemaphore | null,
    private readonly logger: Logger,
    /** How soon to ask again for a slot when none was free. */
    private readonly slotRetryMs: number,
  ) {
    this.rolledBack = new RolledBackChanges(fs);
  }

  /** True when this node holds a slot (disrupting, or stuck unhealthy). */
  get holdingSlot(): boolean {
    return this.semaphore?.slot != null;
  }

  get degraded(): boolean {
    return this.rolledBack.size > 0 || this.stuckService !== null;
  }

  /**
   * The plan to apply now: rolled-back groups and the flap guard's rules held; the disruptive rules
   * held too (and a slot awaited through `onSlotFree`) when no restart slot is free. `disrupting` is
   * true when this plan disrupts the node under a slot just taken.
   */
  async prepare(
    plan: (held: ReadonlyMap<string, string>) => Plan,
    flapHeld: ReadonlyMap<string, string>,
    noRestartFor: (plan: Plan) => boolean,
    onSlotFree: () => void,
  ): Promise<{ current: Plan; held: Map<string, string>; noRestart: boolean; waiting: boolean; disrupting: boolean }> {
    // The drift loop runs this on every correction: plan once unless something is actually held.
    let unheld: Plan | null = null;
    const planUnheld = () => (unheld ??= plan(new Map()));
    const held = new Map([...flapHeld, ...(await this.rolledBack.holdFor(planUnheld))]);
    let current = held.size === 0 ? planUnheld() : plan(held);
    const noRestart = noRestartFor(current);
    const waitingRules = await this.admit(current, !noRestart);
    if (waitingRules.size > 0) {
      this.logger.info('waiting for a restart slot', { rules: [...waitingRules.keys()] });
      waitingRules.forEach((why, rule) => held.set(rule, why));
      current = plan(held);
      this.waitForSlot(onSlotFree);
    }
    const disrupting = waitingRules.size === 0 && this.holdingSlot && disruptiveRules(current, !noRestart).length > 0;
    return { current, held, noRestart, waiting: waitingRules.size > 0, disrupting };
  }

  /**
   * Takes a slot for the plan's disruptive rules. Returns the rules to hold (with the reason) when no
   * slot is free; empty when the plan may go ahead.
   */
  async admit(plan: Plan, restartsNow: boolean): Promise<Map<string, string>> {
    const rules = disruptiveRules(plan, restartsNow);
    if (rules.length === 0 || !this.semaphore) return new Map();
    try {
      if (await this.semaphore.tryAcquire()) {
        this.logger.info('restart slot acquired', { slot: this.semaphore.slot, rules });
        return new Map();
      }
    } catch (error) {
      // Without the API server nobody can prove the fleet is not already disrupted: wait.
      this.logger.warn('restart slot unavailable, disruptive changes wait', { rules, error: error instanceof Error ? error.message : String(error) });
    }
    return new Map(rules.map((rule) => [rule, WAITING_FOR_SLOT]));
  }

  /**
   * No slot was free: ask for one again later, without holding up drift correction meanwhile. Only the
   * slot is polled (a GET per slot); `onTaken` runs (a reconcile) once one is taken.
   */
  waitForSlot(onTaken: () => void): void {
    if (this.slotRetry || this.stopped || !this.semaphore) return;
    // Jitter spreads many waiting nodes over the interval instead of a thundering herd.
    const delay = this.slotRetryMs * (0.5 + Math.random());
    this.slotRetry = setTimeout(() => {
      if (this.stopped) return;
      void this.semaphore!.tryAcquire()
        .catch(() => false)
        .then((taken) => {
          this.slotRetry = null;
          if (taken) onTaken();
          else this.waitForSlot(onTaken);
        });
    }, delay);
  }

  /**
   * Remembers the changes each failed restart rolled back, as one group, so they are not retried until
   * the policy or one of their files changes. True when anything was rolled back.
   */
  async rememberRollbacks(result: ApplyResult, nowMs: number): Promise<boolean> {
    for (const restart of result.restarts.filter((entry) => entry.result === 'failed' || entry.result === 'rolled-back')) {
      const changes = result.changes.filter(
        (entry) => entry.result === 'rolled-back' && entry.change.rules.some((rule) => restart.rules.includes(rule)),
      );
      const why = restart.error ?? changes.find((entry) => entry.error)?.error ?? 'the health gate failed';
      await this.rolledBack.remember(
        changes.map((entry) => entry.change),
        why,
        nowMs,
      );
      this.logger.warn('change rolled back and held until the policy or one of its files changes', {
        service: restart.service,
        rules: restart.rules,
      });
    }
    return result.changes.some((entry) => entry.result === 'rolled-back');
  }

  /** After an apply (or a deferred restart): release the slot unless the node stayed unhealthy. */
  async settle(result: Pick<ApplyResult, 'unhealthy'>): Promise<void> {
    // A stuck node gives its slot back only through recheckStuck, once it is healthy again.
    if (!this.semaphore?.slot || this.stuckService) return;
    if (result.unhealthy.length > 0) {
      this.stuckService = result.unhealthy[0]!;
      this.logger.error('node unhealthy after rollback: keeping the restart slot so the rollout stops here', {
        slot: this.semaphore.slot,
        services: result.unhealthy,
      });
      return;
    }
    await this.release();
  }

  /** A stuck node that became healthy again gives its slot back (checked at each reconcile). */
  async recheckStuck(gate: RestartGate): Promise<void> {
    if (!this.stuckService) return;
    const verdict = await gate(this.stuckService, 0).waitHealthy(1000);
    if (!verdict.healthy) return;
    this.logger.info('node healthy again, releasing the restart slot', { service: this.stuckService });
    this.stuckService = null;
    await this.release();
  }

  /** Shutdown: a healthy node releases its slot; a stuck one lets it expire. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.slotRetry) clearTimeout(this.slotRetry);
    if (!this.semaphore?.slot) return;
    if (this.stuckService) this.semaphore.abandon();
    else await this.release();
  }

  private async release(): Promise<void> {
    const slot = this.semaphore?.slot;
    try {
      await this.semaphore?.release();
      this.logger.info('restart slot released', { slot });
    } catch (error) {
      // The slot then expires after one lease duration; nothing else to do.
      this.logger.warn('restart slot release failed, it will expire', { slot, error: error instanceof Error ? error.message : String(error) });
    }
  }
}
