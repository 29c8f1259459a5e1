import { existsSync } from 'node:fs';
import { summarize } from '../core/finding.js';
import type { Policy } from '../core/policy.js';
import { auditWorkloads, type WorkloadAudit } from '../rules/workloads/pod-rules.js';
import { COMMON_HELP, EXIT, EXIT_HELP, InputError, UsageError, commonOptions, outputFormat, parseCommand } from './common.js';
import type { Command } from './command.js';
import { loadNode, loadPolicy, type CliDeps } from './node.js';
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

/** The Node's own labels, for a policy with node-pool overrides (needs nodes get). */
async function readNodeLabels(kubeconfig: string, nodeName: string): Promise<Record<string, string>> {
  if (!existsSync(kubeconfig)) throw new InputError(`--kubeconfig ${kubeconfig}: no such file`);
  const { clusterApi, loadKubeConfig } = await import('../cluster/client.js');
  try {
    return { ...(await clusterApi(loadKubeConfig({ kind: 'kubeconfig', path: kubeconfig })).nodes.get(nodeName)).labels };
  } catch (error) {
    throw new InputError(
      `cannot read the labels of node ${nodeName} with --kubeconfig ${kubeconfig} (the policy has node-pool overrides): ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

export const auditCommand: Command = {
  name: 'audit',
  help: `Usage: kube-harden audit [options] [--output table|json|junit]

Reads the node (through --host-root) and reports every rule as pass, fail, unknown or skip, with the
expected and actual value and the file that decides it (a flag in /etc/default/kubelet beats
config.yaml, so the flag file is named). "unknown" means the input could not be read or judged; it is
never counted as a pass. Nothing on the node is changed.

  --output FORMAT        table (default), json (DESIGN §3 shape) or junit
  --kubeconfig FILE      also audit the pods on this node (--node-name) against the workload rules
                         (privileged, host namespaces, root, capabilities, limits, runtime socket
                         mounts, writable root filesystem, privilege escalation), with the policy's
                         exemptions; JSON gains a "workloads" object. Needs pods list (read only).
                         With a policy that has node-pool overrides, the Node's own labels choose
                         them (needs nodes get) unless --node-labels is given

The policy's node-pool overrides that matched this node are printed ("Overrides applied:", and
"overrides" in the JSON).

${COMMON_HELP}

${EXIT_HELP}`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, { output: { type: 'string' }, kubeconfig: { type: 'string' } });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const format = outputFormat(values.output, ['table', 'json', 'junit'] as const, 'table');
    const kubeconfig = values.kubeconfig as string | undefined;
    let common = commonOptions(values, deps.env);
    if (kubeconfig !== undefined && common.nodeLabels === null && (await loadPolicy(common.policyFile)).overrides.length > 0)
      common = { ...common, nodeLabels: await readNodeLabels(kubeconfig, common.nodeName) };
    const node = await loadNode(common, deps);
    const workloads = kubeconfig === undefined ? null : await auditNodePods(kubeconfig, common.nodeName, node.policy, deps);
    if (workloads && format === 'junit') throw new UsageError('--kubeconfig with --output junit is not supported (use json or table)');
    deps.stdout(
      format === 'json'
        ? auditJson(node, workloads)
        : format === 'junit'
          ? auditJunit(node)
          : auditTable(node) + (workloads ? workloadTable(workloads) : ''),
    );
    const summary = summarize(findingsOf(node));
    return summary.fail + summary.unknown + (workloads?.violations.length ?? 0) > 0 ? EXIT.findings : EXIT.ok;
  },
};
