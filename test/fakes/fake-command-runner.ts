import type { CommandResult, CommandRunner } from '../../agent/host/commands.js';

/** Answers commands from a table keyed by the joined argv; records every call. */
export class FakeCommandRunner implements CommandRunner {
  readonly calls: string[][] = [];
  constructor(private readonly answers: Record<string, CommandResult> = {}) {}

  async run(argv: readonly string[]): Promise<CommandResult> {
    this.calls.push([...argv]);
    return this.answers[argv.join(' ')] ?? { exitCode: 127, stdout: '', stderr: 'not found' };
  }
}
