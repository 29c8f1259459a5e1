import type { HealthCheck } from '../host/health.js';
import type { LeaseApi, NodeApi } from './api.js';

/** Where kubelets renew their node Lease (one Lease per node, named after it). */
export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

/**
 * The cluster's view of a kubelet restarted at `sinceMs`: the node's Lease renewed after the restart
 * (the kubelet renews it every 10 s by default, so this proves the new kubelet reaches the API server
 * with its credentials) and the Node's Ready condition True. Both timestamps come from the same node's
 * clock (the kubelet writes renewTime), so no clock skew enters the comparison.
 */
export function nodeHealthCheck(nodes: NodeApi, leases: LeaseApi, nodeName: string, sinceMs: number): HealthCheck {
  return {
    describe: `the node Lease ${NODE_LEASE_NAMESPACE}/${nodeName} renewed after the restart and the Node Ready`,
    async check() {
      const lease = await leases.get(NODE_LEASE_NAMESPACE, nodeName);
      if (!lease?.renewTimeMs) return `the node Lease ${NODE_LEASE_NAMESPACE}/${nodeName} was not found or never renewed`;
      if (lease.renewTimeMs < sinceMs) return `the node Lease was not renewed since the restart`;
      const node = await nodes.get(nodeName);
      if (node.ready !== 'True') return `the Node's Ready condition is ${node.ready ?? 'missing'}`;
      return null;
    },
  };
}
