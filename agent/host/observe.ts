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
  /**
   * The daemon's last observation: when everything it read reads the same again (HostFs answers an
   * unchanged file with the very state it returned before), that observation is returned as is, so
   * nothing downstream (discovery, parsing, judging) runs again.
   */
  readonly previous?: Observation | null;
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

  const previous = options.previous;
  // What this call has already read: discovery takes a path from here before asking the host again.
  let readNow: Reads | null = null;
  if (previous && sameFacts(previous, snapshot())) {
    await readAll(options, previous, { files, dirs, sysctls, stats, hostPlugins, shippedPlugins });
    if (sameReads(previous, snapshot())) return previous;
    // Something changed: discover again from nothing, as a first observation would (targets say what
    // is still needed given what was read, so a continued discovery could keep what is no longer
    // named). What readAll just got is current: discovery reuses it instead of reading it twice.
    readNow = copyReads({ files, dirs, sysctls, stats, hostPlugins, shippedPlugins });
    for (const map of [files, dirs, sysctls, stats, hostPlugins, shippedPlugins]) map.clear();
  }
  const again = <V>(known: ReadonlyMap<string, V> | undefined, key: string, read: () => Promise<V>): V | Promise<V> => known?.get(key) ?? read();

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
      ...newDirs.map(async (path) => dirs.set(path, await again(readNow?.dirs, path, () => fs.listDir(path)))),
      ...newFiles.map(async (path) => files.set(path, await again(readNow?.files, path, () => fs.readFile(path)))),
      ...newSysctls.map(async (key) => sysctls.set(key, await again(readNow?.sysctls, key, () => readSysctl(fs, key)))),
      ...newStats.map(async (path) => stats.set(path, await again(readNow?.stats, path, () => fs.stat(path)))),
      ...newHostPlugins.map(async (path) => hostPlugins.set(path, await again(readNow?.hostPlugins, path, () => options.plugins.probeHost(path)))),
      ...newShipped.map(async (name) =>
        shippedPlugins.set(name, await again(readNow?.shippedPlugins, name, () => options.plugins.probeShipped(name))),
      ),
    ]);
  }
  return Object.freeze(snapshot());
}

async function readSysctl(fs: HostFs, key: string): Promise<SysctlState> {
  const state = await fs.readFile(`/proc/sys/${key.replace(/\./g, '/')}`);
  if (state.kind === 'file') return { kind: 'value', key, value: state.content.trim() };
  return { kind: 'error', key, error: state.kind === 'missing' ? 'not present in /proc/sys' : state.error };
}

type Reads = {
  files: Map<string, FileState>;
  dirs: Map<string, DirState>;
  sysctls: Map<string, SysctlState>;
  stats: Map<string, StatState>;
  hostPlugins: Map<string, PluginProbe>;
  shippedPlugins: Map<string, PluginProbe>;
};

function copyReads(reads: Reads): Reads {
  return {
    files: new Map(reads.files),
    dirs: new Map(reads.dirs),
    sysctls: new Map(reads.sysctls),
    stats: new Map(reads.stats),
    hostPlugins: new Map(reads.hostPlugins),
    shippedPlugins: new Map(reads.shippedPlugins),
  };
}

/** Reads again, in one round, everything the previous observation read. */
async function readAll(options: ObserveOptions, previous: Observation, into: Reads): Promise<void> {
  const { fs, plugins } = options;
  await Promise.all([
    ...[...previous.dirs.keys()].map(async (path) => into.dirs.set(path, await fs.listDir(path))),
    ...[...previous.files.keys()].map(async (path) => into.files.set(path, await fs.readFile(path))),
    ...[...previous.sysctls.keys()].map(async (key) => into.sysctls.set(key, await readSysctl(fs, key))),
    ...[...previous.stats.keys()].map(async (path) => into.stats.set(path, await fs.stat(path))),
    ...[...previous.hostPlugins.keys()].map(async (path) => into.hostPlugins.set(path, await plugins.probeHost(path))),
    ...[...previous.shippedPlugins.keys()].map(async (name) => into.shippedPlugins.set(name, await plugins.probeShipped(name))),
  ]);
}

/** Equal plain data: primitives, arrays and objects of them (states, facts, operator input). */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((key) => same((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]));
}

function sameFacts(a: Observation, b: Observation): boolean {
  return (
    same(a.kubeletProcess, b.kubeletProcess) &&
    same(a.kubeletVersion, b.kubeletVersion) &&
    a.kernelRelease === b.kernelRelease &&
    same(a.lsm, b.lsm) &&
    same(a.input, b.input)
  );
}

function sameMap<V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (!b.has(key) || !same(value, b.get(key))) return false;
  return true;
}

/** Every state read again equals the previous one (the same object, for anything HostFs remembered). */
function sameReads(a: Observation, b: Observation): boolean {
  return (
    sameMap(a.files, b.files) &&
    sameMap(a.dirs, b.dirs) &&
    sameMap(a.stats, b.stats) &&
    sameMap(a.sysctls, b.sysctls) &&
    sameMap(a.hostPlugins, b.hostPlugins) &&
    sameMap(a.shippedPlugins, b.shippedPlugins)
  );
}
