/** Where kubelet settings live on the node layouts the agent knows (DESIGN §5). */

export const KUBEADM = {
  config: '/var/lib/kubelet/config.yaml',
  extraArgsFiles: ['/etc/default/kubelet', '/etc/sysconfig/kubelet'],
  kubeconfig: '/etc/kubernetes/kubelet.conf',
  unitFiles: ['/etc/systemd/system/kubelet.service', '/usr/lib/systemd/system/kubelet.service', '/lib/systemd/system/kubelet.service'],
  dropInDirs: ['/etc/systemd/system/kubelet.service.d', '/usr/lib/systemd/system/kubelet.service.d', '/lib/systemd/system/kubelet.service.d'],
  binary: '/usr/bin/kubelet',
  service: 'kubelet',
} as const;

export const SNAP = {
  args: '/var/snap/k8s/common/args/kubelet',
  kubeconfig: '/etc/kubernetes/kubelet.conf',
  binary: '/snap/k8s/current/bin/kubelet',
  service: 'snap.k8s.kubelet',
} as const;

/** The flag-file variable kubeadm documents for operator overrides ("highest priority"). */
export const EXTRA_ARGS_VARIABLE = 'KUBELET_EXTRA_ARGS';

/** Oldest kubelet whose settings the agent writes: every field it writes exists and no removed gate is needed. */
export const MIN_REMEDIATION_KUBELET = { major: 1, minor: 23 } as const;

/**
 * Binaries asked for `--version` when no kubelet process is visible, in order: kubeadm/EKS, the k8s
 * snap, k3s (the kubelet runs inside k3s; `k3s --version` names the Kubernetes version it embeds), RKE2.
 */
export const KUBELET_BINARIES: readonly string[] = [KUBEADM.binary, SNAP.binary, '/usr/local/bin/k3s', '/var/lib/rancher/rke2/bin/kubelet'];
