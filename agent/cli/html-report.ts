import type { FindingStatus } from '../core/finding.js';
import type { PlannedChange } from '../core/plan.js';
import type { KubeletRestartNeed } from '../rules/kubelet/restart-need.js';
import { markup, styleElement, styleHashSource, type SafeHtml } from './html.js';
import { REPORT_CSS } from './html-style.js';
import { describeChange, plural, type AuditReport, type ReportPolicy, type ReportRow, type RuleFix } from './report-model.js';
import { changeDiff } from './render.js';

/** What the page states about itself: when it was made and by which kube-harden. */
export interface ReportProvenance {
  /** ISO 8601, UTC. */
  readonly generatedAt: string;
  readonly toolVersion: string;
}

/**
 * No request may leave the page: nothing but the one inline style (by hash) is allowed, no scripts,
 * images, fonts, frames, forms or base URL.
 */
export const REPORT_CSP = `default-src 'none'; style-src ${styleHashSource(REPORT_CSS)}; base-uri 'none'; form-action 'none'`;

const LABEL: Record<FindingStatus, string> = { fail: 'FAIL', unknown: 'UNKNOWN', pass: 'PASS', skip: 'SKIP' };

function status(value: FindingStatus): SafeHtml {
  return markup`<span class="status ${value}">${LABEL[value]}</span>`;
}

function diffLineKind(line: string): string {
  if (line.startsWith('+++') || line.startsWith('---')) return 'head';
  if (line.startsWith('+')) return 'add';
  if (line.startsWith('-')) return 'del';
  return line.startsWith('@@') ? 'hunk' : 'ctx';
}

/** A unified diff in a <pre>, one span per line (the newline kept inside the <pre>). */
function diffBlock(text: string): SafeHtml {
  const lines = text.replace(/\n$/, '').split('\n');
  return markup`<pre class="diff">${lines.map((line) => markup`<span class="${diffLineKind(line)}">${line}</span>${'\n'}`)}</pre>`;
}

/**
 * What apply would do for one rule. A change shared by several rules (one manifest edit) shows its
 * diff open at the first of them and folded at the others (`shown` remembers which were shown).
 */
function fixBlock(id: string, fix: RuleFix | undefined, shown: Set<PlannedChange>): SafeHtml {
  if (!fix || (fix.changes.length === 0 && fix.heldBack === null))
    return markup`<p class="fix none">Nothing to change for this rule alone: another rule's change covers it.</p>`;
  const held = fix.heldBack !== null ? markup`<p class="fix held"><strong>Held back:</strong> ${fix.heldBack}</p>` : null;
  const changes = fix.changes.map((change) => {
    const others = change.rules.filter((rule) => rule !== id);
    const shared = others.length > 0 ? markup` <span class="note">(one change, also for ${others.join(', ')})</span>` : null;
    // Modes, owners and live values say it all in one line; file contents get their diff.
    const hasDiff = change.action === 'write' || change.action === 'remove' || change.action === 'install';
    const first = !shown.has(change);
    shown.add(change);
    const diff = !hasDiff
      ? null
      : first
        ? diffBlock(changeDiff(change))
        : markup`<details class="diff"><summary>the same diff as above</summary>${diffBlock(changeDiff(change))}</details>`;
    return markup`<li><p>${describeChange(change)}${shared}</p>${diff}</li>`;
  });
  const restarts = fix.restarts.map(
    (activation) => markup`<li><p>then ${activation.kind} <code>${activation.service}</code>: ${activation.reason}</p></li>`,
  );
  const list =
    changes.length + restarts.length > 0
      ? markup`<p class="fix">What <code>kube-harden apply</code> would do:</p><ol class="changes">${changes}${restarts}</ol>`
      : null;
  return markup`${held}${list}`;
}

function field(name: string, value: string | SafeHtml | null): SafeHtml | null {
  return value === null || value === '' ? null : markup`<tr><th scope="row">${name}</th><td>${value}</td></tr>\n`;
}

function code(text: string | null): SafeHtml | null {
  return text === null ? null : markup`<code>${text}</code>`;
}

