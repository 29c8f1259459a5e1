import type { FindingStatus } from '../core/finding.js';
import { describeChange, isProblem, plural, skipReasons, type AuditReport, type ReportPolicy, type ReportRow } from './report-model.js';
import { GAP, hanging, tableRow, wrap, type Column } from './text-layout.js';

/** How the terminal audit is laid out; the command decides these from the terminal and the flags. */
export interface TableOptions {
  /** Columns of the terminal (80 when not a terminal). */
  readonly width: number;
  /** ANSI colour: only on a terminal and without NO_COLOR. */
  readonly color: boolean;
  /** Every rule as a row, the ones that do not apply to this node included (--all). */
  readonly all: boolean;
  /** Only fail and unknown rows (--only failing). */
  readonly onlyFailing: boolean;
  readonly policy: Pick<ReportPolicy, 'file' | 'mode'> & {
    /** The node-pool overrides of the policy that matched this node, in order. */
    readonly overrides?: readonly string[];
  };
}

/** The narrowest layout the table still makes sense in; narrower terminals wrap at this width. */
const MIN_WIDTH = 60;
const STATUS_WIDTH = 'UNKNOWN'.length;
const INDENT = ' '.repeat(STATUS_WIDTH + GAP);

type Paint = (text: string) => string;
type Painter = (code: string) => Paint;

function painter(color: boolean): Painter {
  return (code) => (color ? (text) => `\u001b[${code}m${text}\u001b[0m` : (text) => text);
}

function statusPaint(paint: Painter): Record<FindingStatus, Paint> {
  return { fail: paint('1;31'), unknown: paint('1;33'), pass: paint('32'), skip: paint('2') };
}

function counts(summary: AuditReport['summary']): string {
  return `${summary.fail} fail, ${summary.unknown} unknown, ${summary.pass} pass, ${summary.skip} skip`;
}

/** The opening lines: the node, the policy and the counts. */
function header(report: AuditReport, options: TableOptions, width: number): string[] {
  const { node } = report;
  const role = node.roles.includes('control-plane') ? 'control plane' : 'worker';
  const lsm =
    node.lsm.apparmor === 'enabled'
      ? 'AppArmor enabled'
      : node.lsm.selinux === 'enforcing' || node.lsm.selinux === 'permissive'
        ? `SELinux ${node.lsm.selinux}`
        : `AppArmor ${node.lsm.apparmor}, SELinux ${node.lsm.selinux}`;
  const policy = options.policy.file ?? 'built-in';
  const skipped = report.summary.skip > 0 ? ' (skip: not applicable here)' : '';
  return [
    ...wrap(
      `Node ${node.name}: ${node.distribution} ${node.distributionRole ?? role}, kubelet ${node.kubeletVersion}, node IP ${node.nodeIp ?? 'unknown'}`,
      width,
    ),
    ...(node.configurationOwner ? wrap(node.configurationOwner, width) : []),
    ...wrap(`Kernel ${node.kernel}, ${lsm}; policy ${policy} (mode ${options.policy.mode})`, width),
    ...(options.policy.overrides?.length
      ? wrap(`Overrides applied: ${options.policy.overrides.join(', ')} (mode ${options.policy.mode})`, width)
      : []),
    ...wrap(`Result: ${counts(report.summary)}${skipped}`, width),
  ];
}

/** Column widths and which rows fit them; rows that do not are stacked (values below the rule). */
interface Layout {
  readonly columns: readonly Column[];
  readonly inline: ReadonlySet<ReportRow>;
}

function value(text: string): string {
  return text === '' ? '-' : text;
}

/**
 * Column widths from the rows shown and the terminal width: the rule id gets up to half, the two
 * values share the rest. A row whose id or values do not fit on one line is stacked (the values below
 * the rule at full width), so one long list does not make every column narrow and every row tall.
 */
function layout(rows: readonly ReportRow[], width: number): Layout {
  const available = width - STATUS_WIDTH - 3 * GAP;
  const rule = Math.min(Math.max('RULE'.length, ...rows.map((row) => row.finding.id.length)), Math.floor(available / 2));
  const rest = available - rule;
  const sizes = rows
    .filter((row) => row.finding.id.length <= rule)
    .map((row) => ({ row, actual: value(row.finding.actual).length, expected: value(row.finding.expected).length }));
  // The split of the values' space that keeps the most rows on one line (the first such split wins).
  let best: typeof sizes = [];
  for (let actual = 'ACTUAL'.length; actual <= rest - 'EXPECTED'.length; actual += 1) {
    const fitting = sizes.filter((size) => size.actual <= actual && size.expected <= rest - actual);
    if (fitting.length > best.length) best = fitting;
  }
  // Sized for the rows that stay inline: the columns are as wide as their content, no wider.
  const actual = Math.max('ACTUAL'.length, ...best.map((size) => size.actual));
  const expected = Math.max('EXPECTED'.length, ...best.map((size) => size.expected));
  return {
    columns: [{ width: STATUS_WIDTH }, { width: rule }, { width: actual }, { width: expected }],
    inline: new Set(best.map((size) => size.row)),
  };
}

/**
 * A rule's message for the table: nothing when it only repeats the source ("set in <source>"), and a
 * long actual value it repeats word for word (the list of loose files) is referred to, not printed twice.
 */
function detailMessage(row: ReportRow): string {
  const { message, source, actual } = row.finding;
  if (source && message === `set in ${source}`) return '';
  return actual.length > 40 && message.includes(actual) ? message.replace(actual, '(see actual)') : message;
}

