/** Result of a finished command. */
export interface CommandResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of one command: a time bound and extra environment variables (added to the agent's own). */
export interface CommandOptions {
  readonly timeoutMs?: number;
  readonly env?: Readonly<Record<string, string>>;
}

/** Runs host commands. Tests pass a hand-written fake; production uses {@link ProcessCommandRunner}. */
export interface CommandRunner {
  run(argv: readonly string[], options?: CommandOptions): Promise<CommandResult>;
}

/** Output beyond this is cut off: the agent runs `--version` probes and systemctl, never bulk output. */
const MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

/**
 * Runs commands with node:child_process: no shell, bounded time (SIGKILL at the deadline), stdin
 * closed, output captured (never logged). The agent only ever runs a program and reads what it prints,
 * so this replaced execa, whose import alone cost 48 ms bundled (114 ms unbundled) of a cold audit
 * (docs/benchmarks.md).
 */
export class ProcessCommandRunner implements CommandRunner {
  async run(argv: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const [file, ...args] = argv;
    if (!file) throw new Error('empty command');
    const { spawn } = await import('node:child_process');
    return new Promise((resolve) => {
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let size = 0;
      let settled = false;
      const finish = (result: CommandResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const child = spawn(file, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: options.env ? { ...process.env, ...options.env } : process.env,
        shell: false,
      });
      const timeoutMs = options.timeoutMs ?? 30_000;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        finish({ exitCode: 1, stdout: text(stdout), stderr: `timed out after ${timeoutMs} ms: ${file}` });
      }, timeoutMs);
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        if (size >= MAX_OUTPUT_BYTES) return;
        size += chunk.length;
        into.push(chunk);
      };
      child.stdout.on('data', collect(stdout));
      child.stderr.on('data', collect(stderr));
      // Spawn failures (ENOENT, EACCES) arrive here instead of an exit: report them like a shell would.
      child.on('error', (error: NodeJS.ErrnoException) => {
        const exitCode = error.code === 'ENOENT' ? 127 : 126;
        finish({ exitCode, stdout: '', stderr: `cannot run ${file}: ${error.code ?? error.message}` });
      });
      child.on('close', (code, signal) => {
        const exitCode = typeof code === 'number' ? code : 1;
        const killed = signal ? `killed by ${signal}` : '';
        finish({ exitCode, stdout: text(stdout), stderr: text(stderr) || killed });
      });
    });
  }
}

function text(chunks: Buffer[]): string {
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
