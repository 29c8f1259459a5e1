import { isIpPort, parseCidr } from '../../core/cidr.js';
import type { RuleValueSpec } from '../../core/policy.js';

export const KUBE_PROXY_NODEPORTS = 'kube-proxy.nodeport-addresses';
export const KUBE_PROXY_HEALTHZ = 'kube-proxy.healthz-bind-address';

/** Policy values: CIDRs for NodePorts (default: decided per version and node), an IP:port for healthz. */
export const KUBE_PROXY_VALUE_SPECS: readonly RuleValueSpec[] = [
  {
    id: KUBE_PROXY_NODEPORTS,
    value: {
      default: null,
      describe: 'null (decide: primary on kube-proxy >= 1.31, else CIDRs covering every node) or a list of CIDRs, e.g. [10.0.0.0/16]',
      validate: (value) =>
        value === null || (Array.isArray(value) && value.length > 0 && value.every((entry) => typeof entry === 'string' && parseCidr(entry) !== null))
          ? null
          : 'must be null or a non-empty list of CIDRs (a bare IP is not a CIDR)',
    },
  },
  {
    id: KUBE_PROXY_HEALTHZ,
    value: {
      default: null,
      describe: "null (the k8s snap uses each node's IP; the shared kubeadm ConfigMap is left alone) or IP:port, e.g. 127.0.0.1:10256",
      validate: (value) =>
        value === null || (typeof value === 'string' && isIpPort(value))
          ? null
          : 'must be null or IP:port (kube-proxy refuses a CIDR or a bare IP there)',
    },
  },
];
