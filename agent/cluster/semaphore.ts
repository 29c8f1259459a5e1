import { ConflictError, type LeaseApi, type LeaseRecord } from './api.js';

/** Names the slot Leases `<prefix>-0 … <prefix>-(slots-1)` in the agent's namespace. */
export const RESTART_SLOT_PREFIX = 'kube-harden-restart';

export interface SemaphoreOptions {
  readonly namespace: string;
  /** This agent's identity in `holderIdentity`: its node name. */
  readonly holder: string;
  /** `restarts.maxConcurrent`: how many nodes may be disrupted at once. */
  readonly slots: () => number;
  readonly leaseDurationSeconds: () => number;
  readonly now: () => number;
  /** Lease names are `<prefix>-<index>` (default the restart slots; the leader uses its own). */
  readonly prefix?: string;
  /** A renewal failed (the API was unreachable or refused); the slot is kept until it expires. */
  readonly onRenewError?: (error: unknown) => void;
  /** A renewal found the slot taken by another holder: this agent no longer holds it. */
  readonly onLost?: (slot: string) => void;
}

/** On a slot Lease: the service of a node that stayed unhealthy after a rollback (kept across agent restarts). */
export const STUCK_ANNOTATION = 'kube-harden.io/stuck-service';

/** What a slot looked like the last time this agent read it, and when (on this agent's clock). */
interface Sighting {
  readonly resourceVersion: string | null;
  readonly holder: string | null;
  readonly seenAtMs: number;
}

/**
 * Is a slot free for `holder`? Free when nobody holds it, when `holder` already does, or when its holder
 * has not renewed it for a whole lease duration. "Not renewed" is judged the way client-go's leader
 * election judges it: the Lease's resourceVersion has not changed for `leaseDurationSeconds` on this
 * agent's own clock since it first saw that version, so clock skew between nodes cannot free a slot
 * early. Pure.
 */
export function slotFree(lease: LeaseRecord, holder: string, sighting: Sighting | undefined, nowMs: number): boolean {
  if (!lease.holderIdentity || lease.holderIdentity === holder) return true;
  if (!sighting || sighting.resourceVersion !== lease.resourceVersion) return false;
  const durationMs = (lease.leaseDurationSeconds ?? 0) * 1000;
  return nowMs - sighting.seenAtMs >= durationMs;
}

/**
 * A counting semaphore made of coordination.k8s.io/v1 Leases: `slots` Leases, each held by at most one
 * node. Taking a slot is an optimistic-concurrency write (create, or replace at the resourceVersion just
 * read), so two agents can never both win the same slot. The holder renews its slot every third of the
 * lease duration; a holder that dies stops renewing, and its slot frees one lease duration later.
 */
