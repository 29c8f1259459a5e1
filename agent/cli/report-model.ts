import { summarize, type Finding, type FindingStatus, type FindingSummary } from '../core/finding.js';
import type { Activation, Plan, PlannedChange } from '../core/plan.js';
import type { EvaluatedRule } from '../core/planner.js';
import type { PolicyMode } from '../core/policy.js';

/**
 * What the human-readable audit reports (terminal table, HTML) are built from: the findings grouped in
 * sections, worst first, each failing rule with what apply would do about it. Pure.
 */

/** The node facts the reports show (the `node` object of the audit JSON). */
export interface ReportNode {
  readonly name: string;
  readonly distribution: string;
  /** server | agent on k3s and RKE2, else null. */
  readonly distributionRole?: string | null;
  /** The one line saying which system owns the node's configuration and what to use instead, else null. */
  readonly configurationOwner?: string | null;
  readonly roles: readonly string[];
  readonly kubeletVersion: string;
  readonly kubeletVersionSource: string | null;
  readonly nodeIp: string | null;
  readonly nodeIpSource: string | null;
  readonly kernel: string;
  readonly lsm: { readonly apparmor: string; readonly apparmorProfiles: number | null; readonly selinux: string };
}

/** The policy a node was judged against, as evidence: where it came from and a digest of its content. */
export interface ReportPolicy {
  /** The policy file given with --policy, or null for the built-in policy. */
  readonly file: string | null;
  readonly mode: PolicyMode;
  /** sha256 of the effective policy (defaults applied, canonical JSON). */
  readonly sha256: string;
  /** sha256 of the policy file's bytes, when a file was given. */
  readonly fileSha256: string | null;
  /** Each rule's setting: enabled and its value (JSON), in catalogue order. */
  readonly rules: readonly { readonly id: string; readonly enabled: boolean; readonly value: string | null }[];
}

/** One rule in a report, with the section it belongs to. */
export interface ReportRow {
  readonly finding: Finding;
  readonly component: string;
}

/** Rules of one part of the node (kubelet, kernel, control plane, ...), problems first. */
export interface ReportSection {
  readonly title: string;
  /** fail, unknown, pass, then skip; catalogue order within a status. */
  readonly rows: readonly ReportRow[];
  readonly summary: FindingSummary;
}

/** What `apply` would do for one failing rule: its planned changes and restarts, or why it holds back. */
export interface RuleFix {
  readonly changes: readonly PlannedChange[];
  readonly restarts: readonly Activation[];
  /** Why apply leaves this rule failing (plan.blocked), or null. */
  readonly heldBack: string | null;
}

export interface AuditReport {
  readonly node: ReportNode;
  readonly summary: FindingSummary;
  readonly sections: readonly ReportSection[];
  /** Fixes of failing rules, by rule id. */
  readonly fixes: ReadonlyMap<string, RuleFix>;
  /** Every failing rule, in section order. */
  readonly failing: readonly ReportRow[];
}

/** Sections of the report: several components belong to one part of the node. */
const SECTION_OF: Readonly<Record<string, string>> = {
  kernel: 'kernel',
  kubelet: 'kubelet',
  files: 'control plane',
  'kube-apiserver': 'control plane',
  'kube-controller-manager': 'control plane',
  'kube-scheduler': 'control plane',
  kubeadm: 'control plane',
  cni: 'pod network (CNI)',
  'kube-proxy': 'kube-proxy',
};

const STATUS_ORDER: readonly FindingStatus[] = ['fail', 'unknown', 'pass', 'skip'];

/** Rows needing attention: failing or not judged. */
export function isProblem(status: FindingStatus): boolean {
  return status === 'fail' || status === 'unknown';
}

function fixFor(id: string, plan: Plan): RuleFix {
  const blocked = plan.blocked.find((entry) => entry.id === id);
  return {
    changes: plan.changes.filter((change) => change.rules.includes(id)),
    restarts: plan.activations.filter((activation) => activation.rules.includes(id)),
    heldBack: blocked ? blocked.reason : null,
  };
}

