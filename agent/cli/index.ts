import type { Command } from './command.js';
import { EXIT, InputError, UsageError } from './common.js';
import type { CliDeps } from './node.js';

/**
 * Commands are loaded only when used: `audit` must not pay for the daemon's watcher and metrics
 * libraries (and, later, the Kubernetes client).
 */
interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'audit', summary: 'judge the node against the policy; changes nothing', load: async () => (await import('./audit.js')).auditCommand },
  { name: 'plan', summary: 'show the changes apply would make; changes nothing', load: async () => (await import('./plan.js')).planCommand },
  {
    name: 'apply',
    summary: 'fix what the audit found, with backups and a health-gated restart',
    load: async () => (await import('./apply.js')).applyCommand,
  },
  {
    name: 'rollback',
    summary: 'undo an apply byte for byte (files, created files, modes, live sysctls)',
    load: async () => (await import('./rollback.js')).rollbackCommand,
  },
  {
    name: 'run',
    summary: 'daemon mode: harden, then keep correcting drift; serves metrics and probes',
    load: async () => (await import('./run.js')).runCommand,
  },
  {
    name: 'report',
    summary: 'the fleet from the API server: node states, failing rules, rollout progress',
    load: async () => (await import('./report.js')).reportCommand,
  },
  { name: 'version', summary: 'print the kube-harden version', load: async () => (await import('./version.js')).versionCommand },
];

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
  if (!name) {
    // No command is a usage error: the help goes to stderr so scripts piping stdout see nothing.
    deps.stderr(`${TOP_HELP}\n`);
    return EXIT.usage;
  }
  if (name === '--help' || name === '-h' || name === 'help') {
    deps.stdout(`${TOP_HELP}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === (name === '--version' ? 'version' : name));
  if (!entry) {
    deps.stderr(`kube-harden: unknown command "${name}" (commands: ${COMMANDS.map((c) => c.name).join(', ')})\n`);
    return EXIT.usage;
  }
  const command = await entry.load();
  try {
    return await command.run(name === '--version' ? [] : rest, deps);
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
