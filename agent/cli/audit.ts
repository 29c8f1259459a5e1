import { existsSync } from 'node:fs';
import type { ClusterApi } from '../cluster/api.js';
import { summarize, type Finding } from '../core/finding.js';
import type { EvaluatedRule } from '../core/planner.js';
import { ruleEnabled, type Policy } from '../core/policy.js';
import { uncoveredChecks, uncoveredFinding } from '../rules/cis/catalogue.js';
import { BENCHMARKS, DEFAULT_BENCHMARK, benchmarkNamed } from '../rules/cis/index.js';
import { auditNamespaces, NAMESPACE_POD_SECURITY, withNamespaceAudit } from '../rules/workloads/namespace-rules.js';
import { auditWorkloads, type WorkloadAudit } from '../rules/workloads/pod-rules.js';
import { COMMON_HELP, EXIT, EXIT_HELP, InputError, UsageError, commonOptions, outputFormat, parseCommand } from './common.js';
import type { Command } from './command.js';
import { buildPlan } from '../core/planner.js';
import { renderAuditTable } from './audit-table.js';
import { renderAuditHtml } from './html-report.js';
import { loadNode, loadPolicy, type CliDeps, type LoadedNode } from './node.js';
import { policyEvidence, terminalLayout } from './report-facts.js';
import { buildAuditReport } from './report-model.js';
import { auditJson, auditJunit, findingsOf, nodeInfo, restartPendingLine, workloadTable } from './render.js';
import { visibleStrings, visibleText } from './text-layout.js';
import { kubeletRestartNeeded, type KubeletRestartNeed } from '../rules/kubelet/restart-need.js';
import { agentVersion } from './version.js';

