import { RestartSlots } from '../session/restart-slot.js';
import { EnforcementSession } from '../session/session.js';
import { COMMON_HELP, EXIT, EXIT_HELP, UsageError, commonOptions, outputFormat, parseCommand } from './common.js';
import type { Command } from './command.js';
import { withProgress } from './gate-progress.js';
import { hostRestartGate, loadNode } from './node.js';
import { applyJson, applyTable } from './render.js';
import { visibleText } from './text-layout.js';
import type { Policy } from '../core/policy.js';
import type { ApplyResult } from '../node/executor.js';
import type { RestartGate } from '../node/health-gate.js';
import { kubeletRestartNeeded, type KubeletRestartNeed } from '../rules/kubelet/restart-need.js';

/**
 * The restart an earlier apply left pending, done now through the session like any deferred restart
 * (mode checked, under a slot, behind the same gate). Nothing to roll back if it fails: the files were
 * written by that earlier apply, and they are what the policy asks for.
 */
async function restartPending(
  result: ApplyResult,
  need: KubeletRestartNeed,
  noRestart: boolean,
  session: EnforcementSession,
  gate: RestartGate,
  policy: Policy,
): Promise<ApplyResult> {
  if (result.activations.some((entry) => entry.activation.service === need.service)) return result;
  const activation = {
    id: `restart:${need.service}`,
    service: need.service,
    kind: 'restart' as const,
    disruption: 'restart' as const,
    reason: need.reason,
    rules: [],
    changes: [],
  };
  if (noRestart) return { ...result, activations: [...result.activations, { activation, result: 'pending' }] };
  const problem = await session.restartDeferred(policy, need.service, gate, () => undefined);
  const entry =
    problem === null
      ? { activation, result: 'restarted' as const }
      : {
          activation,
          result: problem === 'waiting' ? ('pending' as const) : ('failed' as const),
          error: problem === 'waiting' ? 'not allowed now (a maintenance window, the pause switch or a blocker): run apply again then' : problem,
        };
  return {
    ...result,
    activations: [...result.activations, entry],
    ok: problem === null,
    unhealthy: problem === null || problem === 'waiting' ? result.unhealthy : [need.service],
  };
}

export const applyCommand: Command = {
  name: 'apply',
  help: `Usage: kube-harden apply [options] [--no-restart] [--output table|json]

Makes the changes "plan" shows. Every file is backed up first to
<host-root>/var/lib/kube-harden/backups/<id>/ (mode 0700: backups hold kubeconfigs and keys) and written
atomically; dependent changes wait for what they need (the six kernel sysctls are persisted and set live
before protectKernelDefaults is turned on, and if one cannot be set the option stays off). A static pod
manifest (kube-apiserver, kube-controller-manager, kube-scheduler) takes effect when it is written:
apply waits for that component's local health endpoint before the next change and restores the
manifest if it does not come back. Then the services whose configuration changed (the kubelet, the
k8s snap's services) are restarted through the host's systemd (nsenter into PID 1) and must become
healthy (kubelet: http://127.0.0.1:10248/healthz) within restarts.healthTimeoutSeconds; otherwise
every change is rolled back and the service restarted again. While a gate waits, apply says on stderr
what it waits for and for how long (one line redrawn on a terminal; one line per stage otherwise).
Running apply twice changes nothing the second time.

  --no-restart           write the changes but do not restart or wait; restarts are reported as
                         pending and the kubelet keeps its old settings until it restarts. Static
                         pod manifests are not written (the kubelet would restart the component at
                         once, ungated): their rules are reported blocked
  --output FORMAT        table (default) or json (the plan plus a result per change and the backup id)

Refused when the policy's mode is "audit".

${COMMON_HELP}

${EXIT_HELP}`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, { output: { type: 'string' }, 'no-restart': { type: 'boolean' } });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const format = outputFormat(values.output, ['table', 'json'] as const, 'table');
    const common = commonOptions(values, deps.env);
    const node = await loadNode(common, deps);
    if (node.policy.mode === 'audit')
      throw new UsageError('the policy mode is "audit": apply changes nothing (use audit or plan, or set mode: enforce)');
    // The CLI has no restart slot and remembers no rollback across runs: an operator runs it by hand.
    const session = new EnforcementSession({
      fs: node.fs,
      plugins: node.plugins,
      services: deps.services(common.hostRoot),
      logger: deps.logger,
      now: () => deps.now().getTime(),
      slots: new RestartSlots(null, deps.logger, 0),
      held: null,
      cluster: null,
    });
    const noRestart = values['no-restart'] === true;
    // What it waits for goes to stderr (stdout keeps the table or the JSON).
    const gate = withProgress(hostRestartGate(node, deps), {
      write: deps.stderr,
      isTTY: deps.terminal?.stderrIsTTY === true,
      now: () => deps.now().getTime(),
    });
    // Judged before this apply: the kubelet settings already passed on disk, so this apply restarts no
    // kubelet for them, yet the running kubelet predates them (an earlier apply --no-restart).
    const pending = kubeletRestartNeeded(node.ctx, node.evaluated);
    const outcome = await session.enforceNode({ policy: node.policy, policyKey: '', node, gate, noRestart: () => noRestart, noReload: noRestart });
    let result: ApplyResult = outcome.result ?? {
      backupId: null,
      changes: [],
      activations: [],
      blocked: outcome.plan.blocked,
      ok: true,
      unhealthy: [],
    };
    if (pending && result.ok) result = await restartPending(result, pending, noRestart, session, gate, node.policy);
    deps.stdout(format === 'json' ? applyJson(result) : visibleText(applyTable(result)));
    // Findings remain when a change failed, a failing rule was blocked, or a rule could not be judged.
    const unknown = node.evaluated.some((rule) => rule.evaluation.finding.status === 'unknown');
    return result.ok && result.blocked.length === 0 && !unknown ? EXIT.ok : EXIT.findings;
  },
};
