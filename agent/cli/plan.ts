import { buildPlan } from '../core/planner.js';
import { COMMON_HELP, EXIT, EXIT_HELP, commonOptions, outputFormat, parseCommand } from './common.js';
import type { Command } from './command.js';
import { loadNode } from './node.js';
import { planDiff, planJson } from './render.js';
import { visibleText } from './text-layout.js';

export const planCommand: Command = {
  name: 'plan',
  help: `Usage: kube-harden plan [options] [--output diff|json]

Prints what "apply" would change: unified diffs of whole files (comments and settings the agent does
not own are kept), mode/owner changes, live sysctl writes, the services that must restart and the
failing rules that will not be fixed, with the reason (e.g. kubelet version unknown). Nothing on the
node is changed. An empty plan means a second apply would change nothing.

  --output FORMAT        diff (default) or json

${COMMON_HELP}

${EXIT_HELP} For plan: 0 nothing to change, 1 changes pending or rules blocked.`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, { output: { type: 'string' } });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const format = outputFormat(values.output, ['diff', 'json'] as const, 'diff');
    const node = await loadNode(commonOptions(values, deps.env), deps);
    const plan = buildPlan(node.evaluated, node.obs, node.policy);
    deps.stdout(format === 'json' ? `${JSON.stringify(planJson(plan), null, 2)}\n` : visibleText(planDiff(plan)));
    return plan.changes.length > 0 || plan.blocked.length > 0 ? EXIT.findings : EXIT.ok;
  },
};
