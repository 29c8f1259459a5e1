import { expect } from 'chai';
import { serviceHealthUrls } from '../../../agent/host/health-urls.js';

/**
 * rules.md: each static pod is gated on its own endpoint (kube-apiserver's /livez on 6443, the
 * controller manager's and scheduler's /healthz on 10257 and 10259, over HTTPS with their own
 * certificates; etcd's /health on its metrics URL, plain HTTP). A wrong port or scheme would fail every
 * manifest change on a real control plane, and roll it back.
 */
describe('health endpoints: where each restarted service proves itself healthy', () => {
  it('static pods and their k8s snap services: the component’s own endpoint', () => {
    const expected: Record<string, string> = {
      'kube-apiserver': 'https://127.0.0.1:6443/livez',
      'kube-controller-manager': 'https://127.0.0.1:10257/healthz',
      'kube-scheduler': 'https://127.0.0.1:10259/healthz',
      etcd: 'http://127.0.0.1:2381/health',
    };
    for (const [name, url] of Object.entries(expected)) {
      expect(serviceHealthUrls(`static-pod/${name}`, '10.0.0.5', undefined), name).to.deep.equal([url]);
      if (name !== 'etcd') expect(serviceHealthUrls(`snap.k8s.${name}`, null, undefined), name).to.deep.equal([url]);
    }
  });

  it('the kubelet: its healthz, or KUBE_HARDEN_KUBELET_HEALTHZ', () => {
    expect(serviceHealthUrls('kubelet', '10.0.0.5', undefined)).to.deep.equal(['http://127.0.0.1:10248/healthz']);
    expect(serviceHealthUrls('snap.k8s.kubelet', null, 'http://127.0.0.1:9999/healthz')).to.deep.equal(['http://127.0.0.1:9999/healthz']);
  });

  it('the snap kube-proxy: loopback, and the node IP once its healthz moved there (IPv6 in brackets)', () => {
    expect(serviceHealthUrls('snap.k8s.kube-proxy', null, undefined)).to.deep.equal(['http://127.0.0.1:10256/healthz']);
    expect(serviceHealthUrls('snap.k8s.kube-proxy', 'fd00::5', undefined)).to.deep.equal([
      'http://127.0.0.1:10256/healthz',
      'http://[fd00::5]:10256/healthz',
    ]);
  });
});
