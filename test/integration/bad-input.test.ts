import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MAIN } from '../helpers/agent.js';
import { cleanupTempDirs, copyFixture, snapshotTree, tempDir } from '../helpers/host.js';

/** Runs the built CLI as a user would; asserts no stack trace ever reaches the terminal. */
function kubeHarden(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
  expect(`${result.stdout}${result.stderr}`).to.not.match(/^\s+at .+:\d+:\d+\)?$/m);
  return result;
}

describe('bad input: clear errors, nothing written, no stack traces', () => {
  after(cleanupTempDirs);

  it('an unparsable config.yaml: named with its line, left untouched, other rules still run, exit 1', () => {
    const root = copyFixture('kubeadm-worker');
    writeFileSync(path.join(root, 'var/lib/kubelet/config.yaml'), 'kind: KubeletConfiguration\nreadOnlyPort: 0\nreadOnlyPort: 10255\n');
    const before = snapshotTree(root);
    const audit = kubeHarden(['audit', '--output', 'json', '--host-root', root]);
    expect(audit.status).to.equal(1);
    const report = JSON.parse(audit.stdout);
    const readOnly = report.results.find((result: { id: string }) => result.id === 'kubelet.read-only-port');
    expect(readOnly).to.include({ status: 'unknown', source: '/var/lib/kubelet/config.yaml' });
    expect(readOnly.message).to.contain('/var/lib/kubelet/config.yaml:3');
    expect(report.results.find((result: { id: string }) => result.id === 'sysctl.kubelet-kernel-defaults').status).to.equal('fail');

    const apply = kubeHarden(['apply', '--no-restart', '--host-root', root]);
    expect(apply.status).to.equal(1);
    const after = snapshotTree(root);
    expect(after.get('var/lib/kubelet/config.yaml')).to.equal(before.get('var/lib/kubelet/config.yaml'));
    // Kubelet settings are unknown, so no flag is edited (its mode may still be tightened).
    expect(after.get('etc/default/kubelet')!.split(' ')[2]).to.equal(before.get('etc/default/kubelet')!.split(' ')[2]);
    expect(after.get('etc/sysctl.d/90-kube-harden.conf')).to.match(/^file 644/);
  });

  it('an unparsable flag file: named, untouched, exit 1', () => {
    const root = copyFixture('kubeadm-worker');
    writeFileSync(path.join(root, 'etc/default/kubelet'), 'KUBELET_EXTRA_ARGS="--tls-min-version=VersionTLS10\n');
    const before = snapshotTree(root).get('etc/default/kubelet');
    const audit = kubeHarden(['audit', '--host-root', root]);
    expect(audit.status).to.equal(1);
    // The table wraps long messages to the terminal's width: join the continuation lines.
    const text = audit.stdout.replace(/\n +/g, ' ');
    expect(text).to.contain('/etc/default/kubelet:1: unterminated double quote');
    expect(text).to.contain('not changed because they could not be parsed: /etc/default/kubelet');
    kubeHarden(['apply', '--no-restart', '--host-root', root]);
    expect(snapshotTree(root).get('etc/default/kubelet')).to.equal(before);
  });

  it('a directory, a fifo or a symlink out of the host root where config.yaml should be', () => {
    for (const make of [
      (file: string) => mkdirSync(file),
      (file: string) => spawnSync('mkfifo', [file]),
      (file: string) => symlinkSync('/../../../../etc/shadow', file),
    ]) {
      const root = copyFixture('kubeadm-worker');
      const file = path.join(root, 'var/lib/kubelet/config.yaml');
      rmSync(file);
      make(file);
      const audit = kubeHarden(['audit', '--output', 'json', '--host-root', root]);
      expect(audit.status).to.equal(1);
      const finding = JSON.parse(audit.stdout).results.find((result: { id: string }) => result.id === 'kubelet.address');
      expect(finding.status).to.equal('unknown');
      expect(finding.message).to.contain('/var/lib/kubelet/config.yaml');
    }
  });

  it('an invalid policy is refused as a whole with every problem listed, exit 2, nothing written', () => {
    const root = copyFixture('kubeadm-worker');
    const before = snapshotTree(root, []);
    const policy = path.join(tempDir(), 'policy.yaml');
    writeFileSync(
      policy,
      'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nmode: maybe\nrules:\n  kubelet.typo: {}\n  kubelet.pod-pids-limit: { value: -5 }\n',
    );
    const apply = kubeHarden(['apply', '--policy', policy, '--host-root', root]);
    expect(apply.status).to.equal(2);
    expect(apply.stderr).to.contain('invalid policy, nothing was changed');
    expect(apply.stderr).to.contain('mode must be').and.to.contain('kubelet.typo').and.to.contain('kubelet.pod-pids-limit.value');
    expect(snapshotTree(root, [])).to.deep.equal(before);
  });

  it('bad invocations exit 2 with a hint', () => {
    for (const args of [
      ['audit', '--output', 'yaml'],
      ['audit', '--frobnicate'],
      ['nonsense'],
      ['audit', 'extra-arg'],
      ['rollback', '--list', '--to', 'x'],
    ]) {
      const result = kubeHarden([...args, '--host-root', '/']);
      expect(result.status, args.join(' ')).to.equal(2);
      expect(result.stderr, args.join(' ')).to.match(/kube-harden/);
    }
    expect(kubeHarden(['audit', '--host-root', '/does/not/exist']).stderr).to.contain(
      '--host-root /does/not/exist cannot be opened: no such directory',
    );
    expect(kubeHarden(['audit', '--policy', '/nope.yaml']).stderr).to.contain('cannot read policy /nope.yaml: no such file');
    // A version that is not one was dropped before, and the output then asked for --kubelet-version.
    const version = kubeHarden(['plan', '--kubelet-version', 'banana', '--host-root', '/']);
    expect(version.status).to.equal(2);
    expect(version.stderr).to.contain('--kubelet-version banana: not a version (e.g. v1.31.4)');
  });

  it('a policy in audit mode makes apply refuse', () => {
    const root = copyFixture('kubeadm-worker');
    const policy = path.join(tempDir(), 'policy.yaml');
    writeFileSync(policy, 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nmode: audit\n');
    const result = kubeHarden(['apply', '--policy', policy, '--host-root', root]);
    expect(result.status).to.equal(2);
    expect(result.stderr).to.contain('mode is "audit"');
  });

  it('an unreadable sysctl file is unknown, not pass (permission denied needs a non-root reader, so use a directory)', () => {
    const root = copyFixture('kubeadm-worker');
    rmSync(path.join(root, 'etc/sysctl.d/10-network.conf'));
    mkdirSync(path.join(root, 'etc/sysctl.d/10-network.conf'));
    chmodSync(path.join(root, 'etc/sysctl.d'), 0o755);
    const audit = kubeHarden(['audit', '--output', 'json', '--host-root', root]);
    const sysctl = JSON.parse(audit.stdout).results.find((result: { id: string }) => result.id === 'sysctl.kubelet-kernel-defaults');
    expect(sysctl.status).to.equal('unknown');
    expect(sysctl.message).to.contain('/etc/sysctl.d/10-network.conf: is a directory');
  });

  it('every command answers --help with exit 0', () => {
    for (const command of ['audit', 'plan', 'apply', 'rollback', 'run', 'version']) {
      const result = kubeHarden([command, '--help']);
      expect(result.status, command).to.equal(0);
      expect(result.stdout, command).to.match(/Usage: kube-harden/);
    }
    expect(kubeHarden(['--help']).stdout).to.contain('Commands:');
    const bare = kubeHarden([]);
    expect(bare.status).to.equal(2);
    expect(bare.stdout).to.equal('');
    expect(bare.stderr).to.contain('Commands:');
    expect(kubeHarden(['version']).stdout).to.match(/^kube-harden \d+\.\d+\.\d+/);
  });
});
