/** Result of a finished command. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs host commands. Tests pass a hand-written fake; production uses execa. */
export interface CommandRunner {
  run(argv: readonly string[], options?: { readonly timeoutMs?: number; readonly env?: Readonly<Record<string, string>> }): Promise<CommandResult>;
}

/** Runs commands with execa: no shell, bounded time, output captured (never logged). */
export class ExecaCommandRunner implements CommandRunner {
  async run(
    argv: readonly string[],
    options: { readonly timeoutMs?: number; readonly env?: Readonly<Record<string, string>> } = {},
  ): Promise<CommandResult> {
    const [file, ...args] = argv;
    if (!file) throw new Error('empty command');
    // Loaded on first use: execa costs ~100 ms to import and `version`/`--help` never run anything.
    const { execa } = await import('execa');
    const result = await execa(file, args, { reject: false, timeout: options.timeoutMs ?? 30_000, env: options.env, stdin: 'ignore' });
    const exitCode = typeof result.exitCode === 'number' ? result.exitCode : 1;
    const stderr = result.failed && result.exitCode === undefined ? `${result.shortMessage}` : String(result.stderr ?? '');
    return { exitCode, stdout: String(result.stdout ?? ''), stderr };
  }
}
