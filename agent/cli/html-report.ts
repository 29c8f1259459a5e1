import type { FindingStatus } from '../core/finding.js';
import { html, styleHashSource, type SafeHtml } from './html.js';
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
  return html`<span class="status ${value}">${LABEL[value]}</span>`;
}

function diffBlock(text: string): SafeHtml {
  const lines = text.replace(/\n$/, '').split('\n');
  const kind = (line: string) =>
    line.startsWith('+++') || line.startsWith('---')
      ? 'head'
      : line.startsWith('+')
        ? 'add'
        : line.startsWith('-')
          ? 'del'
          : line.startsWith('@@')
            ? 'hunk'
            : 'ctx';
  return html`<pre class="diff">${lines.map((line) => html`<span class="${kind(line)}">${line}</span> `)}</pre>`;
}

function fixBlock(id: string, fix: RuleFix | undefined): SafeHtml {
  if (!fix || (fix.changes.length === 0 && fix.heldBack === null))
    return html`<p class="fix none">Nothing to change for this rule alone: another rule's change covers it.</p>`;
  const held = fix.heldBack !== null ? html`<p class="fix held"><strong>Held back:</strong> ${fix.heldBack}</p>` : null;
  const changes = fix.changes.map((change) => {
    const others = change.rules.filter((rule) => rule !== id);
    return html`<li>
      <p>${describeChange(change)}${others.length > 0 ? html` <span class="note">(also fixes ${others.join(', ')})</span>` : null}</p>
      ${diffBlock(changeDiff(change))}
    </li>`;
  });
  const restarts = fix.restarts.map(
    (restart) =>
      html`<li>
        <p>then restart <code>${restart.service}</code>: ${restart.reason}</p>
      </li>`,
  );
  const list =
    changes.length + restarts.length > 0
      ? html`<p class="fix">What <code>kube-harden apply</code> would do:</p>
          <ol class="changes">
            ${changes}${restarts}
          </ol>`
      : null;
  return html`${held}${list}`;
}

function field(name: string, value: string | SafeHtml | null): SafeHtml | null {
  return value === null || value === ''
    ? null
    : html`<tr>
        <th scope="row">${name}</th>
        <td>${value}</td>
      </tr>`;
}

function problem(row: ReportRow, report: AuditReport): SafeHtml {
  const { finding } = row;
  const fix =
    finding.status === 'fail'
      ? html`<h4>Fix</h4>
          ${fixBlock(finding.id, report.fixes.get(finding.id))}`
      : null;
  return html`<article class="rule ${finding.status}" id="rule-${finding.id}">
    <h3>${status(finding.status)} <code>${finding.id}</code></h3>
    <p class="title">${finding.title}</p>
    <table class="fields">
      ${field('Expected', finding.expected)} ${field('Actual', finding.actual)}
      ${field('Source', finding.source === null ? null : html`<code>${finding.source}</code>`)}
      ${field('CIS', finding.cis.length > 0 ? finding.cis.join(', ') : 'none (kube-harden rule)')} ${field('Component', row.component)}
      ${field(finding.status === 'unknown' ? 'Why unknown' : 'Detail', finding.message)}
    </table>
    ${fix}
  </article>`;
}

function rowsTable(rows: readonly ReportRow[], reason: boolean): SafeHtml {
  return html`<table class="rules">
    <thead>
      <tr>
        <th>Status</th>
        <th>Rule</th>
        <th>CIS</th>
        <th>${reason ? 'Why not applicable' : 'Actual'}</th>
        ${reason ? null : html`<th>Expected</th>`}
        <th>Source</th>
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        ({ finding }) =>
          html`<tr>
            <td>${status(finding.status)}</td>
            <td><code>${finding.id}</code><br /><span class="note">${finding.title}</span></td>
            <td>${finding.cis.join(', ') || '-'}</td>
            <td>${reason ? finding.message : finding.actual}</td>
            ${reason ? null : html`<td>${finding.expected}</td>`}
            <td>${finding.source === null ? '-' : html`<code>${finding.source}</code>`}</td>
          </tr> `,
      )}
    </tbody>
  </table>`;
}

function nodeFacts(report: AuditReport): SafeHtml {
  const { node } = report;
  const from = (source: string | null) => (source ? html` <span class="note">(from ${source})</span>` : null);
  const lsm = `AppArmor ${node.lsm.apparmor}${node.lsm.apparmorProfiles !== null ? ` (${node.lsm.apparmorProfiles} profiles)` : ''}, SELinux ${node.lsm.selinux}`;
  return html`<table class="fields facts">
    ${field('Node', node.name)} ${field('Distribution', node.distribution)} ${field('Roles', node.roles.join(', '))}
    ${field('Kubelet', html`${node.kubeletVersion}${from(node.kubeletVersionSource)}`)}
    ${field('Node IP', html`${node.nodeIp ?? 'unknown'}${from(node.nodeIpSource)}`)} ${field('Kernel', node.kernel)} ${field('Security module', lsm)}
  </table>`;
}

