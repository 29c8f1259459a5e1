/**
 * Tells a person's occasional edit (corrected at once, always) from a sustained fight with another
 * writer (a CNI install container, a config manager) that reverts the agent again and again. Only the
 * fight makes the agent back off, exponentially, for that file. Pure: time comes in as an argument.
 */
export interface FlapGuardOptions {
  /** Corrections of one file within `windowMs` beyond which it is a fight. */
  readonly threshold: number;
  readonly windowMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** A file with no correction for this long starts over at the first backoff level. */
  readonly forgetAfterMs: number;
}

export const DEFAULT_FLAP_GUARD: FlapGuardOptions = {
  threshold: 10,
  windowMs: 60_000,
  initialBackoffMs: 30_000,
  maxBackoffMs: 600_000,
  forgetAfterMs: 3_600_000,
};

interface FileRecord {
  corrections: number[];
  rules: Set<string>;
  level: number;
  heldUntil: number;
  lastCorrection: number;
}

export class FlapGuard {
  private readonly files = new Map<string, FileRecord>();

  constructor(private readonly options: FlapGuardOptions = DEFAULT_FLAP_GUARD) {}

  /**
   * Records a correction of `path` by `rules`. Returns the backoff in ms when this correction starts
   * one (the fight threshold was crossed), else null.
   */
  record(path: string, rules: readonly string[], now: number): number | null {
    const record = this.files.get(path) ?? { corrections: [], rules: new Set<string>(), level: 0, heldUntil: 0, lastCorrection: 0 };
    if (record.lastCorrection && now - record.lastCorrection > this.options.forgetAfterMs) record.level = 0;
    record.lastCorrection = now;
    record.corrections = [...record.corrections.filter((at) => now - at < this.options.windowMs), now];
    rules.forEach((rule) => record.rules.add(rule));
    this.files.set(path, record);
    if (record.corrections.length <= this.options.threshold) return null;
    const backoff = Math.min(this.options.initialBackoffMs * 2 ** record.level, this.options.maxBackoffMs);
    record.level += 1;
    record.heldUntil = now + backoff;
    record.corrections = [];
    return backoff;
  }

  /** Rules held back right now, with the reason (for the plan's `blocked`). */
  heldRules(now: number): Map<string, string> {
    const held = new Map<string, string>();
    for (const [path, record] of this.files)
      if (record.heldUntil > now)
        for (const rule of record.rules)
          held.set(rule, `backing off until ${new Date(record.heldUntil).toISOString()}: another writer keeps reverting ${path}`);
    return held;
  }
}
