import { EXIT } from './common.js';
import type { Command } from './command.js';

/**
 * The DaemonSet entry point. Not built yet (issue "Daemon mode"); it says so rather than pretending to
 * watch the node.
 */
export const runCommand: Command = {
  name: 'run',
  summary: 'daemon mode (drift correction, metrics) - not built yet',
  help: `Usage: kube-harden run [options] [--no-restart] [--metrics-address host:port] [--log-level L]

Not built yet: the daemon (drift correction, policy reload, metrics, health endpoints) is tracked as
its own issue. Use "kube-harden apply" for a one-time hardening run.`,
  async run(argv, deps) {
    if (argv.includes('--help') || argv.includes('-h')) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    deps.stderr('kube-harden run: daemon mode is not built yet; use "kube-harden apply" for a one-time run\n');
    return EXIT.usage;
  },
};
