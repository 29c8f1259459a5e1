import { applyCommand } from './apply.js';
import { auditCommand } from './audit.js';
import type { Command } from './command.js';
import { EXIT, InputError, UsageError } from './common.js';
import type { CliDeps } from './node.js';
import { planCommand } from './plan.js';
import { rollbackCommand } from './rollback.js';
import { runCommand } from './run.js';
import { versionCommand } from './version.js';

export const COMMANDS: readonly Command[] = [auditCommand, planCommand, applyCommand, rollbackCommand, runCommand, versionCommand];

export const TOP_HELP = `kube-harden: audits a Kubernetes node against a hardening policy and fixes what is wrong, safely.

Usage: kube-harden <command> [options]

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(10)}${command.summary}`).join('\n')}

Run "kube-harden <command> --help" for a command's options. Typical first use on a node:
  kube-harden audit                 # what is wrong, and which file decides it
  kube-harden plan                  # the exact diffs apply would write
  kube-harden apply --no-restart    # write them (backed up); restart the kubelet when you choose
  kube-harden rollback              # undo the last apply byte for byte`;

/** Runs one CLI invocation; maps user mistakes to exit 2 with a one-line message (no stack trace). */
export async function runCli(argv: readonly string[], deps: CliDeps): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    deps.stdout(`${TOP_HELP}\n`);
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version') return versionCommand.run([], deps);
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (!command) {
    deps.stderr(`kube-harden: unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(', ')})\n`);
    return EXIT.usage;
  }
  try {
    return await command.run(rest, deps);
  } catch (error) {
    if (error instanceof UsageError) {
      deps.stderr(`kube-harden ${name}: ${error.message}\nRun "kube-harden ${name} --help" for usage.\n`);
      return EXIT.usage;
    }
    if (error instanceof InputError) {
      deps.stderr(`kube-harden ${name}: ${error.message}\n`);
      return EXIT.usage;
    }
    // Anything else is a bug or a host failure: say what failed without a stack trace, keep it in the log.
    deps.logger.error('command failed', { command: name, error: error instanceof Error ? error.stack : String(error) });
    deps.stderr(`kube-harden ${name}: failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.findings;
  }
}
