import type { Observation } from '../../core/observation.js';
import { detectDistribution, type Distribution } from './distribution.js';

/**
 * Another system that owns this node's configuration: writing under it would be reverted (the Machine
 * Config Daemon marks the node degraded, Talos and GKE rebuild from their own source) or is not how the
 * platform is configured. The agent then audits what it can read and refuses every write with one line.
 */
export interface NodeOwner {
  readonly owner: string;
  /** What to use instead, for the one-line refusal. */
  readonly instead: string;
}

const OWNERS: Partial<Record<Distribution['id'], NodeOwner>> = {
  openshift: {
    owner: "OpenShift's Machine Config Operator",
    instead: 'a MachineConfig or KubeletConfig for the node pool (the Machine Config Daemon reverts host edits and marks the node degraded)',
  },
  talos: { owner: 'Talos', instead: 'a Talos machine config patch (talosctl patch machineconfig); the host filesystem is read-only' },
  gke: {
    owner: 'GKE',
    instead: "the node pool's settings (node system configuration, or a new node pool); GKE recreates nodes from its own template",
  },
  microk8s: {
    owner: 'MicroK8s',
    instead: 'the MicroK8s args files under /var/snap/microk8s/current/args (kube-harden does not support MicroK8s yet)',
  },
};

/** Who owns the node's configuration when it is not kube-harden's to change; null when the agent may write. */
export function nodeOwner(distribution: Distribution): NodeOwner | null {
  return OWNERS[distribution.id] ?? null;
}

/** The one line every refused write carries. */
export function ownerRefusal(owner: NodeOwner, evidence: string | null): string {
  return `${owner.owner} owns this node's configuration${evidence ? ` (${evidence})` : ''}: kube-harden changes nothing here; use ${owner.instead}`;
}

/** The refusal for this observation's node, or null when kube-harden may write (used by the planner). */
export function writeRefusal(obs: Pick<Observation, 'files'>): string | null {
  const distribution = detectDistribution(obs);
  const owner = nodeOwner(distribution);
  return owner ? ownerRefusal(owner, distribution.evidence) : null;
}
