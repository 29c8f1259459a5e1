import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ApiObject, FakeApiServer } from '../fakes/fake-api-server.js';
import { REPO } from './host.js';

export const PROXY_CONF = readFileSync(path.join(REPO, 'test/fixtures/cluster/kube-proxy-config.conf'), 'utf8');
export const KUBELET_CONF = readFileSync(path.join(REPO, 'test/fixtures/cluster/kubelet-config.yaml'), 'utf8');
/** kubeadm's ClusterConfiguration as `kubeadm init` stores it (v1beta3), for `version`. */
export function kubeadmClusterConfiguration(version: string): string {
  return readFileSync(path.join(REPO, 'test/fixtures/cluster/kubeadm-config.yaml'), 'utf8').replace('KUBERNETES_VERSION', version);
}
const HOUR = 3_600_000;

/** A kube-system with kubeadm's kube-proxy (ConfigMap, DaemonSet, one Ready pod per node), kubelet-config and kubeadm-config. */
export function kubeSystem(server: FakeApiServer, version: string, nodes: readonly string[]): void {
  server.put('configmaps', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kube-proxy', namespace: 'kube-system', annotations: {} },
    data: { 'config.conf': PROXY_CONF },
  });
  server.put('configmaps', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kubelet-config', namespace: 'kube-system' },
    data: { kubelet: KUBELET_CONF },
  });
  server.put('configmaps', {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
    data: { ClusterConfiguration: kubeadmClusterConfiguration(version) },
  });
  server.put('daemonsets', {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-proxy', namespace: 'kube-system' },
    spec: { template: { spec: { containers: [{ name: 'kube-proxy', image: `registry.k8s.io/kube-proxy:${version}` }] } } },
  });
  for (const node of nodes) server.putPod(kubeProxyPod(node, 0, new Date(Date.now() - HOUR).toISOString(), true));
}

export function kubeProxyPod(node: string, generation: number, created: string, ready: boolean): ApiObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `kube-proxy-${node}-${generation}`, namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' }, creationTimestamp: created },
    spec: { nodeName: node, hostNetwork: true, containers: [{ name: 'kube-proxy', image: 'kube-proxy' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  };
}
