import type { CliDeps } from './node.js';

/** One CLI command (one file each under cli/). Returns the exit code. */
export interface Command {
  readonly name: string;
  readonly help: string;
  run(argv: readonly string[], deps: CliDeps): Promise<number>;
}
