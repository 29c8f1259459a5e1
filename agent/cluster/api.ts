/**
 * The Kubernetes API as the agent uses it: a handful of calls on Leases, Nodes, Events and more, in plain
 * types. The real implementation (client.ts) wraps @kubernetes/client-node; tests pass the same
 * implementation pointed at a fake API server, or a hand-written fake of this interface.
 */
import type { ClusterPolicyReport } from '../core/policy-report.js';
import type { NamespaceLike } from '../rules/workloads/namespace-rules.js';
import type { PodLike } from '../rules/workloads/pod-view.js';

/** A coordination.k8s.io/v1 Lease, reduced to the fields the agent reads and writes. */
export interface LeaseRecord {
  readonly name: string;
  readonly namespace: string;
  /** Optimistic concurrency: a replace with a stale resourceVersion fails with ConflictError. */
  readonly resourceVersion: string | null;
  readonly holderIdentity: string | null;
  readonly leaseDurationSeconds: number | null;
  readonly acquireTimeMs: number | null;
  readonly renewTimeMs: number | null;
  readonly labels: Readonly<Record<string, string>>;
  /** metadata.annotations (a slot held by a node stuck after a rollback says so here, for the next agent). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The parts of a Node the health gate and the status writer read. */
export interface NodeRecord {
  readonly name: string;
  readonly uid: string | null;
  readonly annotations: Readonly<Record<string, string>>;
  /** metadata.labels (node pools select on them). */
  readonly labels: Readonly<Record<string, string>>;
  /** status.conditions[type=Ready].status: "True", "False", "Unknown", or null when absent. */
  readonly ready: string | null;
  readonly kubeletVersion: string | null;
  /** status.addresses of type InternalIP (v4 and v6). */
  readonly internalIPs: readonly string[];
  /** status.conditions (Ready included), for the disruption blockers. */
  readonly conditions: readonly { readonly type: string; readonly status: string }[];
  /** spec.taints; `value` is null when the taint has none. */
  readonly taints: readonly { readonly key: string; readonly value: string | null; readonly effect: string }[];
}

/** A Pod as the agent sees it: the fields the workload rules read, plus when it was created and whether it is Ready. */
export interface PodRecord {
  readonly pod: PodLike;
  readonly uid: string | null;
  readonly resourceVersion: string | null;
  readonly createdMs: number | null;
  /** status.conditions[type=Ready] is True. */
  readonly ready: boolean;
}

/** A ConfigMap's data and the metadata the agent coordinates with. */
export interface ConfigMapRecord {
  readonly name: string;
  readonly namespace: string;
  readonly resourceVersion: string | null;
  readonly annotations: Readonly<Record<string, string>>;
  readonly data: Readonly<Record<string, string>>;
  /** Carried through a replace unchanged (kubeadm labels kube-proxy's `app: kube-proxy`); a PUT without them drops them. */
  readonly labels?: Readonly<Record<string, string>>;
}

/** A core/v1 Event about an object (the agent reports on its Node). */
export interface EventRecord {
  readonly name: string;
  readonly namespace: string;
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  readonly firstTimestampMs: number;
  readonly lastTimestampMs: number;
  readonly involvedObject: InvolvedObject;
  readonly source: { readonly component: string; readonly host: string };
}

/** What an Event is about: the Node (cluster-scoped) or a Pod or ConfigMap in its namespace. */
export interface InvolvedObject {
  readonly kind: string;
  readonly name: string;
  readonly uid: string | null;
  readonly namespace?: string;
}

/** A write lost an optimistic-concurrency race (HTTP 409), or a create found the object existing. */
export class ConflictError extends Error {
  override readonly name = 'ConflictError';
}

/** The object does not exist (HTTP 404). */
export class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
}

/**
 * The API server does not serve the resource at all (HTTP 404 on the resource, not on an object): a
 * CustomResourceDefinition such as wgpolicyk8s.io's is not installed.
 */
export class ResourceMissingError extends Error {
  override readonly name = 'ResourceMissingError';
}

