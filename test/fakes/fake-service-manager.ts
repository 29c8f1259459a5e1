import type { ServiceManager } from '../../agent/host/service-manager.js';

/** Records restarts; can be told to fail. */
export class FakeServiceManager implements ServiceManager {
  readonly restarts: string[] = [];
  constructor(private readonly failWith: string | null = null) {}

  async restart(service: string): Promise<void> {
    this.restarts.push(service);
    if (this.failWith) throw new Error(this.failWith);
  }
}
