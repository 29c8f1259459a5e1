import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT } from './common.js';
import type { Command } from './command.js';

/**
 * The package version, from the nearest package.json named kube-harden above this module: the same
 * lookup works from the compiled tree (dist/agent/cli/) and from the bundle (dist/bundle/chunks/).
 */
export function agentVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'kube-harden' && pkg.version) return pkg.version;
    } catch {
      // no package.json here: look one directory up
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
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
