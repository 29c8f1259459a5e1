import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import { cleanupTempDirs, copyFixture, testCli } from '../helpers/host.js';
import { writePolicyFile } from '../helpers/policy.js';

type Result = { id: string; status: string; actual: string };

async function cli(args: string[], root: string): Promise<string> {
  const harness = testCli();
  await runCli([...args, '--host-root', root], harness.deps);
  return harness.stdout();
}

/** rules.md's fix paths for two kubelet rules that no fixture exercised. */
describe('kubelet rules: the opt-in seccomp default and the certificate rotation gate', () => {
  after(cleanupTempDirs);

  it('kubelet.seccomp-default: written when the policy opts in on 1.27+, held back on 1.26 (the field needed a feature gate)', async () => {
    const policy = writePolicyFile(['rules:', '  kubelet.seccomp-default: { value: true }']);
    const modern = copyFixture('kubeadm-worker');
    await cli(['apply', '--no-restart', '--policy', policy, '--kubelet-version', 'v1.31.4'], modern);
    expect(readFileSync(path.join(modern, 'var/lib/kubelet/config.yaml'), 'utf8')).to.match(/^seccompDefault: true$/m);
    const old = copyFixture('kubeadm-worker');
    const applied = JSON.parse(await cli(['apply', '--no-restart', '--output', 'json', '--policy', policy, '--kubelet-version', 'v1.26.5'], old)) as {
      blocked: { id: string; reason: string }[];
    };
    expect(applied.blocked.find((blocked) => blocked.id === 'kubelet.seccomp-default')?.reason).to.contain('older than 1.27');
    expect(readFileSync(path.join(old, 'var/lib/kubelet/config.yaml'), 'utf8')).to.not.contain('seccompDefault');
    // Without the opt-in it is skip, saying how to opt in, and nothing is written.
    const results = JSON.parse(await cli(['audit', '--output', 'json'], copyFixture('kubeadm-worker'))) as { results: Result[] };
    expect(results.results.find((result) => result.id === 'kubelet.seccomp-default')!.status).to.equal('skip');
  });

  it('kubelet.rotate-server-certificate-gate: a gate set to false fails, and apply removes it (the default is on)', async () => {
    const root = copyFixture('kubeadm-worker');
    const config = path.join(root, 'var/lib/kubelet/config.yaml');
    writeFileSync(config, `${readFileSync(config, 'utf8')}featureGates:\n  RotateKubeletServerCertificate: false\n`);
    const before = (JSON.parse(await cli(['audit', '--output', 'json'], root)) as { results: Result[] }).results;
    expect(before.find((result) => result.id === 'kubelet.rotate-server-certificate-gate')).to.include({
      status: 'fail',
      actual: 'featureGates.RotateKubeletServerCertificate: false in /var/lib/kubelet/config.yaml',
    });
    await cli(['apply', '--no-restart'], root);
    expect(readFileSync(config, 'utf8')).to.not.contain('RotateKubeletServerCertificate');
    const after = (JSON.parse(await cli(['audit', '--output', 'json'], root)) as { results: Result[] }).results;
    expect(after.find((result) => result.id === 'kubelet.rotate-server-certificate-gate')!.status).to.equal('pass');
  });
});
