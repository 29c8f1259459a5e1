import { expect } from 'chai';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { uncoveredChecks } from '../../agent/rules/cis/catalogue.js';
import { DEFAULT_BENCHMARK } from '../../agent/rules/cis/index.js';
import { runCli } from '../../agent/cli/index.js';
import { cleanupTempDirs, copyFixture, read, snapshotTree, testCli } from '../helpers/host.js';
import { writePolicyFile } from '../helpers/policy.js';

async function cli(args: string[], root: string, options: Parameters<typeof testCli>[0] = {}) {
  const harness = testCli(options);
  const code = await runCli([...args, '--host-root', root], harness.deps);
  return { code, out: harness.stdout(), err: harness.err.join(''), harness };
}

/** The default benchmark's checks no rule judges: the audit lists each as skip. */
const CATALOGUE_SKIPS = uncoveredChecks(DEFAULT_BENCHMARK).length;

async function auditJson(root: string) {
  const { code, out } = await cli(['audit', '--output', 'json'], root);
  return {
    code,
    report: JSON.parse(out) as { node: Record<string, unknown>; results: Array<Record<string, unknown>>; summary: Record<string, number> },
  };
}

describe('kubeadm worker: audit → plan → apply → audit → rollback', () => {
  after(cleanupTempDirs);

  it('audit exits 1 and names each failing kubelet rule with the file that decides it', async () => {
    const root = copyFixture('kubeadm-worker');
    const { code, report } = await auditJson(root);
    expect(code).to.equal(1);
    const byId = new Map(report.results.map((result) => [result.id, result]));
    expect(byId.get('kubelet.tls-min-version')).to.include({ status: 'fail', source: '/etc/default/kubelet', actual: 'VersionTLS10' });
    expect(byId.get('kubelet.read-only-port')).to.include({ status: 'fail', source: '/etc/default/kubelet' });
    expect(byId.get('kubelet.tls-cipher-suites')).to.include({ status: 'fail', source: '/var/lib/kubelet/config.yaml' });
    expect(byId.get('kubelet.streaming-connection-idle-timeout')).to.include({ status: 'fail', actual: '4h' });
    expect(byId.get('kubelet.tls-cipher-suites')!.cis).to.deep.equal(['4.2.12']);
    expect(report.node).to.include({ distribution: 'kubeadm', kubeletVersion: 'v1.31.4', nodeIp: '10.0.12.7', kernel: '6.1.0-28-cloud-amd64' });
    expect(report.summary.fail).to.be.greaterThan(5);
  });

  it('plan changes nothing on the node', async () => {
    const root = copyFixture('kubeadm-worker');
    const before = snapshotTree(root, []);
    const { code, out } = await cli(['plan'], root);
    expect(code).to.equal(1);
    expect(out).to.contain('+++ b/var/lib/kubelet/config.yaml');
    expect(snapshotTree(root, [])).to.deep.equal(before);
  });

  it('apply --no-restart hardens the effective settings, keeps what it does not own, and a second plan is empty', async () => {
    const root = copyFixture('kubeadm-worker');
    const config = read(root, 'var/lib/kubelet/config.yaml');
    const apply = await cli(['apply', '--no-restart', '--output', 'json'], root);
    expect(apply.code, apply.err).to.equal(0);
    const result = JSON.parse(apply.out);
    expect(result.restarts).to.have.length(1);
    expect(result.restarts[0]).to.include({ service: 'kubelet', reason: 'the kubelet reads its configuration only at start', result: 'pending' });
    expect(result.restarts[0].rules).to.include('kubelet.tls-min-version');
    expect(apply.harness.services.restarts).to.deep.equal([]);
    expect(result.backupId).to.match(/^\d{8}T\d{6}Z-0001$/);

    const after = await auditJson(root);
    expect(after.code).to.equal(0);
    expect(after.report.summary).to.deep.equal({ pass: 19, fail: 0, unknown: 0, skip: 49 + CATALOGUE_SKIPS });

    // Everything the agent does not own is still there, byte for byte.
    const hardened = read(root, 'var/lib/kubelet/config.yaml');
    for (const line of config.split('\n').filter((l) => !/^(streamingConnectionIdleTimeout|- TLS_)/.test(l))) expect(hardened).to.contain(line);
    expect(hardened).to.contain('# Reserve resources for system daemons (sized for m5.xlarge workers).\nsystemReserved:');
    expect(read(root, 'etc/default/kubelet')).to.equal(
      '# Local overrides for the kubelet (added during the 2024 migration, see OPS-1432).\n# KUBELET_EXTRA_ARGS is last on the kubelet command line and wins over config.yaml.\nKUBELET_EXTRA_ARGS="--max-pods=150 --v=2"\n',
    );
    expect(read(root, 'var/lib/kubelet/kubeadm-flags.env')).to.equal(
      readFileSync(path.join(root, '../', path.basename(root), 'var/lib/kubelet/kubeadm-flags.env'), 'utf8'),
    );
    expect(read(root, 'proc/sys/kernel/panic').trim()).to.equal('10');
    expect(statSync(path.join(root, 'var/lib/kubelet/config.yaml')).mode & 0o777).to.equal(0o600);
    const backups = path.join(root, 'var/lib/kube-harden/backups');
    expect(statSync(backups).mode & 0o777).to.equal(0o700);

    const second = await cli(['plan', '--output', 'json'], root);
    expect(second.code).to.equal(0);
    expect(JSON.parse(second.out)).to.deep.equal({ changes: [], restarts: [], blocked: [] });
  });

  it('rollback returns the host to exactly its state before (files, modes, created files, live sysctls)', async () => {
    const root = copyFixture('kubeadm-worker');
    const before = snapshotTree(root);
    expect((await cli(['apply', '--no-restart'], root)).code).to.equal(0);
    expect(snapshotTree(root)).to.not.deep.equal(before);
    const rollback = await cli(['rollback', '--no-restart'], root);
    expect(rollback.code, rollback.err).to.equal(0);
    const restored = snapshotTree(root);
    expect(restored.get('etc/sysctl.d/90-kube-harden.conf')).to.equal(undefined);
    expect(restored).to.deep.equal(before);
    const list = await cli(['rollback', '--list'], root);
    expect(list.out).to.match(/-0001 +rolled-back/);
  });

  it('rollback --to undoes later applies too, newest first', async () => {
    const root = copyFixture('kubeadm-worker');
    const before = snapshotTree(root);
    await cli(['apply', '--no-restart'], root);
    // An operator edit reverted by a second apply: two journals.
    const flags = path.join('etc/default/kubelet');
    const { writeFileSync } = await import('node:fs');
    writeFileSync(path.join(root, flags), 'KUBELET_EXTRA_ARGS="--read-only-port=10255"\n');
    expect((await cli(['apply', '--no-restart'], root)).code).to.equal(0);
    const first = (await cli(['rollback', '--list'], root)).out.split('\n')[0]!.split(' ')[0]!;
    expect((await cli(['rollback', '--no-restart', '--to', first], root)).code).to.equal(0);
    expect(snapshotTree(root)).to.deep.equal(before);
  });
});

