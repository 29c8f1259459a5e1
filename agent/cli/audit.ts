import { existsSync } from 'node:fs';
import { summarize } from '../core/finding.js';
import type { Policy } from '../core/policy.js';
import { uncoveredChecks, uncoveredFinding } from '../rules/cis/catalogue.js';
import { BENCHMARKS, DEFAULT_BENCHMARK, benchmarkNamed } from '../rules/cis/index.js';
import { auditWorkloads, type WorkloadAudit } from '../rules/workloads/pod-rules.js';
import { COMMON_HELP, EXIT, EXIT_HELP, InputError, UsageError, commonOptions, outputFormat, parseCommand } from './common.js';
import type { Command } from './command.js';
import { loadNode, type CliDeps } from './node.js';
import { auditJson, auditJunit, auditTable, findingsOf, workloadTable } from './render.js';

/** Lists this node's pods once and audits them (the Kubernetes client loads only here). */
async function auditNodePods(kubeconfig: string, nodeName: string, policy: Policy, deps: CliDeps): Promise<WorkloadAudit> {
  if (!existsSync(kubeconfig)) throw new InputError(`--kubeconfig ${kubeconfig}: no such file`);
  const { clusterApi, loadKubeConfig } = await import('../cluster/client.js');
  let pods;
  try {
    pods = await clusterApi(loadKubeConfig({ kind: 'kubeconfig', path: kubeconfig })).pods.listOnNode(nodeName);
  } catch (error) {
    throw new InputError(
      `cannot list the pods of node ${nodeName} with --kubeconfig ${kubeconfig}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const self = deps.env.POD_NAMESPACE && deps.env.POD_NAME ? { namespace: deps.env.POD_NAMESPACE, name: deps.env.POD_NAME } : null;
  return auditWorkloads(
    pods.pods.map((record) => record.pod),
    policy,
    self,
    deps.now().getTime(),
  );
}

export const auditCommand: Command = {
  name: 'audit',
  help: `Usage: kube-harden audit [options] [--output table|json|junit]

Reads the node (through --host-root) and reports every rule as pass, fail, unknown or skip, with the
expected and actual value and the file that decides it (a flag in /etc/default/kubelet beats
config.yaml, so the flag file is named). "unknown" means the input could not be read or judged; it is
never counted as a pass. Nothing on the node is changed.

  --output FORMAT        table (default), json (DESIGN §3 shape) or junit
  --benchmark NAME       the CIS benchmark version whose checks no rule judges (manual, or not built
                         yet) are listed as skip with what to check: ${BENCHMARKS.map((b) => b.name).join(', ')}
                         (default ${DEFAULT_BENCHMARK.name}, the newest)
  --kubeconfig FILE      also audit the pods on this node (--node-name) against the workload rules
                         (privileged, host namespaces, root, capabilities, limits, runtime socket
                         mounts, writable root filesystem, privilege escalation), with the policy's
                         exemptions; JSON gains a "workloads" object. Needs pods list (read only)

${COMMON_HELP}

${EXIT_HELP}`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, { output: { type: 'string' }, kubeconfig: { type: 'string' }, benchmark: { type: 'string' } });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const format = outputFormat(values.output, ['table', 'json', 'junit'] as const, 'table');
    const benchmarkName = (values.benchmark as string | undefined) ?? DEFAULT_BENCHMARK.name;
    const benchmark = benchmarkNamed(benchmarkName);
    if (!benchmark) throw new UsageError(`--benchmark ${benchmarkName}: unknown (known: ${BENCHMARKS.map((b) => b.name).join(', ')})`);
    const common = commonOptions(values, deps.env);
    const node = await loadNode(common, deps);
    const kubeconfig = values.kubeconfig as string | undefined;
    const workloads = kubeconfig === undefined ? null : await auditNodePods(kubeconfig, common.nodeName, node.policy, deps);
    if (workloads && format === 'junit') throw new UsageError('--kubeconfig with --output junit is not supported (use json or table)');
    const skips = uncoveredChecks(benchmark).map((check) => uncoveredFinding(benchmark, check));
    deps.stdout(
      format === 'json'
        ? auditJson(node, workloads, skips)
        : format === 'junit'
          ? auditJunit(node, skips)
          : auditTable(node, skips) + (workloads ? workloadTable(workloads) : ''),
    );
    const summary = summarize(findingsOf(node, skips));
    return summary.fail + summary.unknown + (workloads?.violations.length ?? 0) > 0 ? EXIT.findings : EXIT.ok;
  },
};
