import type { Observation, Targets } from '../../core/observation.js';

/**
 * Which Kubernetes distribution runs this node, judged from marker files each project documents (pure;
 * host/observe.ts reads the markers as targets). The order matters: an owner that manages the whole
 * node (OpenShift's Machine Config Operator, Talos) is named before any kubelet layout it also has.
 */
export type DistributionId =
  'kubeadm' | 'k8s-snap' | 'k3s' | 'rke2' | 'eks-al2' | 'eks-al2023' | 'gke' | 'talos' | 'openshift' | 'microk8s' | 'unknown';

/** The detected distribution, the node's role in it when the markers say, and the file that told. */
export interface Distribution {
  readonly id: DistributionId;
  /** k3s/RKE2: `server` runs the control plane in the same service; `agent` only the kubelet. */
  readonly role: 'server' | 'agent' | null;
  /** The marker that decided (a host path), or null for `unknown`. */
  readonly evidence: string | null;
}

/** Marker files, from each project's documentation (paths in docs/rules.md "Platforms"). */
export const MARKERS = {
  osRelease: '/etc/os-release',
  // OpenShift: the Machine Config Daemon records the MachineConfig it applied here.
  openshiftMcd: '/etc/machine-config-daemon/currentconfig',
  // GKE node images start the kubelet with --config /home/kubernetes/kubelet-config.yaml.
  gkeKubeletConfig: '/home/kubernetes/kubelet-config.yaml',
  // MicroK8s reads every service's arguments from $SNAP_DATA/args.
  microk8sKubeletArgs: '/var/snap/microk8s/current/args/kubelet',
  // k3s install.sh: /etc/systemd/system/k3s.service (server) or k3s-agent.service (agent).
  k3sServerUnit: '/etc/systemd/system/k3s.service',
  k3sAgentUnit: '/etc/systemd/system/k3s-agent.service',
  k3sConfig: '/etc/rancher/k3s/config.yaml',
  // RKE2 ships both units (tarball: /usr/local/lib/systemd/system, RPM: /usr/lib/systemd/system); the
  // enabled one is linked from multi-user.target.wants by `systemctl enable`.
  rke2ServerEnabled: '/etc/systemd/system/multi-user.target.wants/rke2-server.service',
  rke2AgentEnabled: '/etc/systemd/system/multi-user.target.wants/rke2-agent.service',
  rke2Config: '/etc/rancher/rke2/config.yaml',
  // EKS AL2023: nodeadm writes the kubelet's flags to this EnvironmentFile at every boot.
  eksNodeadmEnvironment: '/etc/eks/kubelet/environment',
  // EKS AL2: bootstrap.sh and its JSON kubelet config.
  eksBootstrap: '/etc/eks/bootstrap.sh',
  eksAl2KubeletConfig: '/etc/kubernetes/kubelet/kubelet-config.json',
  snapKubeletArgs: '/var/snap/k8s/common/args/kubelet',
  kubeadmFlags: '/var/lib/kubelet/kubeadm-flags.env',
  kubeadmConfig: '/var/lib/kubelet/config.yaml',
} as const;

/** Everything detection reads; its files are small and read whole. */
export function distributionTargets(): Targets {
  return { files: Object.values(MARKERS) };
}

function exists(obs: Pick<Observation, 'files'>, path: string): boolean {
  return obs.files.get(path)?.kind === 'file';
}

/** `ID=` of /etc/os-release, unquoted and lower-case, or null. */
export function osReleaseId(obs: Pick<Observation, 'files'>): string | null {
  const state = obs.files.get(MARKERS.osRelease);
  if (state?.kind !== 'file') return null;
  const match = /^ID=("?)([^"\n]*)\1\s*$/m.exec(state.content);
  return match?.[2]?.toLowerCase() ?? null;
}

/** Decides the distribution from the observed markers (first match wins, see the order above). */
export function detectDistribution(obs: Pick<Observation, 'files'>): Distribution {
  const found = (id: DistributionId, evidence: string, role: Distribution['role'] = null): Distribution => ({ id, role, evidence });
  const os = osReleaseId(obs);
  if (exists(obs, MARKERS.openshiftMcd)) return found('openshift', MARKERS.openshiftMcd);
  if (os === 'rhcos') return found('openshift', MARKERS.osRelease);
  if (os === 'talos') return found('talos', MARKERS.osRelease);
  if (exists(obs, MARKERS.gkeKubeletConfig)) return found('gke', MARKERS.gkeKubeletConfig);
  if (os === 'cos') return found('gke', MARKERS.osRelease);
  if (exists(obs, MARKERS.microk8sKubeletArgs)) return found('microk8s', MARKERS.microk8sKubeletArgs);
  if (exists(obs, MARKERS.k3sServerUnit)) return found('k3s', MARKERS.k3sServerUnit, 'server');
  if (exists(obs, MARKERS.k3sAgentUnit)) return found('k3s', MARKERS.k3sAgentUnit, 'agent');
  if (exists(obs, MARKERS.rke2ServerEnabled)) return found('rke2', MARKERS.rke2ServerEnabled, 'server');
  if (exists(obs, MARKERS.rke2AgentEnabled)) return found('rke2', MARKERS.rke2AgentEnabled, 'agent');
  if (exists(obs, MARKERS.k3sConfig)) return found('k3s', MARKERS.k3sConfig);
  if (exists(obs, MARKERS.rke2Config)) return found('rke2', MARKERS.rke2Config);
  if (exists(obs, MARKERS.eksNodeadmEnvironment)) return found('eks-al2023', MARKERS.eksNodeadmEnvironment);
  if (exists(obs, MARKERS.eksBootstrap)) return found('eks-al2', MARKERS.eksBootstrap);
  if (exists(obs, MARKERS.eksAl2KubeletConfig)) return found('eks-al2', MARKERS.eksAl2KubeletConfig);
  if (exists(obs, MARKERS.snapKubeletArgs)) return found('k8s-snap', MARKERS.snapKubeletArgs);
  if (exists(obs, MARKERS.kubeadmFlags)) return found('kubeadm', MARKERS.kubeadmFlags);
  if (exists(obs, MARKERS.kubeadmConfig)) return found('kubeadm', MARKERS.kubeadmConfig);
  return { id: 'unknown', role: null, evidence: null };
}

/** The label used in the audit header, the JSON `node.distribution` and metrics. */
export function distributionLabel(distribution: Distribution): string {
  return distribution.role ? `${distribution.id}-${distribution.role}` : distribution.id;
}
