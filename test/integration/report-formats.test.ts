import { expect } from 'chai';
import { runCli } from '../../agent/cli/index.js';
import { cleanupTempDirs, copyFixture, testCli } from '../helpers/host.js';

describe('audit output formats', () => {
  after(cleanupTempDirs);

  it('junit: one testcase per rule, failures and errors counted', async () => {
    const root = copyFixture('kubeadm-worker');
    const harness = testCli();
    expect(await runCli(['audit', '--output', 'junit', '--host-root', root], harness.deps)).to.equal(1);
    const xml = harness.stdout();
    expect(xml).to.match(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuite name="kube-harden" tests="38" failures="10" errors="0" skipped="23">/,
    );
    expect(xml.match(/<testcase /g)).to.have.length(38);
    expect(xml).to.contain(
      '<testcase classname="kube-harden.kubelet" name="kubelet.tls-min-version"><failure message="Kubelet requires a modern TLS version">',
    );
    expect(xml).to.contain('source /etc/default/kubelet');
  });

  it('table: the node line, one row per rule that applies, the deciding file under failures, the counts', async () => {
    const root = copyFixture('kubeadm-worker');
    const harness = testCli({ env: { NODE_NAME: 'worker-7' } });
    await runCli(['audit', '--host-root', root], harness.deps);
    const table = harness.stdout();
    expect(table).to.match(/^Node worker-7: kubeadm worker, kubelet v1.31.4, node IP 10.0.12.7\nKernel 6.1.0-28-cloud-amd64, /);
    expect(table).to.match(/\nFAIL +kubelet.read-only-port +10255 +0\n +source: +\/etc\/default\/kubelet\n/);
    expect(table).to.match(/\nResult: 10 fail, 0 unknown, 5 pass, 23 skip\n$/);
  });

  it('a k8s snap control plane is reported as one (its API server runs from an args file, not a manifest)', async () => {
    const root = copyFixture('k8s-snap-control-plane');
    const json = testCli({ env: { NODE_NAME: 'cp-snap' } });
    await runCli(['audit', '--output', 'json', '--host-root', root], json.deps);
    expect((JSON.parse(json.stdout()) as { node: { roles: string[] } }).node.roles).to.deep.equal(['control-plane', 'node']);
    const table = testCli({ env: { NODE_NAME: 'cp-snap' } });
    await runCli(['audit', '--host-root', root], table.deps);
    expect(table.stdout()).to.match(/^Node cp-snap: k8s-snap control plane, kubelet v1.32.2, /);
  });
});