describe('the host root: --host-root, else $KUBE_HARDEN_HOST_ROOT (the DaemonSet sets it), else /', () => {
  after(cleanupTempDirs);

  it('audits the tree the variable names, and the flag wins over it', async () => {
    const root = copyFixture('kubeadm-worker');
    const fromEnv = testCli({ env: { KUBE_HARDEN_HOST_ROOT: root } });
    expect(await runCli(['audit', '--output', 'json'], fromEnv.deps)).to.equal(1);
    const node = (JSON.parse(fromEnv.stdout()) as { node: { distribution: string; kubeletVersion: string } }).node;
    expect(node).to.include({ distribution: 'kubeadm' });
    expect(node.kubeletVersion).to.contain('v1.31.4');
    const flagWins = testCli({ env: { KUBE_HARDEN_HOST_ROOT: '/nonexistent-host-root' } });
    expect(await runCli(['audit', '--output', 'json', '--host-root', root], flagWins.deps)).to.equal(1);
    expect(await runCli(['audit'], flagWins.deps)).to.equal(2);
    expect(flagWins.err.join('')).to.contain('/nonexistent-host-root');
  });
});

describe('backups: pruned to backups.retain, oldest first (they hold secrets)', () => {
  after(cleanupTempDirs);

  it('five applies with retain 3 keep the three newest journals on disk and in --list', async () => {
    const root = copyFixture('kubeadm-worker');
    const policy = writePolicyFile(['mode: enforce', 'backups: { retain: 3 }']);
    const ids: string[] = [];
    for (let round = 0; round < 5; round++) {
      // An operator edit that each apply reverts: five journals are made.
      writeFileSync(path.join(root, 'etc/default/kubelet'), `KUBELET_EXTRA_ARGS="--read-only-port=1025${round}"\n`);
      const { out } = await cli(['apply', '--no-restart', '--policy', policy, '--output', 'json'], root);
      ids.push((JSON.parse(out) as { backupId: string }).backupId);
    }
    expect(readdirSync(path.join(root, 'var/lib/kube-harden/backups')).sort()).to.deep.equal(ids.slice(2).sort());
    const listed = (await cli(['rollback', '--list'], root)).out
      .trim()
      .split('\n')
      .map((line) => line.split(' ')[0]);
    expect(listed).to.deep.equal(ids.slice(2));
  });
});

