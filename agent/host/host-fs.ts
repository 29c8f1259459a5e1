import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, type BigIntStats } from 'node:fs';
import type { Stats } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { DirState, FileState, StatState } from '../core/observation.js';
import { realpathOrNull, type HostRoot } from './host-root.js';
import { hashFile, IdentityReadMemo, isPseudoFile, type ReadMemo } from './read-memo.js';

/** Files larger than this are not read as configuration (a guard against junk and devices). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'is a symbolic link (refused)';
  if (code === 'EISDIR') return 'is a directory, expected a file';
  if (code === 'ENOTDIR') return 'a parent is not a directory';
  return error instanceof Error ? error.message : String(error);
}

/** What was read from a file, as the agent takes it: UTF-8 text without NUL bytes, at most MAX_CONFIG_BYTES. */
function textState(hostPath: string, info: BigIntStats, buffer: Buffer): FileState {
  if (buffer.length > MAX_CONFIG_BYTES) return { kind: 'error', path: hostPath, error: `is larger than ${MAX_CONFIG_BYTES} bytes` };
  if (buffer.includes(0)) return { kind: 'error', path: hostPath, error: 'is not a text file (contains NUL bytes)' };
  const content = buffer.toString('utf8');
  if (content.includes('\uFFFD') && !Buffer.from(content, 'utf8').equals(buffer))
    return { kind: 'error', path: hostPath, error: 'is not valid UTF-8' };
  return {
    kind: 'file',
    path: hostPath,
    content,
    mode: Number(info.mode) & 0o7777,
    uid: Number(info.uid),
    gid: Number(info.gid),
    mtimeMs: Number(info.mtimeMs),
  };
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    await handle.sync();
  } finally {
    await handle?.close();
  }
}

/**
 * All file IO on the host goes through here: reads never follow a final symlink that the resolver did
 * not already resolve (O_NOFOLLOW), writes are atomic (dot-prefixed temp file in the target directory,
 * mode and owner before data, fsync, rename, fsync of the directory).
 */
export class HostFs {
  /** Files and listings read before, by the identity of what they were read from (see read-memo.ts). */
  private readonly files: ReadMemo<FileState>;
  private readonly listings: ReadMemo<DirState>;
  private readonly checksums: ReadMemo<string>;
  private readonly stats: ReadMemo<StatState>;

  constructor(readonly hostRoot: HostRoot) {
    this.stats = new IdentityReadMemo(hostRoot.root);
    this.files = new IdentityReadMemo(hostRoot.root);
    this.listings = new IdentityReadMemo(hostRoot.root);
    this.checksums = new IdentityReadMemo(hostRoot.root);
  }

