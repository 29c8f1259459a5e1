import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  V1MicroTime,
  Watch,
  setHeaderOptions,
  type CoreV1Event,
  type V1ConfigMap,
  type V1Lease,
  type V1Namespace,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import type { NamespaceLike } from '../rules/workloads/namespace-rules.js';
import type { PodLike } from '../rules/workloads/pod-view.js';
import {
  NotFoundError,
  type ClusterApi,
  type EventApi,
  type EventRecord,
  type LeaseApi,
  type LeaseRecord,
  type NodeApi,
  type NodeRecord,
  type ConfigMapApi,
  type ConfigMapRecord,
  type DaemonSetApi,
  type NamespaceApi,
  type PodApi,
  type PodEvent,
  type PodRecord,
} from './api.js';
import { translate } from './client-errors.js';
import { ClientPolicyReports } from './policy-report-client.js';

/**
 * The ClusterApi over @kubernetes/client-node 1.x. This module is imported only by the daemon (through
 * `connectCluster`), so CLI commands never load the client.
 */

/** Where the credentials come from: the pod's service account, or a kubeconfig file. */
export type ClusterCredentials = { readonly kind: 'in-cluster' } | { readonly kind: 'kubeconfig'; readonly path: string };

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
    annotations: lease.metadata?.annotations ?? {},
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
      ...(record.annotations && Object.keys(record.annotations).length > 0 ? { annotations: { ...record.annotations } } : {}),
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
    labels: node.metadata?.labels ?? {},
    ready: node.status?.conditions?.find((condition) => condition.type === 'Ready')?.status ?? null,
    kubeletVersion: node.status?.nodeInfo?.kubeletVersion ?? null,
    internalIPs: (node.status?.addresses ?? []).filter((address) => address.type === 'InternalIP').map((address) => address.address),
    conditions: (node.status?.conditions ?? []).map((condition) => ({ type: condition.type, status: condition.status })),
    taints: (node.spec?.taints ?? []).map((taint) => ({ key: taint.key, value: taint.value ?? null, effect: taint.effect })),
  };
}

/** The API's JSON form of an object (client-node's model classes keep the JSON field names). */
function plain<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function toPodRecord(pod: V1Pod): PodRecord {
  const json = plain<
    PodLike & { metadata: { uid?: string; creationTimestamp?: string }; status?: { conditions?: { type: string; status: string }[] } }
  >(pod);
  return {
    pod: {
      ...json,
      metadata: { ...json.metadata, name: json.metadata.name ?? '', namespace: json.metadata.namespace ?? '' },
      spec: { ...json.spec, containers: json.spec?.containers ?? [] },
    },
    uid: pod.metadata?.uid ?? null,
    resourceVersion: pod.metadata?.resourceVersion ?? null,
    createdMs: ms(pod.metadata?.creationTimestamp),
    ready: pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True') ?? false,
  };
}

