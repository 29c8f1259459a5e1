/**
 * The immutable snapshot of a node that every rule judges. Produced by host/observe.ts, the only code
 * that reads the host; everything downstream is pure.
 */

/** A host file as read through the host root. Paths are host paths (`/var/lib/kubelet/config.yaml`). */
export type FileState =
  | {
      readonly kind: 'file';
      readonly path: string;
      readonly content: string;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
      /** Last content change (ms since the epoch), to tell whether a running process has loaded it. */
      readonly mtimeMs?: number;
    }
  | { readonly kind: 'missing'; readonly path: string }
  | { readonly kind: 'error'; readonly path: string; readonly error: string };

/** A directory listing (names only, sorted), or why it could not be listed. */
export type DirState =
  | {
      readonly kind: 'dir';
      readonly path: string;
      readonly entries: readonly string[];
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
    }
  | { readonly kind: 'missing'; readonly path: string }
  | { readonly kind: 'error'; readonly path: string; readonly error: string };

/**
 * Type, mode and owner without content: for files whose bytes the agent has no business reading
 * (private keys) and for directories.
 */
export type StatState =
  | { readonly kind: 'file' | 'dir' | 'other'; readonly path: string; readonly mode: number; readonly uid: number; readonly gid: number }
  | { readonly kind: 'missing'; readonly path: string }
  | { readonly kind: 'error'; readonly path: string; readonly error: string };

/**
 * A CNI plugin binary: its hash, and what it answered to `CNI_COMMAND=VERSION` when run where it will
 * run (a host binary chrooted into the host root). `versions` null: it did not answer.
 */
export type PluginProbe =
  | {
      readonly kind: 'present';
      readonly path: string;
      readonly sha256: string;
      readonly mode: number;
      readonly versions: readonly string[] | null;
      readonly runError: string | null;
    }
  | { readonly kind: 'missing'; readonly path: string }
  | { readonly kind: 'error'; readonly path: string; readonly error: string };

/** A live kernel parameter from `/proc/sys`. */
export type SysctlState =
  { readonly kind: 'value'; readonly key: string; readonly value: string } | { readonly kind: 'error'; readonly key: string; readonly error: string };

/** A version such as kubelet `v1.31.4`, with where it was learnt. */
export interface VersionFact {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly raw: string;
  readonly source: string;
}

/** The running kubelet, when the host's /proc shows one (hostPID). */
export interface RunningProcess {
  readonly pid: number;
  readonly argv: readonly string[];
  /** Start time (ms since the epoch) from /proc/<pid>/stat and the boot time; null when unreadable. */
  readonly startedAtMs: number | null;
}

/** Linux security module state (DESIGN §3 `node.lsm`). */
export interface LsmFacts {
  readonly apparmor: 'enabled' | 'disabled' | 'unknown';
  /** Loaded AppArmor profiles, when securityfs is readable. */
  readonly apparmorProfiles: number | null;
  readonly selinux: 'enforcing' | 'permissive' | 'disabled' | 'unknown';
}

/** Facts given on the command line or environment; they win over detection. */
export interface OperatorInput {
  readonly nodeName: string;
  readonly nodeIp: string | null;
  readonly nodeIpSource: string | null;
  readonly kubeletVersion: string | null;
  /** Agent-side directory holding the CNI plugins the agent ships (not a host path). */
  readonly pluginDir: string;
}

/** Everything the rules may look at. */
export interface Observation {
  readonly files: ReadonlyMap<string, FileState>;
  readonly dirs: ReadonlyMap<string, DirState>;
  readonly stats: ReadonlyMap<string, StatState>;
  readonly sysctls: ReadonlyMap<string, SysctlState>;
  /** Host CNI plugin binaries, probed (keyed by host path). */
  readonly hostPlugins: ReadonlyMap<string, PluginProbe>;
  /** The plugins the agent ships, probed in the agent (keyed by plugin name). */
  readonly shippedPlugins: ReadonlyMap<string, PluginProbe>;
  readonly kubeletProcess: RunningProcess | null;
  readonly kubeletVersion: VersionFact | null;
  readonly kernelRelease: string | null;
  readonly lsm: LsmFacts;
  readonly input: OperatorInput;
}

/** What a rule needs read from the host. */
export interface Targets {
  readonly files?: readonly string[];
  readonly dirs?: readonly string[];
  readonly stats?: readonly string[];
  readonly sysctls?: readonly string[];
  /** Host paths of CNI plugin binaries to probe. */
  readonly hostPlugins?: readonly string[];
  /** Names of shipped plugins to probe (in the agent's plugin dir). */
  readonly shippedPlugins?: readonly string[];
}

export function dirEntries(obs: Pick<Observation, 'dirs'>, path: string): readonly string[] {
  const dir = obs.dirs.get(path);
  return dir?.kind === 'dir' ? dir.entries : [];
}
