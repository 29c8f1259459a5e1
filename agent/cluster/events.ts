import type { EventApi, InvolvedObject } from './api.js';

/** One thing worth telling the operator about, on the Node. */
export interface NodeEvent {
  readonly type: 'Normal' | 'Warning';
  /** CamelCase reason: Remediated, DriftCorrected, RolledBack, ChangeBlocked. */
  readonly reason: string;
  /** Stable text (no timestamps, no counts): equal messages aggregate into one Event. */
  readonly message: string;
}

export interface EventRecorderOptions {
  /** Namespace of Node events (the kubelet uses `default` too: Nodes are cluster-scoped). */
  readonly namespace: string;
  readonly node: { readonly name: string; readonly uid: string | null };
  /** New Event series allowed at once, and one more per `refillMs` (client-go's spam filter idea). */
  readonly burst: number;
  readonly refillMs: number;
  /** Repeats of one series within this window update its count instead of creating Events. */
  readonly aggregateWindowMs: number;
  /** A series' count is patched at most this often; repeats in between are folded into the next patch. */
  readonly patchIntervalMs: number;
  readonly now: () => number;
  readonly onError: (error: unknown) => void;
}

export const DEFAULT_EVENT_LIMITS = { burst: 10, refillMs: 60_000, aggregateWindowMs: 600_000, patchIntervalMs: 30_000 } as const;

interface Series {
  readonly namespace: string;
  readonly name: string;
  readonly firstMs: number;
  lastMs: number;
  count: number;
  sentCount: number;
  lastSentMs: number;
}

/**
 * Records Node Events without storming the API server: equal (reason, message) pairs within the
 * aggregation window become one Event whose `count` rises (patched at most every `patchIntervalMs`),
 * and new series are limited by a token bucket. What the bucket refuses is counted in `dropped`.
 * `record` never throws and never blocks the caller; `flush` sends pending counts (timer and shutdown).
 */
export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private tokens: number;
  private refilledAt: number;
  private queue: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  dropped = 0;

  constructor(
    private readonly api: EventApi,
    private readonly options: EventRecorderOptions,
  ) {
    this.tokens = options.burst;
    this.refilledAt = options.now();
  }

  /**
   * Records an event about the Node, or about `about` (a Pod, a ConfigMap, a Namespace: the Event goes in
   * `about.namespace`). `name` fixes the Event's name for a cluster-wide finding that every agent may
   * see: they all create the same Event, the first wins and the others' creates are conflicts (409,
   * not errors), so N agents make one Event, not N.
   */
  record(event: NodeEvent, about?: InvolvedObject, name?: string): void {
    const now = this.options.now();
    const target: InvolvedObject = about ?? { kind: 'Node', name: this.options.node.name, uid: this.options.node.uid };
    const namespace = target.namespace ?? this.options.namespace;
    const key = `${target.kind}|${namespace}|${target.name}|${event.type}|${event.reason}|${event.message}`;
    const existing = this.series.get(key);
    if (existing && now - existing.firstMs < this.options.aggregateWindowMs) {
      existing.count += 1;
      existing.lastMs = now;
      if (now - existing.lastSentMs >= this.options.patchIntervalMs) this.enqueue(() => this.patch(existing));
      else this.scheduleFlush();
      return;
    }
    if (!this.takeToken(now)) {
      this.dropped += 1;
      return;
    }
    // Named as client-go names them: <object>.<hex nanoseconds>, unique per series.
    const series: Series = {
      namespace,
      name: name ?? `${target.name}.${(BigInt(now) * 1_000_000n).toString(16)}${this.series.size.toString(16)}`,
      firstMs: now,
      lastMs: now,
      count: 1,
      sentCount: 1,
      lastSentMs: now,
    };
    this.series.set(key, series);
    this.prune(now);
    this.enqueue(() =>
      this.api.create({
        name: series.name,
        namespace,
        type: event.type,
        reason: event.reason,
        message: event.message,
        count: 1,
        firstTimestampMs: now,
        lastTimestampMs: now,
        involvedObject: target,
        source: { component: 'kube-harden', host: this.options.node.name },
      }),
    );
  }

  /** Sends every pending count, and waits for what is in flight. */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const series of this.series.values()) if (series.count > series.sentCount) this.enqueue(() => this.patch(series));
    await this.queue;
  }

  private async patch(series: Series): Promise<void> {
    if (series.count === series.sentCount) return;
    const count = series.count;
    await this.api.patchCount(series.namespace, series.name, count, series.lastMs);
    series.sentCount = count;
    series.lastSentMs = this.options.now();
  }

  private scheduleFlush(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.options.patchIntervalMs);
    this.timer.unref();
  }

  /** API calls go one at a time, in order (a patch must follow its create). */
  private enqueue(call: () => Promise<void>): void {
    this.queue = this.queue.then(call).catch((error: unknown) => this.options.onError(error));
  }

  private takeToken(now: number): boolean {
    const refills = Math.floor((now - this.refilledAt) / this.options.refillMs);
    if (refills > 0) {
      this.tokens = Math.min(this.options.burst, this.tokens + refills);
      this.refilledAt += refills * this.options.refillMs;
    }
    if (this.tokens <= 0) return false;
    this.tokens -= 1;
    return true;
  }

  /** Forgets series older than the window whose counts were sent (bounded memory). */
  private prune(now: number): void {
    for (const [key, series] of this.series)
      if (now - series.firstMs >= this.options.aggregateWindowMs && series.count === series.sentCount) this.series.delete(key);
  }
}