/** Groups the evaluated rules into sections (those with the most problems first) and attaches fixes. */
export function buildAuditReport(node: ReportNode, evaluated: readonly EvaluatedRule[], plan: Plan): AuditReport {
  const bySection = new Map<string, ReportRow[]>();
  for (const { meta, evaluation } of evaluated) {
    const title = SECTION_OF[meta.component] ?? meta.component;
    bySection.set(title, [...(bySection.get(title) ?? []), { finding: evaluation.finding, component: meta.component }]);
  }
  const sections = [...bySection].map(([title, rows], order) => ({
    title,
    order,
    rows: STATUS_ORDER.flatMap((status) => rows.filter((row) => row.finding.status === status)),
    summary: summarize(rows.map((row) => row.finding)),
  }));
  const problems = (section: { summary: FindingSummary }) => section.summary.fail + section.summary.unknown;
  sections.sort((a, b) => problems(b) - problems(a) || a.order - b.order);
  const ordered = sections.map(({ title, rows, summary }): ReportSection => ({ title, rows, summary }));
  const failing = ordered.flatMap((section) => section.rows.filter((row) => row.finding.status === 'fail'));
  return {
    node,
    summary: summarize(evaluated.map((rule) => rule.evaluation.finding)),
    sections: ordered,
    fixes: new Map(failing.map((row) => [row.finding.id, fixFor(row.finding.id, plan)])),
    failing,
  };
}

/**
 * The distinct reasons rules were skipped, with "no X on this node" merged into one phrase
 * ("no kube-apiserver, kube-controller-manager or kube-scheduler on this node").
 */
export function skipReasons(rows: readonly ReportRow[]): string[] {
  const counts = new Map<string, number>();
  const absent: string[] = [];
  const ABSENT = '\0absent';
  for (const row of rows) {
    const message = row.finding.message || 'not applicable';
    const component = /^no (\S+) on this node$/.exec(message)?.[1];
    if (component && !absent.includes(component)) absent.push(component);
    const key = component ? ABSENT : message;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const joined = absent.length > 1 ? `${absent.slice(0, -1).join(', ')} or ${absent[absent.length - 1]}` : (absent[0] ?? '');
  // The most common reason first (Map keeps first-seen order among equals).
  return [...counts].sort(([, a], [, b]) => b - a).map(([reason]) => (reason === ABSENT ? `no ${joined} on this node` : reason));
}

/** `a`, `a and b` style count phrase: "3 rules", "1 rule". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

function lineCounts(before: string, after: string): { removed: number; added: number } {
  const old = before === '' ? [] : before.split('\n');
  const now = after === '' ? [] : after.split('\n');
  // Multiset difference: good enough for a count next to a path (the diff itself is in `plan`).
  const pool = new Map<string, number>();
  for (const line of old) pool.set(line, (pool.get(line) ?? 0) + 1);
  let added = 0;
  for (const line of now) {
    const left = pool.get(line) ?? 0;
    if (left > 0) pool.set(line, left - 1);
    else added += 1;
  }
  const removed = [...pool.values()].reduce((sum, count) => sum + count, 0);
  return { removed, added };
}

/** One planned change in a few words: "write /etc/default/kubelet (-1 +1 lines)", "chmod ... 0644 -> 0600". */
export function describeChange(change: PlannedChange): string {
  switch (change.action) {
    case 'write': {
      if (change.before === null) return `create ${change.path}`;
      const { removed, added } = lineCounts(change.before, change.after);
      return `edit ${change.path} (-${removed} +${added} lines)`;
    }
    case 'chmod':
      return `chmod ${change.path} ${octal(change.before)} -> ${octal(change.after)}`;
    case 'chown':
      return `chown ${change.path} ${change.before.uid}:${change.before.gid} -> ${change.after.uid}:${change.after.gid}`;
    case 'sysctl':
      return `set ${change.key} live ${change.before} -> ${change.after}`;
    case 'install':
      return `install the shipped ${change.plugin} plugin at ${change.path}`;
    case 'remove':
      return `remove ${change.path} (kept in the backup)`;
  }
}