/** The API for --kubeconfig. A missing or malformed file is the user's input: one line, exit 2. */
async function kubeconfigApi(kubeconfig: string): Promise<ClusterApi> {
  if (!existsSync(kubeconfig)) throw new InputError(`--kubeconfig ${kubeconfig}: no such file`);
  const { clusterApi, loadKubeConfig } = await import('../cluster/client.js');
  try {
    return clusterApi(loadKubeConfig({ kind: 'kubeconfig', path: kubeconfig }));
  } catch (error) {
    // The loader's YAML errors carry a code frame on the following lines.
    throw new InputError(`cannot load --kubeconfig ${kubeconfig}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
  }
}

/**
 * Lists this node's pods once and audits them, and every Namespace's Pod Security label unless the
 * policy turns that rule off (the Kubernetes client loads only here).
 */
async function auditNodePods(kubeconfig: string, nodeName: string, policy: Policy, deps: CliDeps): Promise<WorkloadAudit> {
  const api = await kubeconfigApi(kubeconfig);
  let pods;
  try {
    pods = await api.pods.listOnNode(nodeName);
  } catch (error) {
    throw new InputError(
      `cannot list the pods of node ${nodeName} with --kubeconfig ${kubeconfig}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const self = deps.env.POD_NAMESPACE && deps.env.POD_NAME ? { namespace: deps.env.POD_NAMESPACE, name: deps.env.POD_NAME } : null;
  const now = deps.now().getTime();
  const audit = auditWorkloads(
    pods.pods.map((record) => record.pod),
    policy,
    self,
    now,
  );
  if (!ruleEnabled(policy, NAMESPACE_POD_SECURITY)) return audit;
  let namespaces;
  try {
    namespaces = await api.namespaces.list();
  } catch (error) {
    throw new InputError(
      `cannot list namespaces with --kubeconfig ${kubeconfig} (for ${NAMESPACE_POD_SECURITY}; turn it off with enabled: false in the policy to skip it): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return withNamespaceAudit(audit, auditNamespaces(namespaces, policy, deps.env.POD_NAMESPACE ?? null, now));
}

/** The Node's own labels, for a policy with node-pool overrides (needs nodes get). */
async function readNodeLabels(kubeconfig: string, nodeName: string): Promise<Record<string, string>> {
  const api = await kubeconfigApi(kubeconfig);
  try {
    return { ...(await api.nodes.get(nodeName)).labels };
  } catch (error) {
    throw new InputError(
      `cannot read the labels of node ${nodeName} with --kubeconfig ${kubeconfig} (the policy has node-pool overrides): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

export const auditCommand: Command = {
  name: 'audit',
  help: `Usage: kube-harden audit [options] [--output table|json|junit|html] [--all | --only failing]

Reads the node (through --host-root) and reports every rule as pass, fail, unknown or skip, with the
expected and actual value and the file that decides it (a flag in /etc/default/kubelet beats
config.yaml, so the flag file is named). "unknown" means the input could not be read or judged; it is
never counted as a pass. Nothing on the node is changed.

  --output FORMAT        table (default): the node and the counts first, then one section per part
                         of the node (kubelet, kernel, control plane, ...), the one with the most
                         problems first and fail/unknown rows first in each; rules that do not apply
                         to this node are one line per section; then what apply would do for each
                         failure (or why it holds back). Fits the terminal's width (80 columns when
                         not a terminal); colour only on a terminal and never with NO_COLOR set.
                         json: every rule (DESIGN §3 shape). junit: every rule, for CI dashboards.
                         html: one self-contained page (no script, no external asset, nothing
                         fetched) for audit evidence: node facts, counts, each failure with its fix
                         (the plan's diff) or why apply holds back, passing and not-applicable rules
                         folded, the policy with its sha256, when and by which version it was made.
                         Redirect it to a file: kube-harden audit --output html > node-audit.html
  --all                  table: list every rule, the ones that do not apply to this node included
  --only failing         table: only fail and unknown rows (the summary still counts every rule)
  --benchmark NAME       the CIS benchmark version whose checks no rule judges (manual, or not built
                         yet) are listed as skip with what to check: ${BENCHMARKS.map((b) => b.name).join(', ')}
                         (default ${DEFAULT_BENCHMARK.name}, the newest)
  --kubeconfig FILE      also audit the pods on this node (--node-name) against the workload rules
                         (privileged, host namespaces, root, capabilities, limits, runtime socket
                         mounts, writable root filesystem, privilege escalation), with the policy's
                         exemptions, and every namespace's pod-security.kubernetes.io/enforce label
                         (workload.namespace-pod-security); JSON gains a "workloads" object (table and
                         json only). Needs pods and namespaces list (read only). With a policy that has
                         node-pool overrides, the Node's own labels choose them (needs nodes get)
                         unless --node-labels is given

The policy's node-pool overrides that matched this node are printed ("Overrides applied:", and
"overrides" in the JSON).

${COMMON_HELP}

${EXIT_HELP}`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, {
      output: { type: 'string' },
      kubeconfig: { type: 'string' },
      all: { type: 'boolean' },
      only: { type: 'string' },
      benchmark: { type: 'string' },
    });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const format = outputFormat(values.output, ['table', 'json', 'junit', 'html'] as const, 'table');
    const all = values.all === true;
    const only = values.only as string | undefined;
    if (only !== undefined && only !== 'failing') throw new UsageError('--only takes one value: failing');
    if ((all || only !== undefined) && format !== 'table')
      throw new UsageError(`--all and --only apply to the table output (${format} keeps every rule)`);
    if (all && only !== undefined) throw new UsageError('--all and --only failing exclude each other');
    const benchmarkName = (values.benchmark as string | undefined) ?? DEFAULT_BENCHMARK.name;
    const benchmark = benchmarkNamed(benchmarkName);
    if (!benchmark) throw new UsageError(`--benchmark ${benchmarkName}: unknown (known: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
    const kubeconfig = values.kubeconfig as string | undefined;
    if (kubeconfig !== undefined && (format === 'junit' || format === 'html'))
      throw new UsageError(`--kubeconfig with --output ${format} is not supported (use json or table)`);
    let common = commonOptions(values, deps.env);
    if (kubeconfig !== undefined && common.nodeLabels === null && (await loadPolicy(common.policyFile)).overrides.length > 0)
      common = { ...common, nodeLabels: await readNodeLabels(kubeconfig, common.nodeName) };
    const node = await loadNode(common, deps);
    const workloads = kubeconfig === undefined ? null : await auditNodePods(kubeconfig, common.nodeName, node.policy, deps);
    const skips = uncoveredChecks(benchmark).map((check) => uncoveredFinding(benchmark, check));
    // Settings on disk that the running kubelet has not loaded (an apply --no-restart, a hand edit).
    const restartPending = kubeletRestartNeeded(node.ctx, node.evaluated);
    if (format === 'json') deps.stdout(auditJson(node, workloads, skips, restartPending));
    else if (format === 'junit') deps.stdout(auditJunit(node, skips, restartPending));
    else if (format === 'html') deps.stdout(await auditHtml(node, common.policyFile, deps, skips, restartPending));
    else {
      const layout = terminalLayout(deps.terminal, deps.env);
      const policy = { file: common.policyFile, mode: node.policy.mode, overrides: node.appliedOverrides };
      deps.stdout(
        renderAuditTable(visibleStrings(auditReport(node, skips)), { ...layout, all, onlyFailing: only === 'failing', policy }) +
          (workloads ? workloadTable(visibleStrings(workloads)) : '') +
          (restartPending ? visibleText(restartPendingLine(restartPending)) : ''),
      );
    }
    const summary = summarize(findingsOf(node, skips));
    return summary.fail + summary.unknown + (workloads?.violations.length ?? 0) > 0 || restartPending ? EXIT.findings : EXIT.ok;
  },
};

/** The findings in sections with the plan's fix for each failure (buildPlan is pure: nothing is written). */
/** The benchmark's checks no rule judges, as rows of a section of their own. */
const UNCOVERED_COMPONENT = 'CIS checks no rule judges';

function auditReport(node: LoadedNode, skips: readonly Finding[]) {
  const uncovered: EvaluatedRule[] = skips.map((finding) => ({
    meta: {
      id: finding.id,
      title: finding.title,
      cis: finding.cis,
      component: UNCOVERED_COMPONENT,
      remediable: false,
      disruption: 'none',
      versions: 'all',
    },
    evaluation: { finding },
  }));
  return buildAuditReport(nodeInfo(node), [...node.evaluated, ...uncovered], buildPlan(node.evaluated, node.obs, node.policy));
}

async function auditHtml(
  node: LoadedNode,
  policyFile: string | null,
  deps: CliDeps,
  skips: readonly Finding[],
  restartPending: KubeletRestartNeed | null,
): Promise<string> {
  const policy = await policyEvidence(node.policy, policyFile);
  return renderAuditHtml(auditReport(node, skips), policy, { generatedAt: deps.now().toISOString(), toolVersion: agentVersion() }, restartPending);
}
