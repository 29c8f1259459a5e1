import type { CommandRunner } from './commands.js';

/** Restarts host services. Tests pass a recording fake. */
export interface ServiceManager {
  restart(service: string): Promise<void>;
}

/**
 * Enters the host's namespaces as PID 1 to reach its systemd: the agent runs in a container with
 * hostPID, so `nsenter -t 1` is the host init. The prefix is injectable so tests can run the real
 * command path inside a PID namespace of their own.
 */
export const DEFAULT_NSENTER_PREFIX: readonly string[] = ['nsenter', '--target', '1', '--mount', '--uts', '--ipc', '--net', '--pid', '--'];

export class ServiceRestartError extends Error {
  constructor(
    readonly service: string,
    readonly exitCode: number,
    detail: string,
  ) {
    super(`systemctl restart ${service} failed (exit ${exitCode})${detail ? `: ${detail}` : ''}`);
    this.name = 'ServiceRestartError';
  }
}

export class SystemdServiceManager implements ServiceManager {
  constructor(
    private readonly runner: CommandRunner,
    private readonly prefix: readonly string[] = DEFAULT_NSENTER_PREFIX,
    private readonly timeoutMs = 120_000,
  ) {}

  async restart(service: string): Promise<void> {
    if (!/^[A-Za-z0-9@._-]+$/.test(service)) throw new Error(`refusing to restart oddly named service "${service}"`);
    const result = await this.runner.run([...this.prefix, 'systemctl', 'restart', service], { timeoutMs: this.timeoutMs });
    // First line only: systemctl's hint text is long and never holds secrets, but keep events short.
    if (result.exitCode !== 0) throw new ServiceRestartError(service, result.exitCode, result.stderr.split('\n')[0]?.trim() ?? '');
  }
}
