import { expect } from 'chai';
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import type { Finding } from '../../agent/core/finding.js';
import { cleanupTempDirs, copyFixture, testCli } from '../helpers/host.js';

function exists(file: string): boolean {
  try {
    lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

// The whole-node fixtures (the cni-* ones are only /etc/cni and /opt/cni, with no /proc or /sys).
const NODES = ['kubeadm-worker', 'kubeadm-control-plane', 'k8s-snap-node', 'k8s-snap-control-plane'];

describe('audit: every source path exists on the node it names', () => {
  after(cleanupTempDirs);

  for (const fixture of NODES)
    it(`${fixture}: each result's source is a path in the host tree, or null`, async () => {
      const root = copyFixture(fixture);
      const harness = testCli({ env: { NODE_NAME: 'n1', NODE_IP: '10.0.12.7' } });
      await runCli(['audit', '--output', 'json', '--host-root', root], harness.deps);
      const results = (JSON.parse(harness.stdout()) as { results: Finding[] }).results;
      const missing = results.filter((result) => result.source?.startsWith('/') && !exists(path.join(root, result.source)));
      expect(missing.map((result) => `${result.id}: ${result.source}`)).to.deep.equal([]);
    });

  it('kubeadm worker: the kube-proxy rows name no snap args file (kube-proxy reads the ConfigMap there)', async () => {
    const root = copyFixture('kubeadm-worker');
    const harness = testCli({ env: { NODE_NAME: 'n1' } });
    await runCli(['audit', '--output', 'json', '--host-root', root], harness.deps);
    const proxy = (JSON.parse(harness.stdout()) as { results: Finding[] }).results.filter((result) => result.id.startsWith('kube-proxy.'));
    expect(proxy.map((result) => [result.id, result.status, result.source])).to.deep.equal([
      ['kube-proxy.nodeport-addresses', 'skip', null],
      ['kube-proxy.healthz-bind-address', 'skip', null],
      ['kube-proxy.metrics-bind-address', 'skip', null],
      ['kube-proxy.kubeconfig-permissions', 'skip', null],
    ]);
  });
});
