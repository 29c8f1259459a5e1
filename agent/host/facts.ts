import type { LsmFacts, RunningProcess, VersionFact } from '../core/observation.js';
import { formatVersion, parseVersion } from '../core/version.js';
import type { CommandRunner } from './commands.js';
import type { HostFs } from './host-fs.js';

/** Reads one small procfs/sysfs value; null when absent or unreadable. */
async function readValue(fs: HostFs, hostPath: string): Promise<string | null> {
  const state = await fs.readFile(hostPath);
  return state.kind === 'file' ? state.content.trim() : null;
}

/** The host kernel release (the container shares the host kernel). */
export async function kernelRelease(fs: HostFs): Promise<string | null> {
  return readValue(fs, '/proc/sys/kernel/osrelease');
}

/** AppArmor and SELinux state as the host's sysfs shows it (KUBERNETES-FACTS.md §11). */
export async function lsmFacts(fs: HostFs): Promise<LsmFacts> {
  const apparmorState = await fs.readFile('/sys/module/apparmor/parameters/enabled');
  const apparmor =
    apparmorState.kind === 'file'
      ? apparmorState.content.trim() === 'Y'
        ? 'enabled'
        : 'disabled'
      : apparmorState.kind === 'missing'
        ? 'disabled'
        : 'unknown';
  const enforce = await fs.readFile('/sys/fs/selinux/enforce');
  const selinux =
    enforce.kind === 'file'
      ? enforce.content.trim() === '1'
        ? 'enforcing'
        : enforce.content.trim() === '0'
          ? 'permissive'
          : 'unknown'
      : enforce.kind === 'missing'
        ? 'disabled'
        : 'unknown';
  const profiles = apparmor === 'enabled' ? await fs.readFile('/sys/kernel/security/apparmor/profiles') : null;
  const apparmorProfiles = profiles?.kind === 'file' ? profiles.content.split('\n').filter((line) => line.trim() !== '').length : null;
  return { apparmor, apparmorProfiles, selinux };
}

/**
 * The running kubelet, found in the host's /proc (the DaemonSet runs with hostPID). Reads only
 * `cmdline` files; a kernel thread or a vanished process is skipped.
 */
export async function findKubeletProcess(fs: HostFs): Promise<RunningProcess | null> {
  // The daemon asks every few seconds and the kubelet rarely restarts: the pid found last time is
  // asked first, so a node with hundreds of processes is not scanned on every reconcile.
  const last = LAST_KUBELET_PID.get(fs);
  const known = last === undefined ? null : await kubeletAt(fs, last);
  if (known) return known;
  const proc = await fs.listDir('/proc');
  if (proc.kind !== 'dir') return null;
  for (const entry of proc.entries) {
    if (!/^\d+$/.test(entry) || entry === last) continue;
    const found = await kubeletAt(fs, entry);
    if (found) {
      LAST_KUBELET_PID.set(fs, entry);
      return found;
    }
  }
  return null;
}

const LAST_KUBELET_PID = new WeakMap<HostFs, string>();

/** The process `pid` when it is a kubelet; null for anything else, a kernel thread or a vanished process. */
async function kubeletAt(fs: HostFs, pid: string): Promise<RunningProcess | null> {
  let bytes: Buffer | null;
  try {
    bytes = await fs.readBytes(`/proc/${pid}/cmdline`);
  } catch {
    return null;
  }
  if (!bytes || bytes.length === 0) return null;
  const argv = bytes
    .toString('utf8')
    .split('\0')
    .filter((arg, index, all) => arg !== '' || index < all.length - 1);
  const program = argv[0]?.split('/').pop();
  return program === 'kubelet' ? { pid: Number(pid), argv, startedAtMs: await processStart(fs, pid) } : null;
}

/**
 * When a process started: field 22 of /proc/<pid>/stat (clock ticks after boot) plus `btime` from
 * /proc/stat. Clock ticks are 100 per second on every Linux architecture Kubernetes supports (USER_HZ).
 */
async function processStart(fs: HostFs, pid: string): Promise<number | null> {
  const [stat, system] = await Promise.all([fs.readFile(`/proc/${pid}/stat`), fs.readFile('/proc/stat')]);
  if (stat.kind !== 'file' || system.kind !== 'file') return null;
  const fields = stat.content.slice(stat.content.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  const boot = Number(/^btime (\d+)$/m.exec(system.content)?.[1]);
  return Number.isFinite(ticks) && Number.isFinite(boot) ? boot * 1000 + ticks * 10 : null;
}

/**
 * The kubelet version: `--kubelet-version` when given; else `kubelet --version` of the running
 * kubelet's binary or of the layout's known binaries (`binaries`), executed from the host root.
 * Null means unknown: version-gated changes are then not made.
 */
export async function detectKubeletVersion(
  fs: HostFs,
  runner: CommandRunner,
  given: string | null,
  running: RunningProcess | null,
  binaries: readonly string[],
): Promise<VersionFact | null> {
  if (given) {
    const version = parseVersion(given);
    return version ? { ...version, raw: given, source: '--kubelet-version' } : null;
  }
  const candidates = [running?.argv[0]?.startsWith('/') ? running.argv[0] : null, ...binaries].filter((path): path is string => !!path);
  for (const candidate of [...new Set(candidates)]) {
    if (!(await fs.exists(candidate))) continue;
    try {
      const real = await fs.hostRoot.resolve(candidate);
      const result = await runner.run([real, '--version'], { timeoutMs: 10_000 });
      const version = result.exitCode === 0 ? parseVersion(result.stdout) : null;
      if (version) return { ...version, raw: formatVersion(version), source: `${candidate} --version` };
    } catch {
      // not executable here: try the next candidate
    }
  }
  return null;
}