function ruleLines(row: ReportRow, table: Layout, paint: Record<FindingStatus, Paint>, width: number): string[] {
  const { finding } = row;
  const statusColumn = { ...table.columns[0]!, style: paint[finding.status] };
  const lines: string[] = [];
  if (table.inline.has(row))
    lines.push(
      ...tableRow(
        [finding.status.toUpperCase(), finding.id, value(finding.actual), value(finding.expected)],
        [statusColumn, ...table.columns.slice(1)],
      ),
    );
  else {
    lines.push(...tableRow([finding.status.toUpperCase(), finding.id], [statusColumn, { width: width - STATUS_WIDTH - GAP }]));
    lines.push(...hanging(`${INDENT}actual:   `, value(finding.actual), width), ...hanging(`${INDENT}expected: `, value(finding.expected), width));
  }
  if (finding.status === 'pass') return lines;
  if (finding.source) lines.push(...hanging(`${INDENT}source:   `, finding.source, width));
  const message = detailMessage(row);
  if (message) lines.push(...hanging(INDENT, message, width));
  return lines;
}

/** What apply does for a failing rule, as lines (the same for rules that share one fix). */
function fixLines(report: AuditReport, row: ReportRow): string[] {
  const fix = report.fixes.get(row.finding.id);
  if (!fix || (fix.changes.length === 0 && fix.heldBack === null)) return ["nothing to change for this rule alone (another rule's change covers it)"];
  return [
    ...(fix.heldBack !== null ? [`held back: ${fix.heldBack}`] : []),
    ...fix.changes.map(describeChange),
    ...fix.restarts.map((activation) => `then ${activation.kind} ${activation.service}`),
  ];
}

/** The remediations of the failing rules, kube-bench style; rules with the same fix share one entry. */
function remediations(report: AuditReport, options: TableOptions, paint: Painter, width: number): string[] {
  if (report.failing.length === 0) return [];
  const groups = new Map<string, { rows: ReportRow[]; fix: string[] }>();
  for (const row of report.failing) {
    const fix = fixLines(report, row);
    const key = fix.join('\n');
    groups.set(key, { rows: [...(groups.get(key)?.rows ?? []), row], fix });
  }
  const fail = statusPaint(paint).fail;
  const lines = ['', ...wrap('== Remediations (what "kube-harden apply" would do; diffs: kube-harden plan)', width).map(paint('1'))];
  if (options.policy.mode === 'audit')
    lines.push(...wrap('The policy mode is audit: apply refuses to change anything; under mode enforce it would:', width));
  for (const group of groups.values()) {
    for (const row of group.rows) lines.push(`${fail('FAIL'.padEnd(STATUS_WIDTH))}${' '.repeat(GAP)}${row.finding.id}`);
    for (const line of group.fix) lines.push(...hanging(INDENT, line, width));
  }
  return lines;
}

/** One line per section for the rules that do not apply to this node, with the reasons. */
function notApplicable(collapsed: readonly { title: string; rows: readonly ReportRow[] }[], paint: Painter, width: number): string[] {
  if (collapsed.length === 0) return [];
  const lines = ['', ...wrap('== Not applicable to this node (--all lists each rule)', width).map(paint('1'))];
  const nameWidth = Math.max(...collapsed.map((entry) => entry.title.length)) + GAP;
  for (const entry of collapsed)
    lines.push(
      ...hanging(entry.title.padEnd(nameWidth), `${plural(entry.rows.length, 'rule')}: ${skipReasons(entry.rows).join('; ')}`, width).map(paint('2')),
    );
  return lines;
}

/**
 * The terminal audit: summary first, then one section per part of the node (the most problems
 * first; fail and unknown rows first), rules that do not apply collapsed to one line per section
 * unless `all`, then the remediations of the failing rules and the counts again. Pure.
 */
export function renderAuditTable(report: AuditReport, options: TableOptions): string {
  const width = Math.max(MIN_WIDTH, options.width);
  const paint = painter(options.color);
  const status = statusPaint(paint);
  const shown = (row: ReportRow) => (options.onlyFailing ? isProblem(row.finding.status) : options.all || row.finding.status !== 'skip');
  const table = layout(
    report.sections.flatMap((section) => section.rows.filter(shown)),
    width,
  );

  const lines = header(report, options, width);
  const collapsed: { title: string; rows: ReportRow[] }[] = [];
  let any = false;
  for (const section of report.sections) {
    const rows = section.rows.filter(shown);
    const skipped = section.rows.filter((row) => row.finding.status === 'skip' && !shown(row));
    if (skipped.length > 0 && !options.onlyFailing) collapsed.push({ title: section.title, rows: skipped });
    if (rows.length === 0) continue;
    any = true;
    const tally = (['fail', 'unknown', 'pass', 'skip'] as const)
      .filter((key) => section.summary[key] > 0)
      .map((key) => `${section.summary[key]} ${key}`)
      .join(', ');
    lines.push(
      '',
      ...wrap(`== ${section.title}: ${tally}`, width).map(paint('1')),
      paint('2')(tableRow(['STATUS', 'RULE', 'ACTUAL', 'EXPECTED'], table.columns)[0]!),
    );
    for (const row of rows) lines.push(...ruleLines(row, table, status, width));
  }
  if (options.onlyFailing && !any) lines.push('', 'No rule fails and none is unknown.');
  lines.push(...notApplicable(collapsed, paint, width));
  lines.push(...remediations(report, options, paint, width));
  lines.push('', ...wrap(`Result: ${counts(report.summary)}`, width).map(paint('1')));
  return `${lines.join('\n')}\n`;
}
