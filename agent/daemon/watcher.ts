import { watch, type FSWatcher } from 'chokidar';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Observation } from '../core/observation.js';
import type { HostRoot } from '../host/host-root.js';

/**
 * Host directories to watch for drift: the parent of every file, stat target and plugin the rules read,
 * plus the directories they list. Parents, not files: a file's own watch dies when it is replaced by
 * rename (atomic writes, ConfigMap swaps). Pseudo filesystems give no events and are polled instead.
 */
export function watchedHostDirs(obs: Observation): string[] {
  const dirs = new Set<string>();
  const existing = (hostPath: string) => !hostPath.startsWith('/proc/') && !hostPath.startsWith('/sys/');
  const paths = [
    ...[...obs.files.values()].filter((state) => state.kind !== 'error').map((state) => state.path),
    ...[...obs.stats.values()].filter((state) => state.kind !== 'error').map((state) => state.path),
    ...obs.hostPlugins.keys(),
  ];
  for (const hostPath of paths.filter(existing)) {
    const parent = path.posix.dirname(hostPath);
    if (obs.dirs.get(parent)?.kind !== 'missing') dirs.add(parent);
  }
  for (const [hostPath, state] of obs.dirs) if (state.kind === 'dir' && existing(hostPath)) dirs.add(hostPath);
  return [...dirs].sort();
}

/**
 * chokidar on a set of directories, each with `depth: 0` (under /var/lib/kubelet live pods' volumes;
 * inotify watches are a per-user resource the host's kubelet and runtime share). Events are only a
 * signal: the reconciler re-observes, it never acts on an event's payload.
 */
export class DirectoryWatcher {
  /**
   * One chokidar instance per directory: chokidar counts `depth` from the first watched root that
   * contains a path, so watching /var/lib and /var/lib/kubelet in one instance silently drops the
   * events of /var/lib/kubelet's files (depth 1 below /var/lib).
   */
  private readonly watchers = new Map<string, FSWatcher>();

  constructor(
    private readonly hostRoot: HostRoot,
    private readonly onEvent: (agentPath: string) => void,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {}

  /**
   * Watches exactly those of `hostDirs` that exist (resolved inside the host root); returns once the
   * watches are in place. A directory that appears later is watched after the reconcile that sees it.
   */
  async update(hostDirs: readonly string[]): Promise<void> {
    const wanted = new Set<string>();
    for (const dir of hostDirs) {
      try {
        const resolved = await this.hostRoot.resolve(dir);
        if ((await stat(resolved)).isDirectory()) wanted.add(resolved);
      } catch {
        // missing or unresolvable (symlink loop): nothing to watch there; the resync still covers it
      }
    }
    for (const [dir, watcher] of this.watchers)
      if (!wanted.has(dir)) {
        this.watchers.delete(dir);
        await watcher.close();
      }
    const added = [...wanted].filter((dir) => !this.watchers.has(dir));
    await Promise.all(added.map((dir) => this.watchDir(dir)));
  }

  private async watchDir(dir: string): Promise<void> {
    const watcher = watch(dir, { depth: 0, ignoreInitial: true, persistent: true, followSymlinks: false, atomic: false });
    this.watchers.set(dir, watcher);
    watcher.on('all', (_event, file) => this.onEvent(file));
    // chokidar drops attribute-only changes (a chmod keeps the mtime), but the kernel reports them:
    // its raw events make a mode or owner change as fast a signal as a content change.
    watcher.on('raw', (_event, file, details) => this.onEvent(rawPath(file, details)));
    watcher.on('error', (error) => this.onError(error instanceof Error ? error : new Error(String(error))));
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  get count(): number {
    return this.watchers.size;
  }

  async close(): Promise<void> {
    const watchers = [...this.watchers.values()];
    this.watchers.clear();
    await Promise.all(watchers.map((watcher) => watcher.close()));
  }
}

/** The path of a raw watcher event: the directory watched joined with the entry the kernel named. */
function rawPath(file: string, details: unknown): string {
  const watched = (details as { watchedPath?: unknown } | undefined)?.watchedPath;
  return typeof watched === 'string' && file && !file.startsWith('/') ? path.join(watched, file) : typeof watched === 'string' ? watched : file;
}
