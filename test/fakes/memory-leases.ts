import { ConflictError, type LeaseApi, type LeaseRecord } from '../../agent/cluster/api.js';

/** Leases in memory with the API server's optimistic concurrency; `beforeWrite` lets a rival win a race. */
export class MemoryLeases implements LeaseApi {
  readonly leases = new Map<string, LeaseRecord>();
  private version = 1;
  beforeWrite: (() => void) | null = null;
  async get(_namespace: string, name: string) {
    return this.leases.get(name) ?? null;
  }
  async create(record: LeaseRecord) {
    this.race();
    if (this.leases.has(record.name)) throw new ConflictError('exists');
    return this.store(record);
  }
  async replace(record: LeaseRecord) {
    this.race();
    if (this.leases.get(record.name)?.resourceVersion !== record.resourceVersion) throw new ConflictError('stale');
    return this.store(record);
  }
  store(record: LeaseRecord) {
    const stored = { ...record, resourceVersion: String(this.version++) };
    this.leases.set(record.name, stored);
    return stored;
  }
  private race() {
    const rival = this.beforeWrite;
    this.beforeWrite = null;
    rival?.();
  }
}
