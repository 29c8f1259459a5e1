import type { Finding } from '../../core/finding.js';

/** How a benchmark check is covered here: a rule judges it, a person must, or no rule does yet. */
export type CisCoverage = { readonly rule: string } | { readonly manual: string } | { readonly notBuilt: true; readonly reason: string };

/** One check of a CIS benchmark, as the benchmark numbers and titles it. */
export type CisCheck = {
  readonly id: string;
  readonly title: string;
  /** The benchmark's own assessment status ("Automated" or "Manual"). */
  readonly assessment: 'automated' | 'manual';
} & CisCoverage;

/** A benchmark version as data, like kube-bench's cfg/cis-1.x: every check of sections 1-4. */
export interface CisBenchmark {
  /** e.g. cis-1.12 (the name `audit --benchmark` takes). */
  readonly name: string;
  readonly title: string;
  readonly checks: readonly CisCheck[];
}

/** Checks no rule judges (manual or not built yet): the audit reports each as `skip`, never drops it. */
export function uncoveredChecks(benchmark: CisBenchmark): readonly Exclude<CisCheck, { rule: string }>[] {
  return benchmark.checks.filter((check): check is Exclude<CisCheck, { rule: string }> => !('rule' in check));
}

/** The `skip` finding of a check no rule judges: its CIS id, what a person must check, or why it is not built. */
export function uncoveredFinding(benchmark: CisBenchmark, check: Exclude<CisCheck, { rule: string }>): Finding {
  const manual = 'manual' in check;
  return {
    id: `${benchmark.name}.${check.id}`,
    title: check.title,
    status: 'skip',
    expected: manual ? check.manual : check.title,
    actual: '-',
    source: null,
    cis: [check.id],
    remediable: false,
    message: manual ? `manual check (CIS ${check.id}): ${check.manual}` : `not built yet (CIS ${check.id}): ${check.reason}`,
  };
}

/** How the catalogue names what covers a check (for docs/reference/rules.md). */
export function coverageText(check: CisCheck): string {
  if ('rule' in check) return `\`${check.rule}\``;
  if ('manual' in check) return `manual: ${check.manual}`;
  return `not built yet: ${check.reason}`;
}
