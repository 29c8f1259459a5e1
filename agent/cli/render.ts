import { summarize, type Finding } from '../core/finding.js';
import type { Plan, PlannedChange } from '../core/plan.js';
import { unifiedDiff } from '../formats/diff.js';
import { redactSecrets } from '../formats/encryption-config.js';
import type { ApplyResult } from '../node/executor.js';
import type { KubeletRestartNeed } from '../rules/kubelet/restart-need.js';
import type { WorkloadAudit } from '../rules/workloads/pod-rules.js';
import { COMPONENTS } from '../rules/control-plane/components.js';
import { nodeOwner, ownerRefusal } from '../rules/platform/owner.js';
import type { LoadedNode } from './node.js';

/** The `node` object of the audit JSON. */
export function nodeInfo(node: LoadedNode) {
  const { obs, ctx } = node;
  // kubeadm keeps the API server in a static pod manifest, the k8s snap in an args file.
  const apiserver =
    obs.stats.get(COMPONENTS.apiserver.manifest)?.kind === 'file' ||
    obs.files.get(COMPONENTS.apiserver.manifest)?.kind === 'file' ||
    (COMPONENTS.apiserver.snapArgs !== null && obs.files.get(COMPONENTS.apiserver.snapArgs)?.kind === 'file');
  const roles = apiserver ? ['control-plane', 'node'] : ['node'];
  return {
    name: obs.input.nodeName,
    distribution: ctx.kubelet.distribution.id,
    distributionRole: ctx.kubelet.distribution.role,
    distributionEvidence: ctx.kubelet.distribution.evidence,
    configurationOwner: ownerLine(node),
    roles,
    kubeletVersion: obs.kubeletVersion ? obs.kubeletVersion.raw : 'unknown',
    kubeletVersionSource: obs.kubeletVersion?.source ?? null,
    nodeIp: ctx.nodeIp.value,
    nodeIpSource: ctx.nodeIp.source,
    kernel: obs.kernelRelease ?? 'unknown',
    lsm: obs.lsm,
  };
}

/** The one-line refusal when another system owns the node's configuration, else null. */
function ownerLine(node: LoadedNode): string | null {
  const owner = nodeOwner(node.ctx.kubelet.distribution);
  return owner ? ownerRefusal(owner, node.ctx.kubelet.distribution.evidence) : null;
}

/** The rules' findings, then `extra` (the benchmark's checks no rule judges, reported as skip). */
export function findingsOf(node: LoadedNode, extra: readonly Finding[] = []): Finding[] {
  return [...node.evaluated.map((rule) => rule.evaluation.finding), ...extra];
}

/** Audit JSON (DESIGN §3); `workloads` is present when the audit had cluster access (--kubeconfig). */
export function auditJson(
  node: LoadedNode,
  workloads: WorkloadAudit | null = null,
  extra: readonly Finding[] = [],
  restartPending: KubeletRestartNeed | null = null,
): string {
  const results = findingsOf(node, extra);
  return `${JSON.stringify(
    {
      node: nodeInfo(node),
      overrides: node.appliedOverrides,
      results,
      summary: summarize(results),
      // The hardened settings are on disk but the running kubelet started before they were written.
      restartPending: restartPending ? [restartPending] : [],
      ...(workloads ? { workloads } : {}),
    },
    null,
    2,
  )}\n`;
}

/** The table's closing line when the running kubelet has not loaded the settings on disk. */
export function restartPendingLine(need: KubeletRestartNeed): string {
  return `\nRESTART PENDING ${need.service}: ${need.reason}. The settings above are on disk, not running: restart ${need.service} (kube-harden apply does it behind the health gate).\n`;
}