describe('Canonical k8s snap node', () => {
  after(cleanupTempDirs);

  it('takes the node IP from its own --node-ip, hardens the args file, keeps quoting, rolls back byte for byte', async () => {
    const root = copyFixture('k8s-snap-node');
    const before = snapshotTree(root);
    const audit = await auditJson(root);
    expect(audit.code).to.equal(1);
    expect(audit.report.node).to.include({
      distribution: 'k8s-snap',
      kubeletVersion: 'v1.32.2',
      nodeIp: '10.20.0.15',
      nodeIpSource: '--node-ip in /var/snap/k8s/common/args/kubelet',
    });
    const byId = new Map(audit.report.results.map((result) => [result.id, result]));
    expect(byId.get('kubelet.tls-cipher-suites')).to.include({ status: 'fail', source: '/var/snap/k8s/common/args/kubelet' });
    expect(byId.get('kubelet.authorization-mode')).to.include({ status: 'fail', actual: 'AlwaysAllow (default)' });

    const apply = await cli(['apply', '--no-restart', '--output', 'json'], root);
    expect(apply.code, apply.err).to.equal(0);
    expect(
      JSON.parse(apply.out).restarts.map((restart: { service: string; result: string }) => `${restart.service} ${restart.result}`),
    ).to.have.members(['snap.k8s.kubelet pending', 'snap.k8s.kube-proxy pending']);
    // kube-proxy's per-node args carry this node's own IP (the shared kubeadm ConfigMap could not).
    const proxy = read(root, 'var/snap/k8s/common/args/kube-proxy');
    expect(proxy).to.contain('--nodeport-addresses=10.20.0.15/32\n');
    expect(proxy).to.contain('--healthz-bind-address=10.20.0.15\n');
    expect(proxy).to.contain('--cluster-cidr=10.1.0.0/16\n');
    const args = read(root, 'var/snap/k8s/common/args/kubelet');
    expect(args).to.contain("--eviction-hard='memory.available<100Mi,nodefs.available<1Gi,imagefs.available<1Gi'\n");
    expect(args).to.contain('--address=10.20.0.15\n');
    expect(args).to.contain(
      '--tls-cipher-suites="TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"\n',
    );
    expect(args).to.not.contain('TLS_RSA_');
    expect(args).to.contain('--register-with-taints=\n');

    const after = await auditJson(root);
    expect(after.code).to.equal(0);
    expect(after.report.summary).to.deep.equal({ pass: 20, fail: 0, unknown: 0, skip: 48 + CATALOGUE_SKIPS });
    expect(JSON.parse((await cli(['plan', '--output', 'json'], root)).out).changes).to.deep.equal([]);

    expect((await cli(['rollback', '--no-restart'], root)).code).to.equal(0);
    const restored = snapshotTree(root);
    // The fixture has no /var/lib; the agent's state directory (with the journal) lives there.
    expect(restored.get('var/lib')).to.equal('dir 755');
    restored.delete('var/lib');
    expect(restored).to.deep.equal(before);
  });
});
