import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { LAST_RECONCILE_ANNOTATION, STATE_ANNOTATION } from '../cluster/node-status.js';
import { RESTART_SLOT_PREFIX } from '../cluster/semaphore.js';
import { FLEET_STATES, fleetView, type FleetView } from '../core/fleet-view.js';
import type { ClusterPolicyReport } from '../core/policy-report.js';
import { EXIT, InputError, outputFormat, parseCommand } from './common.js';
import type { Command } from './command.js';
import type { CliDeps } from './node.js';

/** Three missed 5-minute heartbeats: the agent on that node is not reporting. */
export const STALE_AFTER_MS = 15 * 60_000;

/** --kubeconfig, else $KUBECONFIG (its first file), else ~/.kube/config. */
function kubeconfigPath(flag: string | undefined, deps: CliDeps): string {
  const file = flag ?? deps.env.KUBECONFIG?.split(path.delimiter).find((entry) => entry !== '') ?? path.join(homedir(), '.kube', 'config');
  if (!existsSync(file)) throw new InputError(`kubeconfig ${file}: no such file (give one with --kubeconfig)`);
  return file;
}

/** Reads Nodes, ClusterPolicyReports and the restart slots (the Kubernetes client loads only here). */
async function readFleet(kubeconfig: string, namespace: string, nowMs: number): Promise<FleetView> {
  const { clusterApi, listLeases, loadKubeConfig } = await import('../cluster/client.js');
  const { ResourceMissingError } = await import('../cluster/api.js');
  let config;
  try {
    config = loadKubeConfig({ kind: 'kubeconfig', path: kubeconfig });
  } catch (error) {
    throw new InputError(`cannot load --kubeconfig ${kubeconfig}: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]}`);
  }
  const api = clusterApi(config);
  let nodes, reports, leases;
  try {
    [nodes, reports, leases] = await Promise.all([
      api.nodes.list(),
      api.policyReports.list().catch((error: unknown) => {
        if (error instanceof ResourceMissingError) return null;
        throw error;
      }),
      listLeases(config, namespace),
    ]);
  } catch (error) {
    // Unreachable, refused or forbidden: the kubeconfig is unusable for this (exit 2), not a failing fleet.
    throw new InputError(`cannot read the fleet with --kubeconfig ${kubeconfig}: ${error instanceof Error ? error.message : String(error)}`);
  }
  return fleetView({
    nodes: nodes.map((node) => {
      const last = Date.parse(node.annotations[LAST_RECONCILE_ANNOTATION] ?? '');
      return { name: node.name, state: node.annotations[STATE_ANNOTATION] ?? null, lastReconcileMs: Number.isNaN(last) ? null : last };
    }),
    reports: reports as ClusterPolicyReport[] | null,
    slots: leases
      .filter((lease) => lease.name.startsWith(`${RESTART_SLOT_PREFIX}-`))
      .map((lease) => ({
        name: lease.name,
        holder: lease.holderIdentity,
        expiresMs: lease.renewTimeMs === null ? null : lease.renewTimeMs + (lease.leaseDurationSeconds ?? 0) * 1000,
      })),
    nowMs,
    staleMs: STALE_AFTER_MS,
  });
}

/** The fleet for a terminal. */
export function fleetTable(view: FleetView): string {
  const lines = [
    `Fleet: ${view.rollout.total} node(s): ${FLEET_STATES.map((state) => `${view.states[state]} ${state}`).join(', ')}`,
    '',
    `${'NODE'.padEnd(28)}${'STATE'.padEnd(13)}${'FAIL'.padEnd(6)}${'ERROR'.padEnd(7)}DETAIL`,
  ];
  for (const node of view.nodes)
    lines.push(
      `${node.name.padEnd(28)}${node.state.padEnd(13)}${String(node.fail ?? '-').padEnd(6)}${String(node.error ?? '-').padEnd(7)}${node.detail ?? ''}`,
    );
  lines.push('');
  if (view.failingRules === null)
    lines.push('Failing rules: unknown (no ClusterPolicyReports: the wgpolicyk8s.io CRD is not installed; states come from the Node annotations)');
  else if (view.failingRules.length === 0) lines.push('Failing rules: none');
  else {
    lines.push(`${'RULE'.padEnd(42)}${'CIS'.padEnd(14)}${'SEVERITY'.padEnd(10)}${'NODES'.padEnd(7)}WHICH`);
    for (const rule of view.failingRules) {
      const count = rule.error > 0 ? `${rule.fail}+${rule.error}?` : String(rule.fail);
      lines.push(`${rule.rule.padEnd(42)}${(rule.cis ?? '-').padEnd(14)}${rule.severity.padEnd(10)}${count.padEnd(7)}${rule.nodes.join(', ')}`);
    }
  }
  if (view.withoutReport.length > 0) lines.push(`No ClusterPolicyReport yet: ${view.withoutReport.join(', ')}`);
  const { rollout } = view;
  lines.push(
    '',
    `Rollout: ${rollout.compliant}/${rollout.total} compliant; restart slots held: ${rollout.slotsHeld.length === 0 ? 'none' : rollout.slotsHeld.map((held) => `${held.slot} by ${held.node}`).join(', ')}`,
  );
  for (const node of rollout.stuck)
    lines.push(`STUCK: ${node} is degraded and holds a restart slot: the rollout waits for it (see its RolledBack Events; docs/operations.md)`);
  return `${lines.map((line) => line.trimEnd()).join('\n')}\n`;
}

export const reportCommand: Command = {
  name: 'report',
  help: `Usage: kube-harden report [--kubeconfig FILE] [--namespace NS] [--output table|json]

The fleet as the agents report it, read from the API server (changes nothing):
  - nodes by state: compliant, drifted (fails and is not being fixed: every failing node in audit
    mode), remediating (a disruptive change in progress: it holds a restart slot), held (waiting for a
    restart slot), degraded (a change was rolled back and is held), unknown (no agent reported, or none
    for 15 minutes). From each Node's kube-harden.io/state and last-reconcile annotations;
  - the failing rules with how many nodes fail them (and how many could not judge them, "+N?"), from
    the nodes' ClusterPolicyReports (wgpolicyk8s.io); without that CRD the rules are not counted;
  - the rollout: nodes compliant, restart slots held (Leases ${RESTART_SLOT_PREFIX}-N in --namespace), and
    the stuck node: one that holds a slot while degraded, so no other node restarts.

  --kubeconfig FILE   credentials (default $KUBECONFIG, else ~/.kube/config). Needs: nodes list,
                      clusterpolicyreports list, leases list in the agent namespace
  --namespace NS      the agent's namespace (default kube-harden)
  --output FORMAT     table (default) or json

Exit codes: 0 every node compliant and no rule failing; 1 anything fails, is not judged or unknown;
2 bad invocation or unusable kubeconfig.`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, { output: { type: 'string' }, kubeconfig: { type: 'string' }, namespace: { type: 'string' } });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const format = outputFormat(values.output, ['table', 'json'] as const, 'table');
    const view = await readFleet(
      kubeconfigPath(values.kubeconfig as string | undefined, deps),
      (values.namespace as string | undefined) ?? 'kube-harden',
      deps.now().getTime(),
    );
    deps.stdout(format === 'json' ? `${JSON.stringify(view, null, 2)}\n` : fleetTable(view));
    return view.failing ? EXIT.findings : EXIT.ok;
  },
};
