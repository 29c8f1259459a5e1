import { createHash } from 'node:crypto';
import type { HostFs } from './host-fs.js';

/** Backups hold kubeconfigs and keys: the tree is root-only and lives where no component scans. */
export const BACKUP_ROOT = '/var/lib/kube-harden/backups';
/** The agent's own state on the host (root-only). */
export const STATE_DIR = '/var/lib/kube-harden';

/** One undoable step, written to the journal before the step is taken. */
export type JournalEntry =
  | {
      readonly type: 'file';
      readonly path: string;
      readonly existed: boolean;
      /** File name of the saved copy inside the backup directory, when the file existed. */
      readonly copy: string | null;
      readonly mode: number | null;
      readonly uid: number | null;
      readonly gid: number | null;
      readonly beforeSha256: string | null;
    }
  | { readonly type: 'chmod'; readonly path: string; readonly before: number }
  | { readonly type: 'chown'; readonly path: string; readonly before: { readonly uid: number; readonly gid: number } }
  | { readonly type: 'sysctl'; readonly key: string; readonly path: string; readonly before: string };

export type JournalState = 'in-progress' | 'complete' | 'failed' | 'rolled-back';

/** The record of one apply, stored as `journal.json` in its backup directory. */
export interface Journal {
  readonly id: string;
  /** Monotonic per host: the order of applies. */
  readonly sequence: number;
  readonly createdAt: string;
  readonly command: string;
  state: JournalState;
  readonly entries: JournalEntry[];
  /** Rules whose changes this apply made. */
  rules: string[];
  /** Services that must restart to load this apply's changes (and again after a rollback). */
  services: string[];
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Journal-first backups: every step is recorded (with a copy of the old bytes) before it happens. */
export class BackupStore {
  constructor(
    private readonly fs: HostFs,
    private readonly now: () => Date = () => new Date(),
  ) {}

  private dir(id: string): string {
    return `${BACKUP_ROOT}/${id}`;
  }

  async begin(command: string): Promise<Journal> {
    const created = this.now();
    // A sequence number, not the clock, orders backups: two applies in one second, or a clock that
    // steps back, must not make "the most recent apply" ambiguous.
    const sequence = (await this.list()).reduce((max, journal) => Math.max(max, journal.sequence ?? 0), 0) + 1;
    const stamp = created
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z');
    const id = `${stamp}-${String(sequence).padStart(4, '0')}`;
    await this.fs.ensureDir(STATE_DIR, 0o700);
    await this.fs.ensureDir(BACKUP_ROOT, 0o700);
    await this.fs.ensureDir(this.dir(id), 0o700);
    const journal: Journal = { id, sequence, createdAt: created.toISOString(), command, state: 'in-progress', entries: [], rules: [], services: [] };
    await this.save(journal);
    return journal;
  }

  async save(journal: Journal): Promise<void> {
    await this.fs.writeAtomic(`${this.dir(journal.id)}/journal.json`, `${JSON.stringify(journal, null, 2)}\n`, 0o600);
  }

  /** Saves the current bytes, mode and owner of `path` (or that it did not exist) before it is written. */
  async recordFile(journal: Journal, path: string): Promise<void> {
    // stat + raw bytes: binaries (CNI plugins) are backed up as well as text.
    const info = await this.fs.stat(path);
    if (info.kind === 'error') throw new Error(`cannot back up ${path}: ${info.error}`);
    if (info.kind === 'dir' || info.kind === 'other') throw new Error(`cannot back up ${path}: not a regular file`);
    const bytes = info.kind === 'file' ? await this.fs.readBytes(path) : null;
    let copy: string | null = null;
    if (info.kind === 'file' && bytes) {
      copy = `file-${String(journal.entries.length).padStart(4, '0')}`;
      // The copy keeps the original mode: a 0600 key stays 0600 inside the 0700 backup tree.
      await this.fs.writeAtomic(`${this.dir(journal.id)}/${copy}`, bytes, info.mode);
    }
    const existed = info.kind === 'file';
    journal.entries.push({
      type: 'file',
      path,
      existed,
      copy,
      mode: existed ? info.mode : null,
      uid: existed ? info.uid : null,
      gid: existed ? info.gid : null,
      beforeSha256: bytes ? sha256(bytes) : null,
    });
    await this.save(journal);
  }

  /** Undoes the newest journal entry for `path` at once (an install that does not run on the host). */
  async restoreLatest(journal: Journal, path: string): Promise<void> {
    const entry = [...journal.entries].reverse().find((candidate) => candidate.type === 'file' && candidate.path === path);
    if (entry) await this.restore({ ...journal, entries: [entry] });
  }

  async record(journal: Journal, entry: Exclude<JournalEntry, { type: 'file' }>): Promise<void> {
    journal.entries.push(entry);
    await this.save(journal);
  }

  async list(): Promise<Journal[]> {
    const listing = await this.fs.listDir(BACKUP_ROOT);
    if (listing.kind !== 'dir') return [];
    const journals: Journal[] = [];
    for (const id of listing.entries) {
      const state = await this.fs.readFile(`${this.dir(id)}/journal.json`);
      if (state.kind !== 'file') continue;
      try {
        journals.push(JSON.parse(state.content) as Journal);
      } catch {
        // A torn journal cannot be rolled back; list() skips it and prune keeps it for inspection.
      }
    }
    return journals.sort((a, b) => a.sequence - b.sequence);
  }

  /**
   * Undoes a journal's steps newest first: files byte for byte with mode and owner, created files
   * removed, modes and owners restored, live sysctls written back.
   */
  async restore(journal: Journal): Promise<string[]> {
    const restored: string[] = [];
    for (const entry of [...journal.entries].reverse()) {
      switch (entry.type) {
        case 'file':
          if (!entry.existed) {
            if (await this.fs.exists(entry.path)) await this.fs.remove(entry.path);
          } else {
            const bytes = await this.fs.readBytes(`${this.dir(journal.id)}/${entry.copy}`);
            if (!bytes) throw new Error(`backup copy of ${entry.path} is missing from ${this.dir(journal.id)}`);
            await this.fs.writeAtomic(entry.path, bytes, entry.mode ?? 0o600);
            if (entry.mode !== null) await this.fs.chmod(entry.path, entry.mode);
            if (entry.uid !== null && entry.gid !== null && process.getuid?.() === 0) await this.fs.chown(entry.path, entry.uid, entry.gid);
          }
          restored.push(entry.path);
          break;
        case 'chmod':
          await this.fs.chmod(entry.path, entry.before);
          restored.push(entry.path);
          break;
        case 'chown':
          await this.fs.chown(entry.path, entry.before.uid, entry.before.gid);
          restored.push(entry.path);
          break;
        case 'sysctl':
          await this.fs.writeInPlace(entry.path, `${entry.before}\n`);
          restored.push(entry.path);
          break;
      }
    }
    return [...new Set(restored)];
  }

  /** Keeps the newest `retain` backups; older ones (secrets included) are deleted. */
  async prune(retain: number): Promise<string[]> {
    // Only readable journals count; a torn one is kept for inspection.
    const ids = (await this.list()).map((journal) => journal.id);
    const doomed = ids.slice(0, Math.max(0, ids.length - retain));
    for (const id of doomed) await this.fs.removeTree(this.dir(id));
    return doomed;
  }
}
