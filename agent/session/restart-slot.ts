import type { RestartGate } from '../node/health-gate.js';
import type { LeaseSemaphore } from '../cluster/semaphore.js';
import type { Activation } from '../core/plan.js';
import type { Logger } from '../telemetry/logger.js';

/** Why the held rules wait: shown in the plan's `blocked` list and the logs. */
export const WAITING_FOR_SLOT = 'waiting for a restart slot: restarts.maxConcurrent nodes are being disrupted';
/** The API server could not say whether a slot is free: nobody can prove the fleet is not disrupted. */
export const SLOT_UNKNOWN = 'waiting for a restart slot: the API server did not answer, so a free slot cannot be proven';

/** The activations that disrupt a component now: a restart done now, or a static pod reload. */
export function disruptive(activations: readonly Activation[], restartsNow: boolean): Activation[] {
  return activations.filter((activation) => activation.kind !== 'restart' || restartsNow);
}

/**
 * The cluster-wide restart semaphore as the enforcement session uses it (failed API calls are counted
 * in kube_harden_api_errors_total by the counted ClusterApi underneath; here they are logged and said):
 *  - a disruptive activation waits for a slot (none is needed without a cluster);
 *  - the slot is released only once the node proved healthy; a node still unhealthy after its rollback
 *    keeps it, and says so on the slot's Lease, so the rollout stops there, also across agent restarts,
 *    until the node is healthy again.
 */
export class RestartSlots {
  /** Set while this node holds a slot because it stayed unhealthy after a rollback. */
  private stuckService: string | null = null;
  private slotRetry: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly semaphore: LeaseSemaphore | null,
    private readonly logger: Logger,
    /** How soon to ask again for a slot when none was free. */
    private readonly slotRetryMs: number,
  ) {}

  /** True when this node holds a slot (disrupting, or stuck unhealthy). */
  get holdingSlot(): boolean {
    return this.semaphore?.slot != null;
  }

  /** The service this node is stuck on (it keeps its slot), or null. */
  get stuck(): string | null {
    return this.stuckService;
  }

  /**
   * At start: a slot an earlier agent process of this node still holds is taken back, and the node is
   * treated as stuck until its health gate passes (the earlier process may have died mid-disruption).
   */
  async adopt(defaultService: string | null): Promise<void> {
    if (!this.semaphore) return;
    try {
      const recorded = await this.semaphore.adopt();
      if (recorded === null) return;
      this.stuckService = recorded || defaultService || 'kubelet';
      this.logger.warn('holding a restart slot from before this agent started: released once the node is healthy', {
        slot: this.semaphore.slot,
        service: this.stuckService,
      });
    } catch (error) {
      this.logger.warn('cannot check for a restart slot held before start', { error: errorText(error) });
    }
  }

  /**
   * Takes a slot for the disruptive activations. Returns the reason to hold their rules when no slot is
   * free (or none can be proven free); null when they may go ahead.
   */
  async admit(activations: readonly Activation[]): Promise<string | null> {
    if (activations.length === 0 || !this.semaphore) return null;
    const rules = activations.flatMap((activation) => activation.rules);
    try {
      if (await this.semaphore.tryAcquire()) {
        this.logger.info('restart slot acquired', { slot: this.semaphore.slot, rules });
        return null;
      }
      return WAITING_FOR_SLOT;
    } catch (error) {
      this.logger.warn('restart slot unknown, disruptive changes wait', { rules, error: errorText(error) });
      return SLOT_UNKNOWN;
    }
  }

  /**
   * No slot was free: ask for one again later, without holding up drift correction meanwhile. Only the
   * slot is polled; `onTaken` runs (a reconcile) once one is taken.
   */
  waitForSlot(onTaken: () => void): void {
    if (this.slotRetry || this.stopped || !this.semaphore) return;
    // Jitter spreads many waiting nodes over the interval instead of a thundering herd.
    const delay = this.slotRetryMs * (0.5 + Math.random());
    this.slotRetry = setTimeout(() => {
      if (this.stopped) return;
      void this.semaphore!.tryAcquire()
        .catch((error: unknown) => {
          this.logger.warn('restart slot retry failed', { error: errorText(error) });
          return false;
        })
        .then((taken) => {
          this.slotRetry = null;
          if (taken) onTaken();
          else this.waitForSlot(onTaken);
        });
    }, delay);
  }

  /** After an activation: release the slot unless the node stayed unhealthy (then keep it, on record). */
  async settle(unhealthy: readonly string[]): Promise<void> {
    // A stuck node gives its slot back only through recheckStuck, once it is healthy again.
    if (!this.semaphore?.slot || this.stuckService) return;
    if (unhealthy.length > 0) {
      this.stuckService = unhealthy[0]!;
      this.logger.error('node unhealthy after rollback: keeping the restart slot so the rollout stops here', {
        slot: this.semaphore.slot,
        services: unhealthy,
      });
      await this.semaphore.markStuck(this.stuckService).catch((error: unknown) => {
        this.logger.warn('cannot record the stuck node on its slot', { error: errorText(error) });
      });
      return;
    }
    await this.release();
  }

  /** A stuck node that became healthy again gives its slot back (checked at each reconcile). */
  async recheckStuck(gate: RestartGate, timeoutMs: number): Promise<void> {
    if (!this.stuckService) return;
    const verdict = await gate(this.stuckService, 0).waitHealthy(timeoutMs);
    if (!verdict.healthy) return;
    this.logger.info('node healthy again, releasing the restart slot', { service: this.stuckService });
    this.stuckService = null;
    await this.release();
  }

  /** Shutdown: a healthy node releases its slot; a stuck one keeps it (on record) for its next agent. */
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
      this.logger.warn('restart slot release failed, it will expire', { slot, error: errorText(error) });
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
