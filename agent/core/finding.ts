/** Outcome of one rule on one node. `unknown` means the input could not be read or judged: never a pass. */
export type FindingStatus = 'pass' | 'fail' | 'unknown' | 'skip';

/** What a remediation costs the node, in increasing order. */
export type Disruption = 'none' | 'reload' | 'restart';

const DISRUPTION_ORDER: readonly Disruption[] = ['none', 'reload', 'restart'];

/** The larger of two disruptions (`none < reload < restart`). */
export function maxDisruption(a: Disruption, b: Disruption): Disruption {
  return DISRUPTION_ORDER.indexOf(a) >= DISRUPTION_ORDER.indexOf(b) ? a : b;
}

/** One rule's verdict, as printed by `audit --output json` (DESIGN §3). */
export interface Finding {
  readonly id: string;
  readonly title: string;
  readonly status: FindingStatus;
  /** What the policy wants, in the words an operator would type. */
  readonly expected: string;
  /** What the node has now; `unknown` text when it could not be read. */
  readonly actual: string;
  /** The host path that decides the value (the highest-precedence source), or null. */
  readonly source: string | null;
  readonly cis: readonly string[];
  /** True when the agent can fix this finding on this node. */
  readonly remediable: boolean;
  readonly message: string;
}

/** Counts per status, as in the audit JSON `summary`. */
export type FindingSummary = Record<FindingStatus, number>;

export function summarize(findings: readonly Finding[]): FindingSummary {
  const summary: FindingSummary = { pass: 0, fail: 0, unknown: 0, skip: 0 };
  for (const finding of findings) summary[finding.status] += 1;
  return summary;
}
