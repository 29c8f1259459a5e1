import { expect } from 'chai';
import { runCli } from '../../agent/cli/index.js';
import { uncoveredChecks } from '../../agent/rules/cis/catalogue.js';
import { CIS_1_12 } from '../../agent/rules/cis/cis-1.12.js';
import { RULES } from '../../agent/rules/index.js';
import { cleanupTempDirs, copyFixture, testCli } from '../helpers/host.js';

describe('audit output formats', () => {
  after(cleanupTempDirs);

  /** The rules, then each check of the default benchmark (cis-1.12) that no rule judges, as skip. */
  const cases = RULES.length + uncoveredChecks(CIS_1_12).length;
  const ruleSkips = 49;
  const skips = ruleSkips + uncoveredChecks(CIS_1_12).length;

  it('junit: one testcase per rule and per manual or not-built CIS check, failures and errors counted', async () => {
    const root = copyFixture('kubeadm-worker');
    const harness = testCli();
    expect(await runCli(['audit', '--output', 'junit', '--host-root', root], harness.deps)).to.equal(1);
    const xml = harness.stdout();
    const head = `<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="kube-harden" tests="${cases}" failures="10" errors="0" skipped="${skips}">`;
    expect(xml.slice(0, head.length)).to.equal(head);
    expect(xml.match(/<testcase /g)).to.have.length(cases);
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
    expect(table).to.match(new RegExp(`\\nResult: 10 fail, 0 unknown, 9 pass, ${skips} skip\\n$`));
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

  it('json: --benchmark cis-1.12 adds each manual check as skip with its CIS id; an unknown benchmark is a usage error', async () => {
    const root = copyFixture('kubeadm-worker');
    const harness = testCli();
    await runCli(['audit', '--benchmark', 'cis-1.12', '--output', 'json', '--host-root', root], harness.deps);
    const report = JSON.parse(harness.stdout()) as { results: Array<{ id: string; status: string; cis: string[]; message: string }> };
    const hostname = report.results.find((result) => result.cis.includes('4.2.7'))!;
    expect(hostname).to.include({ id: 'cis-1.12.4.2.7', status: 'skip' });
    expect(hostname.message).to.contain('--hostname-override');
    const wrong = testCli();
    expect(await runCli(['audit', '--benchmark', 'cis-0.9', '--host-root', root], wrong.deps)).to.equal(2);
    expect(wrong.err.join('')).to.contain('--benchmark cis-0.9: unknown (known: cis-1.12)');
  });
});
