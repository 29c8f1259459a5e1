import { ConflictError, ResourceMissingError, type ClusterApi } from './api.js';

/**
 * What the agent asks the API server for, as short static names (the `operation` label of
 * kube_harden_api_errors_total): `<resource>.<verb>`. Never error text, never object names.
 */
export type ApiOperation =
  | 'leases.get'
  | 'leases.create'
  | 'leases.replace'
  | 'nodes.get'
  | 'nodes.list'
  | 'nodes.patch'
  | 'events.create'
  | 'events.patch'
  | 'pods.list'
  | 'pods.watch'
  | 'pods.delete'
  | 'namespaces.list'
  | 'configmaps.get'
  | 'configmaps.replace'
  | 'configmaps.patch'
  | 'daemonsets.get'
  | 'clusterpolicyreports.get'
  | 'clusterpolicyreports.create'
  | 'clusterpolicyreports.replace'
  | 'clusterpolicyreports.list';

/** Told about every failed API call (a lost optimistic-concurrency race is not a failure). */
export type ApiErrorSink = (operation: ApiOperation, error: Error) => void;

function counted<A extends unknown[], R>(
  operation: ApiOperation,
  call: (...args: A) => Promise<R>,
  sink: ApiErrorSink,
  expected: (error: unknown) => boolean = () => false,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await call(...args);
    } catch (error) {
      if (!(error instanceof ConflictError) && !expected(error)) sink(operation, error instanceof Error ? error : new Error(String(error)));
      throw error;
    }
  };
}

/** A missing PolicyReport CRD is a state of the cluster (its own metric), not a failed call. */
const crdMissing = (error: unknown) => error instanceof ResourceMissingError;

/**
 * The same ClusterApi, reporting each failed call to `sink` by operation before the caller handles it.
 * API servers differ in ways the agent cannot control (an Event refused by validation or a rate
 * limit, an API group switched off, a watch ended with an error): the callers already carry on
 * without the call; this makes every such failure visible as a metric.
 */
export function countedClusterApi(api: ClusterApi, sink: ApiErrorSink): ClusterApi {
  const { leases, nodes, events, pods, namespaces, configMaps, daemonSets, policyReports } = api;
  return {
    leases: {
      get: counted('leases.get', leases.get.bind(leases), sink),
      create: counted('leases.create', leases.create.bind(leases), sink),
      replace: counted('leases.replace', leases.replace.bind(leases), sink),
    },
    nodes: {
      get: counted('nodes.get', nodes.get.bind(nodes), sink),
      list: counted('nodes.list', nodes.list.bind(nodes), sink),
      patchAnnotations: counted('nodes.patch', nodes.patchAnnotations.bind(nodes), sink),
    },
    events: {
      create: counted('events.create', events.create.bind(events), sink),
      patchCount: counted('events.patch', events.patchCount.bind(events), sink),
    },
    pods: {
      listOnNode: counted('pods.list', pods.listOnNode.bind(pods), sink),
      watchOnNode: counted(
        'pods.watch',
        (node, resourceVersion, onEvent, onClose) =>
          pods.watchOnNode(node, resourceVersion, onEvent, (error) => {
            // A watch the server ends normally (it does every few minutes) is resumed; one that ends with an error counts.
            if (error) sink('pods.watch', error);
            onClose(error);
          }),
        sink,
      ),
      delete: counted('pods.delete', pods.delete.bind(pods), sink),
    },
    namespaces: {
      list: counted('namespaces.list', namespaces.list.bind(namespaces), sink),
    },
    configMaps: {
      get: counted('configmaps.get', configMaps.get.bind(configMaps), sink),
      replace: counted('configmaps.replace', configMaps.replace.bind(configMaps), sink),
      patchAnnotations: counted('configmaps.patch', configMaps.patchAnnotations.bind(configMaps), sink),
    },
    daemonSets: {
      images: counted('daemonsets.get', daemonSets.images.bind(daemonSets), sink),
      annotations: counted('daemonsets.get', daemonSets.annotations.bind(daemonSets), sink),
    },
    policyReports: {
      get: counted('clusterpolicyreports.get', policyReports.get.bind(policyReports), sink, crdMissing),
      create: counted('clusterpolicyreports.create', policyReports.create.bind(policyReports), sink, crdMissing),
      replace: counted('clusterpolicyreports.replace', policyReports.replace.bind(policyReports), sink, crdMissing),
      list: counted('clusterpolicyreports.list', policyReports.list.bind(policyReports), sink, crdMissing),
    },
  };
}
