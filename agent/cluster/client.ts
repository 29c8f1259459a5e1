import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  V1MicroTime,
  setHeaderOptions,
  type CoreV1Event,
  type V1Lease,
  type V1Node,
} from '@kubernetes/client-node';
import {
  ConflictError,
  NotFoundError,
  type ClusterApi,
  type EventApi,
  type EventRecord,
  type LeaseApi,
  type LeaseRecord,
  type NodeApi,
  type NodeRecord,
} from './api.js';

/**
 * The ClusterApi over @kubernetes/client-node 1.x. This module is imported only by the daemon (through
 * `connectCluster`), so CLI commands never load the client.
 */

/** Where the credentials come from: the pod's service account, or a kubeconfig file. */
export type ClusterCredentials = { readonly kind: 'in-cluster' } | { readonly kind: 'kubeconfig'; readonly path: string };

/** Translates client-node's ApiException into the seam's errors; anything else keeps its message. */
function translate(error: unknown, what: string): Error {
  if (error instanceof ApiException) {
    if (error.code === 409) return new ConflictError(`${what}: conflict`);
    if (error.code === 404) return new NotFoundError(`${what}: not found`);
    const reason = typeof error.body === 'string' ? (safeJson(error.body)?.message ?? '') : '';
    return new Error(`${what}: HTTP ${error.code}${reason ? `: ${reason}` : ''}`);
  }
  return new Error(`${what}: ${error instanceof Error ? error.message : String(error)}`);
}

function safeJson(text: string): { message?: string } | null {
  try {
    return JSON.parse(text) as { message?: string };
  } catch {
    return null;
  }
}

function ms(date: Date | undefined | null): number | null {
  if (!date) return null;
  const value = new Date(date).getTime();
  return Number.isNaN(value) ? null : value;
}

function toLeaseRecord(lease: V1Lease): LeaseRecord {
  return {
    name: lease.metadata?.name ?? '',
    namespace: lease.metadata?.namespace ?? '',
    resourceVersion: lease.metadata?.resourceVersion ?? null,
    holderIdentity: lease.spec?.holderIdentity || null,
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? null,
    acquireTimeMs: ms(lease.spec?.acquireTime),
    renewTimeMs: ms(lease.spec?.renewTime),
    labels: lease.metadata?.labels ?? {},
  };
}

function toV1Lease(record: LeaseRecord): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: record.name,
      namespace: record.namespace,
      labels: { ...record.labels },
      ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
    },
    spec: {
      // An empty holder is how a released slot looks (the field is optional in the API).
      ...(record.holderIdentity ? { holderIdentity: record.holderIdentity } : {}),
      ...(record.leaseDurationSeconds !== null ? { leaseDurationSeconds: record.leaseDurationSeconds } : {}),
      ...(record.acquireTimeMs !== null ? { acquireTime: new V1MicroTime(record.acquireTimeMs) } : {}),
      ...(record.renewTimeMs !== null ? { renewTime: new V1MicroTime(record.renewTimeMs) } : {}),
    },
  };
}

function toNodeRecord(node: V1Node): NodeRecord {
  return {
    name: node.metadata?.name ?? '',
    uid: node.metadata?.uid ?? null,
    annotations: node.metadata?.annotations ?? {},
    ready: node.status?.conditions?.find((condition) => condition.type === 'Ready')?.status ?? null,
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? null,
  };
}

class ClientLeases implements LeaseApi {
  constructor(private readonly api: CoordinationV1Api) {}

  async get(namespace: string, name: string): Promise<LeaseRecord | null> {
    try {
      return toLeaseRecord(await this.api.readNamespacedLease({ name, namespace }));
    } catch (error) {
      const translated = translate(error, `lease ${namespace}/${name}`);
      if (translated instanceof NotFoundError) return null;
      throw translated;
    }
  }

  async create(lease: LeaseRecord): Promise<LeaseRecord> {
    try {
      return toLeaseRecord(
        await this.api.createNamespacedLease({ namespace: lease.namespace, body: toV1Lease({ ...lease, resourceVersion: null }) }),
      );
    } catch (error) {
      throw translate(error, `lease ${lease.namespace}/${lease.name}`);
    }
  }

  async replace(lease: LeaseRecord): Promise<LeaseRecord> {
    try {
      return toLeaseRecord(await this.api.replaceNamespacedLease({ name: lease.name, namespace: lease.namespace, body: toV1Lease(lease) }));
    } catch (error) {
      throw translate(error, `lease ${lease.namespace}/${lease.name}`);
    }
  }
}

class ClientNodes implements NodeApi {
  constructor(private readonly api: CoreV1Api) {}

  async get(name: string): Promise<NodeRecord> {
    try {
      return toNodeRecord(await this.api.readNode({ name }));
    } catch (error) {
      throw translate(error, `node ${name}`);
    }
  }

  async patchAnnotations(name: string, annotations: Readonly<Record<string, string | null>>): Promise<void> {
    try {
      await this.api.patchNode({ name, body: { metadata: { annotations } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    } catch (error) {
      throw translate(error, `node ${name}`);
    }
  }
}

class ClientEvents implements EventApi {
  constructor(private readonly api: CoreV1Api) {}

  async create(event: EventRecord): Promise<void> {
    const body: CoreV1Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: event.name, namespace: event.namespace },
      type: event.type,
      reason: event.reason,
      message: event.message,
      count: event.count,
      firstTimestamp: new Date(event.firstTimestampMs),
      lastTimestamp: new Date(event.lastTimestampMs),
      involvedObject: {
        kind: event.involvedObject.kind,
        name: event.involvedObject.name,
        ...(event.involvedObject.uid ? { uid: event.involvedObject.uid } : {}),
        ...(event.involvedObject.namespace ? { namespace: event.involvedObject.namespace } : {}),
        apiVersion: 'v1',
      },
      source: event.source,
      reportingComponent: event.source.component,
      reportingInstance: event.source.host,
    };
    try {
      await this.api.createNamespacedEvent({ namespace: event.namespace, body });
    } catch (error) {
      throw translate(error, `event ${event.namespace}/${event.name}`);
    }
  }

  async patchCount(namespace: string, name: string, count: number, lastTimestampMs: number): Promise<void> {
    try {
      await this.api.patchNamespacedEvent(
        { name, namespace, body: { count, lastTimestamp: new Date(lastTimestampMs).toISOString() } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      throw translate(error, `event ${namespace}/${name}`);
    }
  }
}

/** Builds the KubeConfig: the pod's service account, or a kubeconfig file (`--kubeconfig`, tests). */
export function loadKubeConfig(credentials: ClusterCredentials): KubeConfig {
  const config = new KubeConfig();
  if (credentials.kind === 'in-cluster') config.loadFromCluster();
  else config.loadFromFile(credentials.path);
  return config;
}

/** The real ClusterApi. */
export function clusterApi(config: KubeConfig): ClusterApi {
  const core = config.makeApiClient(CoreV1Api);
  return {
    leases: new ClientLeases(config.makeApiClient(CoordinationV1Api)),
    nodes: new ClientNodes(core),
    events: new ClientEvents(core),
  };
}