function toConfigMapRecord(configMap: V1ConfigMap): ConfigMapRecord {
  return {
    name: configMap.metadata?.name ?? '',
    namespace: configMap.metadata?.namespace ?? '',
    resourceVersion: configMap.metadata?.resourceVersion ?? null,
    annotations: configMap.metadata?.annotations ?? {},
    data: configMap.data ?? {},
    labels: configMap.metadata?.labels ?? {},
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

  async list(): Promise<NodeRecord[]> {
    try {
      return (await this.api.listNode()).items.map(toNodeRecord);
    } catch (error) {
      throw translate(error, 'nodes');
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

class ClientPods implements PodApi {
  constructor(
    private readonly api: CoreV1Api,
    private readonly watcher: Watch,
  ) {}

  async listOnNode(node: string): Promise<{ pods: PodRecord[]; resourceVersion: string }> {
    try {
      const list = await this.api.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
      return { pods: list.items.map(toPodRecord), resourceVersion: list.metadata?.resourceVersion ?? '' };
    } catch (error) {
      throw translate(error, `pods on node ${node}`);
    }
  }

  async watchOnNode(
    node: string,
    resourceVersion: string,
    onEvent: (event: PodEvent) => void,
    onClose: (error: Error | null) => void,
  ): Promise<() => void> {
    const controller = await this.watcher.watch(
      '/api/v1/pods',
      { fieldSelector: `spec.nodeName=${node}`, resourceVersion, allowWatchBookmarks: true },
      (type, object: V1Pod) => {
        if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') onEvent({ type, pod: toPodRecord(object) });
        // A watch ERROR (e.g. 410 Gone: the resourceVersion is too old) ends the watch; the caller lists again.
        if (type === 'ERROR') onClose(new Error(`pod watch error: ${(object as { message?: string }).message ?? 'unknown'}`));
      },
      (error: unknown) => onClose(error ? (error instanceof Error ? error : new Error(String(error))) : null),
    );
    return () => controller.abort();
  }

  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.api.deleteNamespacedPod({ name, namespace });
    } catch (error) {
      throw translate(error, `pod ${namespace}/${name}`);
    }
  }
}

function toNamespace(namespace: V1Namespace): NamespaceLike {
  return { name: namespace.metadata?.name ?? '', labels: namespace.metadata?.labels ?? {} };
}

class ClientNamespaces implements NamespaceApi {
  constructor(private readonly api: CoreV1Api) {}

  async list(): Promise<NamespaceLike[]> {
    try {
      return (await this.api.listNamespace()).items.map(toNamespace);
    } catch (error) {
      throw translate(error, 'namespaces');
    }
  }
}

class ClientConfigMaps implements ConfigMapApi {
  constructor(private readonly api: CoreV1Api) {}

  async get(namespace: string, name: string): Promise<ConfigMapRecord | null> {
    try {
      return toConfigMapRecord(await this.api.readNamespacedConfigMap({ name, namespace }));
    } catch (error) {
      const translated = translate(error, `configmap ${namespace}/${name}`);
      if (translated instanceof NotFoundError) return null;
      throw translated;
    }
  }

  async replace(record: ConfigMapRecord): Promise<ConfigMapRecord> {
    const body: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: record.name,
        namespace: record.namespace,
        annotations: { ...record.annotations },
        ...(record.labels ? { labels: { ...record.labels } } : {}),
        ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
      },
      data: { ...record.data },
    };
    try {
      return toConfigMapRecord(await this.api.replaceNamespacedConfigMap({ name: record.name, namespace: record.namespace, body }));
    } catch (error) {
      throw translate(error, `configmap ${record.namespace}/${record.name}`);
    }
  }

  async patchAnnotations(namespace: string, name: string, annotations: Readonly<Record<string, string | null>>): Promise<void> {
    try {
      await this.api.patchNamespacedConfigMap(
        { name, namespace, body: { metadata: { annotations } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      throw translate(error, `configmap ${namespace}/${name}`);
    }
  }
}

class ClientDaemonSets implements DaemonSetApi {
  constructor(private readonly api: AppsV1Api) {}

  async images(namespace: string, name: string): Promise<string[] | null> {
    try {
      const daemonSet = await this.api.readNamespacedDaemonSet({ name, namespace });
      return (daemonSet.spec?.template.spec?.containers ?? []).map((container) => container.image ?? '');
    } catch (error) {
      const translated = translate(error, `daemonset ${namespace}/${name}`);
      if (translated instanceof NotFoundError) return null;
      throw translated;
    }
  }

  async annotations(namespace: string, name: string): Promise<Record<string, string> | null> {
    try {
      return (await this.api.readNamespacedDaemonSet({ name, namespace })).metadata?.annotations ?? {};
    } catch (error) {
      const translated = translate(error, `daemonset ${namespace}/${name}`);
      if (translated instanceof NotFoundError) return null;
      throw translated;
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
    pods: new ClientPods(core, new Watch(config)),
    namespaces: new ClientNamespaces(core),
    configMaps: new ClientConfigMaps(core),
    daemonSets: new ClientDaemonSets(config.makeApiClient(AppsV1Api)),
    policyReports: new ClientPolicyReports(config.makeApiClient(CustomObjectsApi)),
  };
}

/** Every Lease in a namespace (`kube-harden report`: the restart slots; needs leases list there). */
export async function listLeases(config: KubeConfig, namespace: string): Promise<LeaseRecord[]> {
  try {
    return (await config.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace })).items.map(toLeaseRecord);
  } catch (error) {
    throw translate(error, `leases in ${namespace}`);
  }
}
