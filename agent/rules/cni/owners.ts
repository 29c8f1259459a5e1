import type { CniConfig } from '../../formats/cni-conflist.js';

/** Who writes a CNI config file, and what that means for patching it (KUBERNETES-FACTS.md §10, §12). */
export interface CniOwner {
  readonly name: string;
  /** False: the owner overwrites any edit at once or does bandwidth its own way; report, do not patch. */
  readonly patchable: boolean;
  /** Where the change belongs so it survives the owner rewriting the file. */
  readonly durableFix: string;
}

function types(config: CniConfig): Set<string> {
  return new Set(config.plugins.map((plugin) => String(plugin.type)));
}

/** The owner of a network config, from its plugin types and file name; null for a hand-written one. */
export function detectOwner(file: string, config: CniConfig): CniOwner | null {
  const name = file.slice(file.lastIndexOf('/') + 1);
  const kinds = types(config);
  if (kinds.has('cilium-cni') || /cilium/.test(name))
    return {
      name: 'Cilium',
      patchable: false,
      durableFix:
        'Cilium rewrites this file (exclusive mode) and shapes traffic with its own bandwidth manager instead of the CNI plugin: enable it with bandwidthManager.enabled=true (Helm) or --enable-bandwidth-manager',
    };
  if (kinds.has('aws-cni') || name === '10-aws.conflist')
    return {
      name: 'AWS VPC CNI',
      patchable: false,
      durableFix: 'aws-node writes this file: set ENABLE_BANDWIDTH_PLUGIN=true on the aws-node DaemonSet',
    };
  if (kinds.has('multus') || kinds.has('multus-shim'))
    return {
      name: 'Multus',
      patchable: true,
      durableFix: "Multus delegates to the cluster network's own config; the bandwidth plugin belongs in that delegate",
    };
  if (/canal/.test(name) || (kinds.has('calico') && kinds.has('flannel')))
    return {
      name: 'Canal',
      patchable: true,
      durableFix: 'Canal rewrites this file when its pods restart: the durable fix is cni_network_config in the canal-config ConfigMap',
    };
  if (kinds.has('calico'))
    return {
      name: 'Calico',
      patchable: true,
      durableFix:
        'calico-node (install-cni) rewrites this file when its pods restart: the durable fix is cni_network_config in the calico-config ConfigMap, or the tigera-operator Installation',
    };
  if (kinds.has('flannel'))
    return {
      name: 'Flannel',
      patchable: true,
      durableFix: 'kube-flannel rewrites this file when its pods restart: the durable fix is cni-conf.json in the kube-flannel-cfg ConfigMap',
    };
  return null;
}
