import { readFileSync } from 'node:fs';
import { EXIT } from './common.js';
import type { Command } from './command.js';

/** The package version, read once from package.json next to the compiled tree. */
export function agentVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const versionCommand: Command = {
  name: 'version',
  help: 'Usage: kube-harden version\n\nPrints the kube-harden version and the Node.js runtime.',
  async run(argv, deps) {
    if (argv.includes('--help') || argv.includes('-h')) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    deps.stdout(`kube-harden ${agentVersion()} (node ${process.version})\n`);
    return EXIT.ok;
  },
};
