import type { PodApi, PodRecord } from './api.js';

export interface PodWatchOptions {
  readonly node: string;
  /** Called after the set of pods changed (list or watch event); the map is the current set. */
  readonly onChange: (pods: ReadonlyMap<string, PodRecord>) => void;
  readonly onError: (error: Error) => void;
  /** Wait before listing again after a failed list or a watch that ended with an error. */
  readonly retryMs: number;
}

/**
 * The pods bound to this node, kept current by a list and then a watch from the list's
 * resourceVersion (fieldSelector spec.nodeName: the API server filters, nothing is polled). A watch the
 * server ends normally is resumed from the last resourceVersion seen; one that ends with an error (410
 * Gone) starts over with a list.
 */
export class NodePodWatch {
  private readonly pods = new Map<string, PodRecord>();
  private stopWatch: (() => void) | null = null;
  private retry: NodeJS.Timeout | null = null;
  private resourceVersion = '';
  private stopped = false;

  constructor(
    private readonly api: PodApi,
    private readonly options: PodWatchOptions,
  ) {}

  async start(): Promise<void> {
    await this.relist();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.stopWatch?.();
    this.stopWatch = null;
  }

  private async relist(): Promise<void> {
    if (this.stopped) return;
    try {
      const { pods, resourceVersion } = await this.api.listOnNode(this.options.node);
      this.pods.clear();
      for (const record of pods) this.pods.set(key(record), record);
      this.resourceVersion = resourceVersion;
      this.options.onChange(this.pods);
      await this.watch();
    } catch (error) {
      this.options.onError(error instanceof Error ? error : new Error(String(error)));
      this.later(() => this.relist());
    }
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    this.stopWatch = await this.api.watchOnNode(
      this.options.node,
      this.resourceVersion,
      (event) => {
        if (event.pod.resourceVersion) this.resourceVersion = event.pod.resourceVersion;
        if (event.type === 'DELETED') this.pods.delete(key(event.pod));
        else this.pods.set(key(event.pod), event.pod);
        this.options.onChange(this.pods);
      },
      (error) => {
        this.stopWatch = null;
        if (this.stopped) return;
        if (error) {
          this.options.onError(error);
          this.later(() => this.relist());
        } else void this.watch().catch(() => this.later(() => this.relist()));
      },
    );
  }

  private later(run: () => Promise<void>): void {
    if (this.stopped || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void run();
    }, this.options.retryMs);
  }
}

function key(record: PodRecord): string {
  return `${record.pod.metadata.namespace}/${record.pod.metadata.name}`;
}