/** The workload section of the table output. */
export function workloadTable(audit: WorkloadAudit): string {
  const namespaces = audit.namespaces === undefined ? '' : `, ${audit.namespaces} namespace(s)`;
  const lines = [
    '',
    `Workloads: ${audit.pods} pod(s) on this node${namespaces}, ${audit.violations.length} violation(s), ${audit.exempted.length} exempted`,
  ];
  // A namespace rule's finding is about the Namespace itself (no pod).
  const subject = (entry: { namespace: string; pod: string | null }) =>
    entry.pod === null ? `namespace ${entry.namespace}` : `${entry.namespace}/${entry.pod}`;
  for (const violation of audit.violations)
    lines.push(
      `${'FAIL'.padEnd(8)}${violation.rule.padEnd(42)}${subject(violation)}${violation.container ? ` [${violation.container}]` : ''}: ${violation.message}`,
    );
  for (const entry of audit.exempted)
    lines.push(`${'EXEMPT'.padEnd(8)}${entry.rule.padEnd(42)}${subject(entry)}: ${entry.reason}${entry.expires ? ` (until ${entry.expires})` : ''}`);
  return `${lines.join('\n')}\n`;
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** JUnit XML for CI dashboards: fail = failure, unknown = error, skip = skipped. */
export function auditJunit(node: LoadedNode, extra: readonly Finding[] = [], restartPending: KubeletRestartNeed | null = null): string {
  const findings = findingsOf(node, extra);
  const summary = summarize(findings);
  // A CI gate reading only the JUnit must not pass settings the running kubelet has not loaded.
  const pending = restartPending
    ? [
        `  <testcase classname="kube-harden.restart" name="restart-pending.${xml(restartPending.service)}"><failure message="${xml(`${restartPending.service} restart pending`)}">${xml(restartPending.reason)}</failure></testcase>`,
      ]
    : [];
  const cases = findings.map((finding) => {
    const head = `  <testcase classname="kube-harden.${xml(finding.id.split('.')[0] ?? '')}" name="${xml(finding.id)}">`;
    const detail = xml(`expected ${finding.expected}; actual ${finding.actual}; source ${finding.source ?? '-'}; ${finding.message}`);
    if (finding.status === 'fail') return `${head}<failure message="${xml(finding.title)}">${detail}</failure></testcase>`;
    if (finding.status === 'unknown') return `${head}<error message="unknown">${detail}</error></testcase>`;
    if (finding.status === 'skip') return `${head}<skipped message="${xml(finding.message)}"/></testcase>`;
    return `${head}</testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="kube-harden" tests="${findings.length + pending.length}" failures="${summary.fail + pending.length}" errors="${summary.unknown}" skipped="${summary.skip}">\n${[...cases, ...pending].join('\n')}\n</testsuite>\n`;
}

function octal(mode: number): string {
  return mode.toString(8).padStart(4, '0');
}

/**
 * The diff text of one change (files: unified diff; modes, owners, sysctls: a two-line diff). Key
 * secrets of an EncryptionConfiguration are redacted on both sides: plans and apply results are
 * printed, stored by CI and shown in HTML reports.
 */
export function changeDiff(change: PlannedChange): string {
  switch (change.action) {
    case 'write':
      return unifiedDiff(change.path, change.before === null ? null : redactSecrets(change.before), redactSecrets(change.after));
    case 'chmod':
      return `--- a${change.path} (mode)\n+++ b${change.path} (mode)\n-${octal(change.before)}\n+${octal(change.after)}\n`;
    case 'chown':
      return `--- a${change.path} (owner)\n+++ b${change.path} (owner)\n-${change.before.uid}:${change.before.gid}\n+${change.after.uid}:${change.after.gid}\n`;
    case 'sysctl':
      return `--- a${change.path} (live)\n+++ b${change.path} (live)\n-${change.before}\n+${change.after}\n`;
    case 'install':
      return `--- a${change.path} (sha256)\n+++ b${change.path} (sha256)\n-${change.beforeSha256 ?? '(absent)'}\n+${change.sha256} (shipped ${change.plugin}, mode 0755)\n`;
    case 'remove':
      return unifiedDiff(change.path, redactSecrets(change.before), '').replace(`+++ b${change.path}`, '+++ /dev/null');
  }
}

export function planJson(plan: Plan): object {
  return {
    changes: plan.changes.map((change) => ({ path: change.path, action: change.action, rules: change.rules, diff: changeDiff(change) })),
    restarts: plan.activations.map((activation) => ({
      service: activation.service,
      kind: activation.kind,
      reason: activation.reason,
      disruption: activation.disruption,
    })),
    blocked: plan.blocked,
  };
}

export function planDiff(plan: Plan): string {
  const parts: string[] = [];
  for (const change of plan.changes) parts.push(`# ${change.action} ${change.path} (${change.rules.join(', ')})\n${changeDiff(change)}`);
  if (plan.changes.length === 0) parts.push('# no changes: the node matches the policy for every rule kube-harden can fix\n');
  for (const activation of plan.activations) parts.push(`# ${activation.kind} ${activation.service}: ${activation.reason}\n`);
  for (const blocked of plan.blocked) parts.push(`# blocked ${blocked.id}: ${blocked.reason}\n`);
  return parts.join('');
}

export function applyJson(result: ApplyResult): string {
  const plan = {
    changes: result.changes.map((entry) => ({
      path: entry.change.path,
      action: entry.change.action,
      rules: entry.change.rules,
      diff: changeDiff(entry.change),
      result: entry.result,
      ...(entry.error ? { error: entry.error } : {}),
    })),
    restarts: result.activations.map(({ activation, result, error }) => ({
      service: activation.service,
      kind: activation.kind,
      reason: activation.reason,
      rules: activation.rules,
      result,
      ...(error ? { error } : {}),
    })),
    blocked: result.blocked,
    backupId: result.backupId,
    ok: result.ok,
  };
  return `${JSON.stringify(plan, null, 2)}\n`;
}

export function applyTable(result: ApplyResult): string {
  const lines = [`${'RESULT'.padEnd(13)}${'ACTION'.padEnd(8)}PATH`];
  for (const entry of result.changes) {
    lines.push(`${entry.result.padEnd(13)}${entry.change.action.padEnd(8)}${entry.change.path}  (${entry.change.rules.join(', ')})`);
    if (entry.error) lines.push(`${''.padEnd(21)}${entry.error}`);
  }
  if (result.changes.length === 0) lines.push('(nothing to change)');
  for (const { activation, result: outcome, error } of result.activations)
    lines.push(
      `${activation.kind} ${activation.service}: ${outcome}${outcome === 'pending' ? ' (--no-restart: restart it to load the new settings)' : ''}${error ? `: ${error}` : ''}`,
    );
  for (const blocked of result.blocked) lines.push(`blocked ${blocked.id}: ${blocked.reason}`);
  if (result.backupId) lines.push(`backup: /var/lib/kube-harden/backups/${result.backupId} (undo with: kube-harden rollback)`);
  return `${lines.join('\n')}\n`;
}