function problem(row: ReportRow, report: AuditReport, shown: Set<PlannedChange>): SafeHtml {
  const { finding } = row;
  const fix = finding.status === 'fail' ? markup`<h4>Fix</h4>\n${fixBlock(finding.id, report.fixes.get(finding.id), shown)}` : null;
  const fields = [
    field('Expected', finding.expected),
    field('Actual', finding.actual),
    field('Source', code(finding.source)),
    field('CIS', finding.cis.length > 0 ? finding.cis.join(', ') : 'none (a kube-harden rule)'),
    field('Component', row.component),
    field(finding.status === 'unknown' ? 'Why unknown' : 'Detail', finding.message),
  ];
  return markup`<article class="rule ${finding.status}" id="rule-${finding.id}">
<h3>${status(finding.status)} <code>${finding.id}</code></h3>
<p class="title">${finding.title}</p>
<table class="fields">
${fields}</table>
${fix}
</article>
`;
}

function rulesTable(rows: readonly ReportRow[], notApplicable: boolean): SafeHtml {
  const head = notApplicable
    ? markup`<th class="status">Status</th><th class="rule">Rule</th><th class="cis">CIS</th><th>Why not applicable</th>`
    : markup`<th class="status">Status</th><th class="rule">Rule</th><th class="cis">CIS</th><th>Actual</th><th>Expected</th><th>Source</th>`;
  const body = rows.map(({ finding }) => {
    const rule = markup`<td><code>${finding.id}</code><br><span class="note">${finding.title}</span></td>`;
    const cis = markup`<td>${finding.cis.join(', ') || '-'}</td>`;
    return notApplicable
      ? markup`<tr><td>${status(finding.status)}</td>${rule}${cis}<td>${finding.message}</td></tr>\n`
      : markup`<tr><td>${status(finding.status)}</td>${rule}${cis}<td>${finding.actual}</td><td>${finding.expected}</td><td>${code(finding.source) ?? '-'}</td></tr>\n`;
  });
  return markup`<table class="rules"><thead><tr>${head}</tr></thead><tbody>\n${body}</tbody></table>`;
}

/** One line per failure, linking to its details: the page at a glance. */
function failureIndex(failing: readonly ReportRow[], report: AuditReport): SafeHtml {
  const rows = failing.map(({ finding }) => {
    const fix = report.fixes.get(finding.id);
    const action = fix?.heldBack != null ? 'held back' : fix && fix.changes.length > 0 ? 'apply fixes it' : '-';
    return markup`<tr><td><a href="#rule-${finding.id}"><code>${finding.id}</code></a></td><td>${finding.title}</td><td>${action}</td></tr>\n`;
  });
  return markup`<table class="rules index"><thead><tr><th class="rule">Rule</th><th>What it checks</th><th class="fix">Fix</th></tr></thead><tbody>\n${rows}</tbody></table>`;
}

function nodeFacts(report: AuditReport): SafeHtml {
  const { node } = report;
  const from = (source: string | null) => (source ? markup` <span class="note">(from ${source})</span>` : null);
  const profiles = node.lsm.apparmorProfiles !== null ? ` (${node.lsm.apparmorProfiles} profiles)` : '';
  return markup`<table class="fields facts">
${field('Node', node.name)}${field('Distribution', node.distribution)}${field('Roles', node.roles.join(', '))}${field('Kubelet', markup`${node.kubeletVersion}${from(node.kubeletVersionSource)}`)}${field('Node IP', markup`${node.nodeIp ?? 'unknown'}${from(node.nodeIpSource)}`)}${field('Kernel', node.kernel)}${field('Security module', `AppArmor ${node.lsm.apparmor}${profiles}, SELinux ${node.lsm.selinux}`)}</table>`;
}

function policyBlock(policy: ReportPolicy): SafeHtml {
  const source = policy.file === null ? 'the built-in policy (every rule enabled with its default value)' : code(policy.file);
  const fileDigest = policy.file === null ? null : code(policy.fileSha256 ?? 'unavailable: the file could not be read again');
  const rules = policy.rules.map(
    (rule) => markup`<tr><td><code>${rule.id}</code></td><td>${rule.enabled ? 'yes' : 'no'}</td><td>${code(rule.value) ?? '-'}</td></tr>\n`,
  );
  return markup`<details id="policy"><summary>Policy: ${policy.file ?? 'built-in'}, mode ${policy.mode}, sha256 ${policy.sha256.slice(0, 16)}…</summary>
<table class="fields">
${field('Source', source)}${field('Mode', policy.mode)}${field('sha256 (effective policy)', code(policy.sha256))}${field('sha256 (file bytes)', fileDigest)}</table>
<table class="rules"><thead><tr><th class="rule">Rule</th><th class="cis">Enabled</th><th>Value</th></tr></thead><tbody>
${rules}</tbody></table>
</details>`;
}