  /** SHA-256 of a host file (a binary); null when missing. An unchanged file is not hashed again. */
  async sha256(hostPath: string): Promise<string | null> {
    const known = this.checksums.recall(hostPath);
    if (known) return known;
    const started = Date.now();
    try {
      const { sha256, info } = await hashFile(await this.hostRoot.resolve(hostPath));
      this.checksums.remember(hostPath, info, started, sha256);
      return sha256;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  /** A text file's content, mode and owner; an unchanged file is not read again (one lstat). */
  async readFile(hostPath: string): Promise<FileState> {
    const known = this.files.recall(hostPath);
    if (known) return known;
    if (isPseudoFile(hostPath)) return this.readPseudoFile(hostPath);
    let handle: FileHandle | undefined;
    const started = Date.now();
    try {
      const real = await this.hostRoot.resolve(hostPath);
      handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const info = await handle.stat({ bigint: true });
      if (info.isDirectory()) return { kind: 'error', path: hostPath, error: 'is a directory, expected a file' };
      if (!info.isFile()) return { kind: 'error', path: hostPath, error: 'is not a regular file' };
      if (info.size > BigInt(MAX_CONFIG_BYTES)) return { kind: 'error', path: hostPath, error: `is larger than ${MAX_CONFIG_BYTES} bytes` };
      const buffer = await handle.readFile();
      const state = textState(hostPath, info, buffer);
      // A file whose size does not match what was read is a pseudo file (size 0, generated content).
      if (state.kind === 'file' && info.size === BigInt(buffer.length)) this.files.remember(hostPath, info, started, Object.freeze(state));
      return state;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return this.missing(this.files, hostPath, started);
      return { kind: 'error', path: hostPath, error: errorText(error) };
    } finally {
      await handle?.close();
    }
  }

  /**
   * /proc and /sys files, read again every time (nothing there can be remembered): synchronously, as
   * the kernel generates them on the spot, which saves four promise round trips per sysctl.
   */
  private async readPseudoFile(hostPath: string): Promise<FileState> {
    let fd: number | null = null;
    try {
      fd = openSync(await this.hostRoot.resolve(hostPath), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const info = fstatSync(fd, { bigint: true });
      if (info.isDirectory()) return { kind: 'error', path: hostPath, error: 'is a directory, expected a file' };
      if (!info.isFile()) return { kind: 'error', path: hostPath, error: 'is not a regular file' };
      return textState(hostPath, info, readFileSync(fd));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing', path: hostPath };
      return { kind: 'error', path: hostPath, error: errorText(error) };
    } finally {
      if (fd !== null) closeSync(fd);
    }
  }

  /** Type, mode and owner of a path (links resolved inside the host root); content is not read. */
  async stat(hostPath: string): Promise<StatState> {
    const known = this.stats.recall(hostPath);
    if (known) return known;
    const started = Date.now();
    try {
      const info = await lstat(await this.hostRoot.resolve(hostPath), { bigint: true });
      const kind = info.isFile() ? 'file' : info.isDirectory() ? 'dir' : 'other';
      const state: StatState = { kind, path: hostPath, mode: Number(info.mode) & 0o7777, uid: Number(info.uid), gid: Number(info.gid) };
      this.stats.remember(hostPath, info, started, Object.freeze(state));
      return state;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return this.missing(this.stats, hostPath, started);
      return { kind: 'error', path: hostPath, error: errorText(error) };
    }
  }

  /**
   * A missing path, remembered by the identity of the deepest directory above it that exists and is
   * reached without a symlink: no entry can appear below it without changing that directory's times.
   */
  private missing<S extends FileState | StatState | DirState>(memo: ReadMemo<S>, hostPath: string, started: number): S {
    // Every state type has this `missing` case.
    const state = Object.freeze({ kind: 'missing', path: hostPath }) as S;
    if (hostPath.split('/').includes('..')) return state;
    for (let dir = path.posix.dirname(hostPath); ; dir = path.posix.dirname(dir)) {
      const agentPath = dir === '/' ? this.hostRoot.root : path.join(this.hostRoot.root, dir);
      const info = lstatSync(agentPath, { bigint: true, throwIfNoEntry: false });
      if (info) {
        const direct = info.isDirectory() && (realpathOrNull(agentPath) === agentPath || agentPath === this.hostRoot.root);
        if (direct) memo.remember(hostPath, info, started, state, dir);
        return state;
      }
      if (dir === '/') return state;
    }
  }

  /** Reads a file as raw bytes (backups, binaries); null when missing. */
  async readBytes(hostPath: string): Promise<Buffer | null> {
    let handle: FileHandle | undefined;
    try {
      handle = await open(await this.hostRoot.resolve(hostPath), constants.O_RDONLY | constants.O_NOFOLLOW);
      return await handle.readFile();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    } finally {
      await handle?.close();
    }
  }

  /** A directory's entries, mode and owner; an unchanged directory is not listed again (one lstat). */
  async listDir(hostPath: string): Promise<DirState> {
    const known = this.listings.recall(hostPath);
    if (known) return known;
    const started = Date.now();
    try {
      const real = await this.hostRoot.resolve(hostPath);
      const info = await lstat(real, { bigint: true });
      if (!info.isDirectory()) return { kind: 'error', path: hostPath, error: 'is not a directory' };
      const entries = await readdir(real);
      const state: DirState = {
        kind: 'dir',
        path: hostPath,
        entries: entries.sort(),
        mode: Number(info.mode) & 0o7777,
        uid: Number(info.uid),
        gid: Number(info.gid),
      };
      this.listings.remember(hostPath, info, started, Object.freeze(state));
      return state;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return this.missing(this.listings, hostPath, started);
      return { kind: 'error', path: hostPath, error: code === 'ENOTDIR' ? 'is not a directory' : errorText(error) };
    }
  }

  /**
   * Replaces `hostPath` atomically. An existing file keeps its mode and owner; a new one gets
   * `createMode` and root ownership. A crash leaves either the old or the new content, plus at most a
   * dot-prefixed temp file that components ignore (static pods and CNI skip dot files).
   */
  async writeAtomic(hostPath: string, data: string | Buffer, createMode = 0o644): Promise<void> {
    const real = await this.hostRoot.resolve(hostPath);
    const dir = path.dirname(real);
    let mode = createMode;
    let owner: { uid: number; gid: number } | null = null;
    try {
      const info = await lstat(real);
      if (!info.isFile()) throw new Error(`${hostPath} is not a regular file; refusing to replace it`);
      mode = info.mode & 0o7777;
      owner = { uid: info.uid, gid: info.gid };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await mkdir(dir, { recursive: true, mode: 0o755 });
    }
    const parent = await lstat(dir);
    const prefix = `.${path.basename(real)}.kube-harden-`;
    const temp = path.join(dir, `${prefix}${randomBytes(4).toString('hex')}.tmp`);
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      // The directory must still be the one resolved inside the host root: a parent swapped for a
      // symlink after resolution would otherwise carry the write outside. Checked before any data is
      // written and again right before the rename.
      await this.sameDirectory(hostPath, dir, parent, handle);
      await handle.chmod(mode); // mode (and owner) before data: secrets are never readable by others
      if (owner && process.getuid?.() === 0) await handle.chown(owner.uid, owner.gid);
      await handle.writeFile(data);
      await handle.sync();
      await handle.close();
      await this.sameDirectory(hostPath, dir, parent, null);
      const target = await lstat(real).catch(() => null);
      if (target && !target.isFile())
        throw new Error(`${hostPath} became a ${target.isSymbolicLink() ? 'symbolic link' : 'non-file'} while being written; not replaced`);
      await rename(temp, real);
      await fsyncDir(dir);
    } catch (error) {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw error;
    }
    await this.removeStaleTemps(dir, prefix);
  }

  /** Refuses to go on when `dir` is no longer the directory `hostPath` resolved to (identity, not name). */
  private async sameDirectory(hostPath: string, dir: string, parent: Stats, temp: FileHandle | null): Promise<void> {
    const now = await lstat(dir).catch(() => null);
    const again = path.dirname(await this.hostRoot.resolve(hostPath));
    const tempInfo = temp ? await temp.stat() : null;
    if (!now || !now.isDirectory() || now.ino !== parent.ino || now.dev !== parent.dev || again !== dir || (tempInfo && tempInfo.dev !== parent.dev))
      throw new Error(`${hostPath}: a parent directory changed while writing (swapped for a link?); nothing written`);
  }

  /** A crash can leave a dot-prefixed temp file (invisible to components); the next write of the file clears it. */
  private async removeStaleTemps(dir: string, prefix: string): Promise<void> {
    const entries = await readdir(dir).catch(() => [] as string[]);
    for (const entry of entries) if (entry.startsWith(prefix) && entry.endsWith('.tmp')) await rm(path.join(dir, entry), { force: true });
  }

  /** Writes in place (procfs has no rename): used only for /proc/sys. */
  async writeInPlace(hostPath: string, data: string): Promise<void> {
    const handle = await open(await this.hostRoot.resolve(hostPath), constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_TRUNC);
    try {
      await handle.writeFile(data);
    } finally {
      await handle.close();
    }
  }

  async chmod(hostPath: string, mode: number): Promise<void> {
    await chmod(await this.fileOrDir(hostPath), mode);
  }

  async chown(hostPath: string, uid: number, gid: number): Promise<void> {
    await chown(await this.fileOrDir(hostPath), uid, gid);
  }

  async remove(hostPath: string): Promise<void> {
    const real = await this.regularFile(hostPath);
    await rm(real, { force: true });
    await fsyncDir(path.dirname(real));
  }

  async exists(hostPath: string): Promise<boolean> {
    try {
      await stat(await this.hostRoot.resolve(hostPath));
      return true;
    } catch {
      return false;
    }
  }

  /** Creates a directory (and parents) with `mode`, and enforces the mode when it already exists. */
  async ensureDir(hostPath: string, mode: number): Promise<void> {
    const real = await this.hostRoot.resolve(hostPath);
    // Missing parents get the usual 0755: only the leaf is private (a 0700 /var/lib would break the host).
    await mkdir(path.dirname(real), { recursive: true, mode: 0o755 });
    await mkdir(real, { recursive: true, mode });
    await chmod(real, mode);
  }

  /** Deletes a directory tree (backup pruning). The tree must be a real directory, not a link. */
  async removeTree(hostPath: string): Promise<void> {
    const real = await this.hostRoot.resolve(hostPath);
    if (!(await lstat(real)).isDirectory()) throw new Error(`${hostPath} is not a directory`);
    await rm(real, { recursive: true, force: true });
  }

  /** A regular file or directory (never a link, device or socket): what chmod/chown may touch. */
  private async fileOrDir(hostPath: string): Promise<string> {
    const real = await this.hostRoot.resolve(hostPath);
    const info = await lstat(real);
    if (!info.isFile() && !info.isDirectory()) throw new Error(`${hostPath} is not a regular file or directory`);
    return real;
  }

  private async regularFile(hostPath: string): Promise<string> {
    const real = await this.hostRoot.resolve(hostPath);
    const info = await lstat(real);
    if (!info.isFile()) throw new Error(`${hostPath} is not a regular file`);
    return real;
  }
}
