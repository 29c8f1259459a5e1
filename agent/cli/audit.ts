import { summarize } from '../core/finding.js';
import { PLANNED_RULE_IDS } from '../rules/index.js';
import { COMMON_HELP, EXIT, EXIT_HELP, commonOptions, outputFormat, parseCommand } from './common.js';
import type { Command } from './command.js';
import { loadNode } from './node.js';
import { auditJson, auditJunit, auditTable, findingsOf } from './render.js';

export const auditCommand: Command = {
  name: 'audit',
  help: `Usage: kube-harden audit [options] [--output table|json|junit]

Reads the node (through --host-root) and reports every rule as pass, fail, unknown or skip, with the
expected and actual value and the file that decides it (a flag in /etc/default/kubelet beats
config.yaml, so the flag file is named). "unknown" means the input could not be read or judged; it is
never counted as a pass. Nothing on the node is changed.

  --output FORMAT        table (default), json (DESIGN §3 shape) or junit

Rules not built yet (reported by no command until their issue lands):
  ${PLANNED_RULE_IDS.join(', ')}

${COMMON_HELP}

${EXIT_HELP}`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, { output: { type: 'string' } });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    const format = outputFormat(values.output, ['table', 'json', 'junit'] as const, 'table');
    const node = await loadNode(commonOptions(values, deps.env), deps);
    deps.stdout(format === 'json' ? auditJson(node) : format === 'junit' ? auditJunit(node) : auditTable(node));
    const summary = summarize(findingsOf(node));
    return summary.fail + summary.unknown > 0 ? EXIT.findings : EXIT.ok;
  },
};