/**
 * The audit as one self-contained HTML page (audit evidence): node facts, counts, every failure with
 * its fix (the plan's diff, or why apply holds back), unknowns, passing and not-applicable rules
 * folded, the policy with its digest, when and by what it was made. No script, no external asset; a
 * CSP meta tag forbids any request. Every value is escaped. Pure.
 */
export function renderAuditHtml(
  report: AuditReport,
  policy: ReportPolicy,
  provenance: ReportProvenance,
  restartPending: KubeletRestartNeed | null = null,
): string {
  const rows = report.sections.flatMap((section) => section.rows);
  const unknown = rows.filter((row) => row.finding.status === 'unknown');
  const passing = rows.filter((row) => row.finding.status === 'pass');
  const skipped = rows.filter((row) => row.finding.status === 'skip');
  const { summary, failing } = report;
  // Settings on disk that the running kubelet has not loaded are not in force: not compliant yet.
  const verdict = summary.fail + summary.unknown > 0 || restartPending ? 'not compliant' : 'compliant';
  const shown = new Set<PlannedChange>();
  const judgedAgainst = policy.file === null ? 'the built-in policy' : markup`the policy ${code(policy.file)}`;
  const failures = failing.length === 0 ? markup`<p>No rule fails.</p>` : failing.map((row) => problem(row, report, shown));
  const unknowns =
    unknown.length === 0
      ? null
      : markup`<section id="unknown">
<h2>Not judged: unknown (${unknown.length})</h2>
<p>The input could not be read or judged; an unknown is never counted as a pass.</p>
${unknown.map((row) => problem(row, report, shown))}</section>`;
  const page = markup`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="kube-harden ${provenance.toolVersion}">
<title>kube-harden audit: ${report.node.name}</title>
${styleElement(REPORT_CSS)}
</head>
<body>
<header>
<h1>kube-harden audit of node <code>${report.node.name}</code></h1>
<p class="provenance">Generated <time datetime="${provenance.generatedAt}">${provenance.generatedAt}</time> by kube-harden ${provenance.toolVersion}, judged against ${judgedAgainst} (mode ${policy.mode}, sha256 <code class="hash">${policy.sha256}</code>).</p>
</header>
<main>
<section id="summary">
<h2>Summary: ${verdict}</h2>
<p class="counts"><span class="count fail">${summary.fail} fail</span> <span class="count unknown">${summary.unknown} unknown</span> <span class="count pass">${summary.pass} pass</span> <span class="count skip">${summary.skip} not applicable</span></p>
${nodeFacts(report)}
${restartPending ? markup`<p class="fix held" id="restart-pending">Restart pending: ${restartPending.service}: ${restartPending.reason}. The settings judged below are on disk, not running: restart ${restartPending.service} (<code>kube-harden apply</code> does it behind the health gate).</p>` : null}
</section>
<section id="failures">
<h2>Failures (${failing.length})</h2>
${policy.mode === 'audit' && failing.length > 0 ? markup`<p class="fix held">The policy mode is audit: <code>kube-harden apply</code> refuses to change anything. The fixes below show what it would do under mode enforce.</p>` : null}
${failing.length > 0 ? failureIndex(failing, report) : null}
${failures}</section>
${unknowns}
<section id="folded">
<h2>Other rules and the policy</h2>
<details id="passing"><summary>Passing rules (${passing.length})</summary>${rulesTable(passing, false)}</details>
<details id="not-applicable"><summary>Not applicable to this node (${plural(skipped.length, 'rule')})</summary>${rulesTable(skipped, true)}</details>
${policyBlock(policy)}
</section>
</main>
<footer><p>kube-harden ${provenance.toolVersion}: ${plural(rows.length, 'rule')} judged on ${report.node.name} at ${provenance.generatedAt}. A fix shows what <code>kube-harden apply</code> would write; <code>kube-harden plan</code> prints the same diffs.</p></footer>
</body>
</html>
`;
  return page.text;
}