export interface LeaseApi {
  /** Null when the Lease does not exist. */
  get(namespace: string, name: string): Promise<LeaseRecord | null>;
  /** Throws ConflictError when it already exists. */
  create(lease: LeaseRecord): Promise<LeaseRecord>;
  /** Throws ConflictError when `lease.resourceVersion` is stale. */
  replace(lease: LeaseRecord): Promise<LeaseRecord>;
}

export interface NodeApi {
  get(name: string): Promise<NodeRecord>;
  list(): Promise<NodeRecord[]>;
  /** Merge-patches metadata.annotations (a null value removes the key). */
  patchAnnotations(name: string, annotations: Readonly<Record<string, string | null>>): Promise<void>;
}

export interface EventApi {
  create(event: EventRecord): Promise<void>;
  /** Updates the count and last timestamp of an event created earlier. */
  patchCount(namespace: string, name: string, count: number, lastTimestampMs: number): Promise<void>;
}

/** A change seen by a pod watch. */
export type PodEvent = { readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'; readonly pod: PodRecord };

export interface PodApi {
  /** Pods bound to a node (fieldSelector spec.nodeName), and the list's resourceVersion to watch from. */
  listOnNode(node: string): Promise<{ readonly pods: readonly PodRecord[]; readonly resourceVersion: string }>;
  /**
   * Watches the node's pods from `resourceVersion`. `onClose` runs when the watch ends (the server closes
   * watches every few minutes; a 410 Gone means: list again). Returns a function that stops it.
   */
  watchOnNode(node: string, resourceVersion: string, onEvent: (event: PodEvent) => void, onClose: (error: Error | null) => void): Promise<() => void>;
  delete(namespace: string, name: string): Promise<void>;
}

export interface NamespaceApi {
  /** Every Namespace, with its labels (the workload audit's namespace rules). */
  list(): Promise<NamespaceLike[]>;
}

export interface ConfigMapApi {
  get(namespace: string, name: string): Promise<ConfigMapRecord | null>;
  /** Throws ConflictError when `resourceVersion` is stale. */
  replace(configMap: ConfigMapRecord): Promise<ConfigMapRecord>;
  /** Merge-patches metadata.annotations (a null value removes the key). */
  patchAnnotations(namespace: string, name: string, annotations: Readonly<Record<string, string | null>>): Promise<void>;
}

export interface DaemonSetApi {
  /** The container images of a DaemonSet's pod template; null when it does not exist. */
  images(namespace: string, name: string): Promise<string[] | null>;
  /** A DaemonSet's metadata.annotations (the agent's pause switch); null when it does not exist. */
  annotations(namespace: string, name: string): Promise<Record<string, string> | null>;
}

/** wgpolicyk8s.io/v1alpha2 ClusterPolicyReports. Every call throws ResourceMissingError without the CRD. */
export interface PolicyReportApi {
  /** Null when the report does not exist. */
  get(name: string): Promise<ClusterPolicyReport | null>;
  /** Throws ConflictError when it already exists. */
  create(report: ClusterPolicyReport): Promise<ClusterPolicyReport>;
  /** Throws ConflictError when `report.metadata.resourceVersion` is stale. */
  replace(report: ClusterPolicyReport): Promise<ClusterPolicyReport>;
  /** The reports written by kube-harden (label app.kubernetes.io/managed-by=kube-harden). */
  list(): Promise<ClusterPolicyReport[]>;
}

/** Everything the agent does with the API server. */
export interface ClusterApi {
  readonly leases: LeaseApi;
  readonly nodes: NodeApi;
  readonly events: EventApi;
  readonly pods: PodApi;
  readonly namespaces: NamespaceApi;
  readonly configMaps: ConfigMapApi;
  readonly daemonSets: DaemonSetApi;
  readonly policyReports: PolicyReportApi;
}

/**
 * The reads the leader's cluster settings and the kube-proxy roll make. Their writes go through the
 * enforcement session (agent/session), which checks the mode first: with this type they have no other path.
 */
export interface ClusterReadApi {
  readonly configMaps: Pick<ConfigMapApi, 'get'>;
  readonly nodes: Pick<NodeApi, 'list'>;
  readonly pods: Pick<PodApi, 'listOnNode'>;
  readonly daemonSets: DaemonSetApi;
}