function policyBlock(policy: ReportPolicy): SafeHtml {
  return html`<details id="policy">
    <summary>Policy: ${policy.file ?? 'built-in'}, mode ${policy.mode}, sha256 ${policy.sha256.slice(0, 16)}…</summary>
    <table class="fields">
      ${field('Source', policy.file === null ? 'the built-in policy (every rule enabled with its default value)' : html`<code>${policy.file}</code>`)}
      ${field('Mode', policy.mode)} ${field('sha256 (effective policy)', html`<code class="hash">${policy.sha256}</code>`)}
      ${field('sha256 (file bytes)', policy.file === null ? null : html`<code class="hash">${policy.fileSha256 ?? 'unavailable: the file could not be read again'}</code>`)}
    </table>
    <table class="rules">
      <thead>
        <tr>
          <th>Rule</th>
          <th>Enabled</th>
          <th>Value</th>
        </tr>
      </thead>
      <tbody>
        ${policy.rules.map(
          (rule) =>
            html`<tr>
              <td><code>${rule.id}</code></td>
              <td>${rule.enabled ? 'yes' : 'no'}</td>
              <td>${rule.value === null ? '-' : html`<code>${rule.value}</code>`}</td>
            </tr> `,
        )}
      </tbody>
    </table>
  </details>`;
}

/**
 * The audit as one self-contained HTML page (audit evidence): node facts, counts, every failure with
 * its fix (the plan's diff, or why apply holds back), unknowns, passing and not-applicable rules
 * folded, the policy with its digest, when and by what it was made. No script, no external asset; a
 * CSP meta tag forbids any request. Every value is escaped. Pure.
 */
export function renderAuditHtml(report: AuditReport, policy: ReportPolicy, provenance: ReportProvenance): string {
  const rows = report.sections.flatMap((section) => section.rows);
  const failing = report.failing;
  const unknown = rows.filter((row) => row.finding.status === 'unknown');
  const passing = rows.filter((row) => row.finding.status === 'pass');
  const skipped = rows.filter((row) => row.finding.status === 'skip');
  const { summary } = report;
  const verdict = summary.fail + summary.unknown > 0 ? 'not compliant' : 'compliant';
  const page = html`<!DOCTYPE html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta http-equiv="Content-Security-Policy" content="${REPORT_CSP}" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="generator" content="kube-harden ${provenance.toolVersion}" />
        <title>kube-harden audit: ${report.node.name}</title>
        <style>
          ${REPORT_CSS}
        </style>
      </head>
      <body>
        <header>
          <h1>kube-harden audit of node <code>${report.node.name}</code></h1>
          <p class="provenance">
            Generated <time datetime="${provenance.generatedAt}">${provenance.generatedAt}</time> by kube-harden ${provenance.toolVersion}, judged
            against the ${policy.file === null ? 'built-in policy' : html`policy <code>${policy.file}</code>`} (mode ${policy.mode}, sha256
            <code class="hash">${policy.sha256}</code>).
          </p>
        </header>
        <main>
          <section id="summary">
            <h2>Summary: ${verdict}</h2>
            <p class="counts">
              <span class="count fail">${summary.fail} fail</span> <span class="count unknown">${summary.unknown} unknown</span>
              <span class="count pass">${summary.pass} pass</span> <span class="count skip">${summary.skip} not applicable</span>
            </p>
            ${nodeFacts(report)}
          </section>
          <section id="failures">
            <h2>Failures (${failing.length})</h2>
            ${failing.length === 0 ? html`<p>No rule fails.</p>` : failing.map((row) => problem(row, report))}
          </section>
          ${
            unknown.length > 0
              ? html`<section id="unknown">
                  <h2>Not judged: unknown (${unknown.length})</h2>
                  <p>The input could not be read or judged; an unknown is never counted as a pass.</p>
                  ${unknown.map((row) => problem(row, report))}
                </section>`
              : null
          }
          <section id="folded">
            <details id="passing">
              <summary>Passing rules (${passing.length})</summary>
              ${rowsTable(passing, false)}
            </details>
            <details id="not-applicable">
              <summary>Not applicable to this node (${plural(skipped.length, 'rule')})</summary>
              ${rowsTable(skipped, true)}
            </details>
            ${policyBlock(policy)}
          </section>
        </main>
        <footer>
          <p>
            kube-harden ${provenance.toolVersion}: ${plural(rows.length, 'rule')} judged on ${report.node.name} at ${provenance.generatedAt}. Fixes
            show what <code>kube-harden apply</code> would write; <code>kube-harden plan</code> prints the same diffs.
          </p>
        </footer>
      </body>
    </html> `;
  return page.text;
}
