import { COMPONENTS, staticPodService } from '../rules/control-plane/components.js';
import { SNAP_KUBE_PROXY } from '../rules/kube-proxy/snap.js';
import { KUBELET_HEALTHZ_URL } from './health.js';

/**
 * Where each restarted service proves itself healthy: the kubelet's healthz (`kubeletHealthz`, from
 * KUBE_HARDEN_KUBELET_HEALTHZ, else the kubelet's default), a static pod's or snap service's own
 * endpoint, the snap kube-proxy's healthz (on loopback by default, on the node IP once
 * kube-proxy.healthz-bind-address is applied: either answering proves it up).
 */
export function serviceHealthUrls(service: string, nodeIp: string | null, kubeletHealthz: string | undefined): string[] {
  if (service === SNAP_KUBE_PROXY.service) {
    const host = nodeIp ? (nodeIp.includes(':') ? `[${nodeIp}]` : nodeIp) : null;
    return ['http://127.0.0.1:10256/healthz', ...(host ? [`http://${host}:10256/healthz`] : [])];
  }
  const component = Object.values(COMPONENTS).find((candidate) => service === staticPodService(candidate) || service === candidate.snapService);
  return [component?.healthUrl ?? kubeletHealthz ?? KUBELET_HEALTHZ_URL];
}
