import type { DirState, FileState, Observation, OperatorInput, PluginProbe, StatState, SysctlState, Targets } from '../core/observation.js';
import type { PluginProber } from './cni-plugin.js';
import type { CommandRunner } from './commands.js';
import { detectKubeletVersion, findKubeletProcess, kernelRelease, lsmFacts } from './facts.js';
import type { HostFs } from './host-fs.js';

/** Supplies, for what has been read so far, the targets still needed (rules' `targets`, unioned). */
export type TargetSource = (obs: Observation) => Required<Targets>;

export interface ObserveOptions {
  readonly fs: HostFs;
  readonly runner: CommandRunner;
  readonly input: OperatorInput;
  readonly targets: TargetSource;
  /** Host paths of kubelet binaries to ask for `--version`, in order. */
  readonly kubeletBinaries: readonly string[];
  readonly plugins: PluginProber;
}

/** Discovery stops after this many rounds even if targets keep growing (a loop in the host's files). */
const MAX_ROUNDS = 6;

/**
 * Reads everything the rules need into one immutable Observation. Targets depend on content (a systemd
 * drop-in names env files, which name `--config`), so reading repeats until no new target appears.
 */
export async function observeNode(options: ObserveOptions): Promise<Observation> {
  const { fs, runner, input } = options;
  const files = new Map<string, FileState>();
  const dirs = new Map<string, DirState>();
  const sysctls = new Map<string, SysctlState>();
  const stats = new Map<string, StatState>();
  const hostPlugins = new Map<string, PluginProbe>();
  const shippedPlugins = new Map<string, PluginProbe>();
  const kubeletProcess = await findKubeletProcess(fs);
  const [kubeletVersion, kernel, lsm] = await Promise.all([
    detectKubeletVersion(fs, runner, input.kubeletVersion, kubeletProcess, options.kubeletBinaries),
    kernelRelease(fs),
    lsmFacts(fs),
  ]);
  const snapshot = (): Observation => ({
    files,
    dirs,
    stats,
    sysctls,
    hostPlugins,
    shippedPlugins,
    kubeletProcess,
    kubeletVersion,
    kernelRelease: kernel,
    lsm,
    input,
  });

  for (let round = 0; round < MAX_ROUNDS; round++) {
    const wanted = options.targets(snapshot());
    const newDirs = wanted.dirs.filter((path) => !dirs.has(path));
    const newFiles = wanted.files.filter((path) => !files.has(path));
    const newSysctls = wanted.sysctls.filter((key) => !sysctls.has(key));
    const newStats = wanted.stats.filter((path) => !stats.has(path));
    const newHostPlugins = wanted.hostPlugins.filter((path) => !hostPlugins.has(path));
    const newShipped = wanted.shippedPlugins.filter((name) => !shippedPlugins.has(name));
    if (newDirs.length + newFiles.length + newSysctls.length + newStats.length + newHostPlugins.length + newShipped.length === 0) break;
    await Promise.all([
      ...newDirs.map(async (path) => dirs.set(path, await fs.listDir(path))),
      ...newFiles.map(async (path) => files.set(path, await fs.readFile(path))),
      ...newSysctls.map(async (key) => sysctls.set(key, await readSysctl(fs, key))),
      ...newStats.map(async (path) => stats.set(path, await fs.stat(path))),
      ...newHostPlugins.map(async (path) => hostPlugins.set(path, await options.plugins.probeHost(path))),
      ...newShipped.map(async (name) => shippedPlugins.set(name, await options.plugins.probeShipped(name))),
    ]);
  }
  return Object.freeze(snapshot());
}

async function readSysctl(fs: HostFs, key: string): Promise<SysctlState> {
  const state = await fs.readFile(`/proc/sys/${key.replace(/\./g, '/')}`);
  if (state.kind === 'file') return { kind: 'value', key, value: state.content.trim() };
  return { kind: 'error', key, error: state.kind === 'missing' ? 'not present in /proc/sys' : state.error };
}
