import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PluginProbe } from '../core/observation.js';
import type { CommandRunner } from './commands.js';
import type { HostFs } from './host-fs.js';
import { hashFile, IdentityReadMemo } from './read-memo.js';

/** Probes CNI plugin binaries. Tests may pass a fake; production runs them. */
export interface PluginProber {
  /** A binary on the host, run chrooted into the host root: proof it runs there, not just here. */
  probeHost(hostPath: string): Promise<PluginProbe>;
  /** A plugin the agent ships, in its own plugin dir. */
  probeShipped(name: string): Promise<PluginProbe>;
  /** Bytes of a shipped plugin (for installing). */
  readShipped(name: string): Promise<Buffer>;
}

/** Parses a plugin's `CNI_COMMAND=VERSION` answer: `{"cniVersion":"1.0.0","supportedVersions":[...]}`. */
export function parseVersionAnswer(stdout: string): string[] | null {
  try {
    const answer = JSON.parse(stdout) as { supportedVersions?: unknown };
    return Array.isArray(answer.supportedVersions) && answer.supportedVersions.every((v) => typeof v === 'string') ? answer.supportedVersions : null;
  } catch {
    return null;
  }
}

const VERSION_ENV = { CNI_COMMAND: 'VERSION' };

type Answer = { readonly versions: string[] | null; readonly runError: string | null };

/**
 * Runs plugins to probe them. Answers are cached by path and checksum: the daemon re-observes often,
 * and a binary that did not change answers the same (a new binary has a new checksum). Checksums are
 * remembered by the binary's identity (inode, size, times), so an unchanged binary is not read again.
 */
export class ExecPluginProber implements PluginProber {
  private readonly answers = new Map<string, Answer>();
  /** The shipped plugins' checksums by file identity: hashing a 4 MB binary every reconcile was 2 ms. */
  private readonly shippedSums = new IdentityReadMemo<string>('/');

  constructor(
    private readonly fs: HostFs,
    private readonly runner: CommandRunner,
    private readonly pluginDir: string,
  ) {}

  async probeHost(hostPath: string): Promise<PluginProbe> {
    const info = await this.fs.stat(hostPath);
    if (info.kind === 'missing') return { kind: 'missing', path: hostPath };
    if (info.kind === 'error') return { kind: 'error', path: hostPath, error: info.error };
    if (info.kind !== 'file') return { kind: 'error', path: hostPath, error: 'is not a regular file' };
    const sha256 = await this.fs.sha256(hostPath).catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
    if (sha256 === null) return { kind: 'missing', path: hostPath };
    if (sha256 instanceof Error) return { kind: 'error', path: hostPath, error: sha256.message };
    // chroot takes the host path as seen inside the host root, so a dynamically linked binary finds the
    // host's libraries (or fails as it would on the node).
    const answer = await this.ask(`host:${hostPath}:${sha256}`, ['chroot', this.fs.hostRoot.root, hostPath]);
    return { kind: 'present', path: hostPath, sha256, mode: info.mode, ...answer };
  }

  async probeShipped(name: string): Promise<PluginProbe> {
    const file = path.join(this.pluginDir, name);
    let sha256: string;
    let mode: number;
    try {
      const started = Date.now();
      const info = await stat(file, { bigint: true });
      mode = Number(info.mode) & 0o7777;
      const known = this.shippedSums.recall(file);
      if (known) sha256 = known;
      else {
        const hashed = await hashFile(file);
        sha256 = hashed.sha256;
        this.shippedSums.remember(file, hashed.info, started, sha256);
      }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'ENOENT' ? { kind: 'missing', path: file } : { kind: 'error', path: file, error: String(error) };
    }
    return { kind: 'present', path: file, sha256, mode, ...(await this.ask(`shipped:${file}:${sha256}`, [file])) };
  }

  async readShipped(name: string): Promise<Buffer> {
    return readFile(path.join(this.pluginDir, name));
  }

  private async ask(key: string, argv: string[]): Promise<Answer> {
    const cached = this.answers.get(key);
    if (cached) return cached;
    const result = await this.runner.run(argv, { timeoutMs: 10_000, env: VERSION_ENV }).catch((error: unknown) => ({
      exitCode: 1,
      stdout: '',
      stderr: error instanceof Error ? error.message : String(error),
    }));
    const versions = result.exitCode === 0 ? parseVersionAnswer(result.stdout) : null;
    const answer: Answer = { versions, runError: versions ? null : result.stderr.split('\n')[0]?.trim() || `exit ${result.exitCode}` };
    // Only successful answers are cached: a failure may be transient (a busy host), so it is asked again.
    if (versions) this.answers.set(key, answer);
    return answer;
  }
}