export class LeaseSemaphore {
  private held: LeaseRecord | null = null;
  private readonly sightings = new Map<string, Sighting>();
  private renewTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly api: LeaseApi,
    private readonly options: SemaphoreOptions,
  ) {}

  /** The slot Lease this agent holds, or null. */
  get slot(): string | null {
    return this.held?.name ?? null;
  }

  /**
   * Takes a free slot if there is one, without waiting. True when this agent holds a slot afterwards.
   * Conflicts (another agent won the race) are not errors: the slot is simply not free.
   */
  async tryAcquire(): Promise<boolean> {
    if (this.held) return true;
    const { namespace, holder } = this.options;
    for (let index = 0; index < this.options.slots(); index++) {
      const name = `${this.options.prefix ?? RESTART_SLOT_PREFIX}-${index}`;
      const now = this.options.now();
      const current = await this.api.get(namespace, name);
      const wanted = this.record(name, current?.resourceVersion ?? null, now);
      try {
        if (!current) {
          this.take(await this.api.create(wanted));
          return true;
        }
        this.see(current, now);
        if (!slotFree(current, holder, this.sightings.get(name), now)) continue;
        this.take(await this.api.replace({ ...wanted, acquireTimeMs: current.holderIdentity === holder ? (current.acquireTimeMs ?? now) : now }));
        return true;
      } catch (error) {
        if (error instanceof ConflictError) continue;
        throw error;
      }
    }
    return false;
  }

  /** Renews the held slot now (also done on a timer). False when the slot was lost. */
  async renew(): Promise<boolean> {
    if (!this.held) return false;
    try {
      this.held = await this.api.replace({
        ...this.held,
        renewTimeMs: this.options.now(),
        leaseDurationSeconds: this.options.leaseDurationSeconds(),
      });
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // Someone wrote the slot since: still ours only if the holder is still this agent.
      const current = await this.api.get(this.held.namespace, this.held.name);
      if (current?.holderIdentity === this.options.holder) {
        this.held = current;
        return this.renew();
      }
      const slot = this.held.name;
      this.drop();
      this.options.onLost?.(slot);
      return false;
    }
  }

  /** Frees the held slot (holder cleared, the Lease kept for the next taker). */
  async release(): Promise<void> {
    if (!this.held) return;
    const held = this.held;
    this.drop();
    try {
      await this.api.replace({ ...held, holderIdentity: null, acquireTimeMs: null, renewTimeMs: this.options.now(), annotations: {} });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const current = await this.api.get(held.namespace, held.name);
      if (current?.holderIdentity === this.options.holder)
        await this.api.replace({ ...current, holderIdentity: null, acquireTimeMs: null, renewTimeMs: this.options.now(), annotations: {} });
    }
  }

  /**
   * At start: takes back a slot an earlier incarnation of this agent still holds (it was disrupting, or
   * stuck after a rollback, when its pod restarted). Returns the stuck service recorded on it, '' when
   * it holds one without a record, null when it holds none.
   */
  async adopt(): Promise<string | null> {
    if (this.held) return this.held.annotations?.[STUCK_ANNOTATION] ?? '';
    for (let index = 0; index < this.options.slots(); index++) {
      const current = await this.api.get(this.options.namespace, `${this.options.prefix ?? RESTART_SLOT_PREFIX}-${index}`);
      if (current?.holderIdentity !== this.options.holder) continue;
      this.take(current);
      await this.renew();
      return current.annotations?.[STUCK_ANNOTATION] ?? '';
    }
    return null;
  }

  /** Records on the held slot that this node is stuck (service) or no longer (null). */
  async markStuck(service: string | null): Promise<void> {
    if (!this.held) return;
    const { [STUCK_ANNOTATION]: _previous, ...others } = this.held.annotations ?? {};
    void _previous;
    this.held = await this.api.replace({ ...this.held, annotations: service === null ? others : { ...others, [STUCK_ANNOTATION]: service } });
  }

  /** Stops renewing without releasing (process exit while a disruption may still be in progress). */
  abandon(): void {
    this.drop();
  }

  private record(name: string, resourceVersion: string | null, now: number): LeaseRecord {
    return {
      name,
      namespace: this.options.namespace,
      resourceVersion,
      holderIdentity: this.options.holder,
      leaseDurationSeconds: this.options.leaseDurationSeconds(),
      acquireTimeMs: now,
      renewTimeMs: now,
      labels: { 'app.kubernetes.io/managed-by': 'kube-harden', 'kube-harden.io/purpose': this.options.prefix ?? RESTART_SLOT_PREFIX },
    };
  }

  private see(lease: LeaseRecord, now: number): void {
    const previous = this.sightings.get(lease.name);
    if (previous && previous.resourceVersion === lease.resourceVersion) return;
    this.sightings.set(lease.name, { resourceVersion: lease.resourceVersion, holder: lease.holderIdentity, seenAtMs: now });
  }

  private take(lease: LeaseRecord): void {
    this.held = lease;
    const every = Math.max(100, (this.options.leaseDurationSeconds() * 1000) / 3);
    this.renewTimer = setInterval(() => {
      this.renew().catch((error: unknown) => {
        // Retried on the next tick; the slot expires only after a whole lease duration without one.
        this.options.onRenewError?.(error);
      });
    }, every);
    this.renewTimer.unref();
  }

  private drop(): void {
    if (this.renewTimer) clearInterval(this.renewTimer);
    this.renewTimer = null;
    this.held = null;
  }
}
