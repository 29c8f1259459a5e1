import { shortDigest } from '../core/digest.js';
import { changeSignature, matchRolledBack, type RolledBackChange } from '../core/change-signature.js';
import type { Plan, PlannedChange } from '../core/plan.js';
import { STATE_DIR } from '../host/backups.js';
import type { HostFs } from '../host/host-fs.js';

/** On the host, so a restarted agent pod does not retry a change that already failed on this node. */
export const ROLLED_BACK_FILE = `${STATE_DIR}/rolled-back.json`;

interface Stored {
  readonly version: 1;
  /** Hash of the policy the entries were made under: a new policy forgets them. */
  readonly policy: string;
  readonly entries: readonly RolledBackChange[];
}

export function policyHash(policyText: string): string {
  return shortDigest(policyText);
}

/**
 * Changes the health gate rolled back, held until the policy or the file changes (DESIGN §7 "stop
 * retrying that change"). Kept in a small JSON file in the agent's host state directory.
 */
export class RolledBackChanges {
  private entries: RolledBackChange[] = [];
  private policy = '';

  constructor(private readonly fs: HostFs) {}

  get size(): number {
    return this.entries.length;
  }

  /** Loads what an earlier agent process remembered; a different policy (or an unreadable file) starts empty. */
  async load(policy: string): Promise<void> {
    this.policy = policy;
    const state = await this.fs.readFile(ROLLED_BACK_FILE);
    if (state.kind !== 'file') return;
    try {
      const stored = JSON.parse(state.content) as Stored;
      if (stored.version === 1 && stored.policy === policy && Array.isArray(stored.entries)) this.entries = [...stored.entries];
    } catch {
      // A damaged file only means the agent may try a change once more; it is rewritten below.
    }
  }

  /** A new policy: every held change is tried again. */
  async policyChanged(policy: string): Promise<void> {
    if (policy === this.policy) return;
    this.policy = policy;
    if (this.entries.length === 0) return;
    this.entries = [];
    await this.save();
  }

  /** Remembers the changes one failed restart rolled back, as one group. */
  async remember(changes: readonly PlannedChange[], reason: string, atMs: number): Promise<void> {
    const group = `${atMs}-${this.entries.length}`;
    for (const change of changes) {
      const signature = changeSignature(change);
      this.entries = this.entries.filter((entry) => entry.signature !== signature);
      this.entries.push({ signature, rules: change.rules, reason, atMs, group });
    }
    await this.save();
  }

  /**
   * The rules to hold, judged against the plan made without holds (built only when something is
   * remembered); forgets entries that plan no longer produces.
   */
  async holdFor(unheldPlan: () => Plan): Promise<Map<string, string>> {
    if (this.entries.length === 0) return new Map();
    const { held, stale } = matchRolledBack(unheldPlan(), this.entries);
    if (stale.length > 0) {
      this.entries = this.entries.filter((entry) => !stale.includes(entry));
      await this.save();
    }
    return held;
  }

  private async save(): Promise<void> {
    await this.fs.ensureDir(STATE_DIR, 0o700);
    const stored: Stored = { version: 1, policy: this.policy, entries: this.entries };
    await this.fs.writeAtomic(ROLLED_BACK_FILE, `${JSON.stringify(stored, null, 2)}\n`, 0o600);
  }
}
