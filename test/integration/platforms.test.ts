import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { FakeServiceManager } from '../fakes/fake-service-manager.js';
import { cleanupTempDirs, copyFixture, read, snapshotTree, testCli } from '../helpers/host.js';

async function cli(args: string[], root: string, options: Parameters<typeof testCli>[0] = {}) {
  const harness = testCli(options);
  const code = await runCli([...args, '--host-root', root], harness.deps);
  return { code, out: harness.stdout(), err: harness.err.join(''), harness };
}

interface Report {
  node: Record<string, unknown>;
  results: Array<{ id: string; status: string; source: string | null; actual: string; message: string }>;
  summary: Record<string, number>;
}

async function audit(root: string): Promise<{ code: number; report: Report; byId: Map<string, Report['results'][number]> }> {
  const { code, out } = await cli(['audit', '--output', 'json'], root);
  const report = JSON.parse(out) as Report;
  return { code, report, byId: new Map(report.results.map((result) => [result.id, result])) };
}

const KUBELET_FAILS = (report: Report) => report.results.filter((result) => result.id.startsWith('kubelet.') && result.status === 'fail');

/** Audit → plan (changes nothing) → apply → audit clean → second plan empty → rollback byte for byte. */
async function fullCycle(fixture: string, options: { nodeIp?: string; cniUnknown?: boolean } = {}) {
  const extra = options.nodeIp ? ['--node-ip', options.nodeIp] : [];
  const root = copyFixture(fixture);
  const before = snapshotTree(root);
  const plan = await cli(['plan', ...extra], root);
  expect(plan.code, plan.err).to.equal(1);
  expect(snapshotTree(root)).to.deep.equal(before);
  const apply = await cli(['apply', '--no-restart', '--output', 'json', ...extra], root);
  // k3s/RKE2: the CNI rules stay `unknown` (their CNI config is not judged yet), so findings remain: exit 1.
  expect(apply.code, apply.err + apply.out).to.equal(options.cniUnknown ? 1 : 0);
  expect((JSON.parse(apply.out) as { ok: boolean }).ok).to.equal(true);
  const after = await cli(['audit', '--output', 'json', ...extra], root);
  const report = JSON.parse(after.out) as Report;
  expect(KUBELET_FAILS(report), JSON.stringify(KUBELET_FAILS(report))).to.deep.equal([]);
  const remaining = report.results.filter((result) => result.status === 'fail' || result.status === 'unknown');
  // What remains on k3s/RKE2 is what is not built there yet, each `unknown` and saying so.
  if (!options.cniUnknown) expect(remaining).to.deep.equal([]);
  for (const result of remaining)
    expect(result, result.id)
      .to.include({ status: 'unknown' })
      .and.have.property('message')
      .that.match(/does not judge/);
  if (options.cniUnknown) expect(remaining.map((result) => result.id)).to.include.members(['cni.bandwidth-plugin', 'cni.bandwidth-chain']);
  const second = await cli(['plan', '--output', 'json', ...extra], root);
  const again = JSON.parse(second.out) as { changes: unknown[]; restarts: unknown[]; blocked: { id: string; reason: string }[] };
  expect(again.changes).to.deep.equal([]);
  expect(again.restarts).to.deep.equal([]);
  // plan lists what it cannot judge there (issue 14): exactly the rules not built on this platform yet.
  expect(again.blocked.map((blocked) => blocked.id).sort()).to.deep.equal(remaining.map((result) => result.id).sort());
  for (const blocked of again.blocked) expect(blocked.reason).to.match(/^not judged: .*does not judge/);
  // Exit 1 while findings remain, unknown ones included (the CLI contract).
  expect(second.code).to.equal(remaining.length > 0 ? 1 : 0);
  const hardened = snapshotTree(root);
  const rollback = await cli(['rollback', '--no-restart'], root);
  expect(rollback.code, rollback.err).to.equal(0);
  expect(snapshotTree(root)).to.deep.equal(before);
  return { root, apply: JSON.parse(apply.out) as { restarts: Array<{ service: string; rules: string[] }> }, hardened };
}

describe('platforms: k3s', () => {
  after(cleanupTempDirs);

  it('server: detected, judged with k3s precedence (config.yaml, then config.yaml.d with kubelet-arg+ appending)', async () => {
    const root = copyFixture('k3s-server');
    const { code, report, byId } = await audit(root);
    expect(code).to.equal(1);
    expect(report.node).to.include({ distribution: 'k3s', distributionRole: 'server', kubeletVersion: 'v1.32.4', configurationOwner: null });
    expect(byId.get('kubelet.tls-min-version')).to.include({
      status: 'fail',
      actual: 'VersionTLS10',
      source: '/etc/rancher/k3s/config.yaml.d/10-site.yaml',
    });
    expect(byId.get('kubelet.streaming-connection-idle-timeout')).to.include({
      status: 'fail',
      actual: '4h',
      source: '/etc/rancher/k3s/config.yaml',
    });
    // k3s's own defaults drop-in decides what the config files do not set.
    expect(byId.get('kubelet.read-only-port')).to.include({
      status: 'pass',
      source: '/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf',
    });
    expect(byId.get('kubelet.anonymous-auth')).to.include({ status: 'pass' });
    expect(byId.get('cni.bandwidth-chain')).to.include({ status: 'unknown', source: '/var/lib/rancher/k3s/agent/etc/cni/net.d' });
    expect(byId.get('cni.bandwidth-chain')!.message).to.contain('flannel is built into k3s');
    // The embedded control plane is not judged yet: unknown, never "no kube-apiserver on this node".
    expect(byId.get('apiserver.profiling')).to.include({ status: 'unknown', source: '/etc/rancher/k3s/config.yaml' });
    expect(byId.get('apiserver.profiling')!.message).to.contain('kube-apiserver-arg');
    expect(byId.get('files.control-plane-permissions')).to.include({ status: 'unknown', source: '/var/lib/rancher/k3s/server' });
    const table = await cli(['audit'], root);
    expect(table.out.split('\n')[0]).to.match(/^Node \S+: k3s server, kubelet v1\.32\.4/);
  });

  it('server: apply writes a kube-harden kubelet drop-in, removes overriding kubelet-arg entries (comments kept), never touches k3s defaults; rollback restores', async () => {
    const { root, apply, hardened } = await fullCycle('k3s-server', { nodeIp: '10.0.8.21', cniUnknown: true });
    expect(apply.restarts.map((restart) => restart.service)).to.deep.equal(['k3s']);
    const dropIn = new TextDecoder().decode(
      Buffer.from(hardened.get('var/lib/rancher/k3s/agent/etc/kubelet.conf.d/90-kube-harden.conf')!.split(' ').pop()!, 'base64'),
    );
    expect(dropIn).to.contain('kind: KubeletConfiguration\n');
    expect(dropIn).to.contain('streamingConnectionIdleTimeout: 5m\n');
    expect(dropIn).to.contain('tlsMinVersion: VersionTLS12\n');
    const config = new TextDecoder().decode(Buffer.from(hardened.get('etc/rancher/k3s/config.yaml')!.split(' ').pop()!, 'base64'));
    expect(config).to.contain('  - "max-pods=150" # sized for the r12 hosts\n');
    expect(config).to.not.contain('streaming-connection-idle-timeout');
    expect(config).to.contain('# k3s server settings');
    const site = new TextDecoder().decode(Buffer.from(hardened.get('etc/rancher/k3s/config.yaml.d/10-site.yaml')!.split(' ').pop()!, 'base64'));
    // An emptied list stays (deleting it would change what the file overrides), and so does the comment.
    expect(site).to.equal("# Site-wide additions, appended to config.yaml's list (`+`).\nkubelet-arg+: []\n");
    // Its content is k3s's own (rewritten at every start); only its mode may be tightened. Git keeps no
    // modes, so a clean clone starts from 0644 whatever the author's checkout had.
    const content = (entry: string | undefined) => entry?.split(' ').pop();
    expect(content(hardened.get('var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf'))).to.equal(
      content(snapshotTree(root).get('var/lib/rancher/k3s/agent/etc/kubelet.conf.d/00-k3s-defaults.conf')),
    );
  });

  it('server: a restart of k3s (control plane included) is one restart, health-gated', async () => {
    const root = copyFixture('k3s-server');
    const services = new FakeServiceManager();
    const result = await cli(['apply', '--output', 'json', '--node-ip', '10.0.8.21'], root, { services, health: new FakeHealthProbe([true]) });
    const restarts = (JSON.parse(result.out) as { restarts: Array<{ service: string; result: string }> }).restarts;
    expect(restarts.map((restart) => `${restart.service} ${restart.result}`)).to.deep.equal(['k3s restarted']);
    expect(services.restarts).to.deep.equal(['k3s']);
  });

  it('server: when k3s does not come back healthy, every change is rolled back and k3s restarted again', async () => {
    const root = copyFixture('k3s-server');
    const before = snapshotTree(root);
    const services = new FakeServiceManager();
    const result = await cli(['apply', '--output', 'json', '--node-ip', '10.0.8.21'], root, { services, health: new FakeHealthProbe([false, true]) });
    expect(result.code).to.equal(1);
    const parsed = JSON.parse(result.out) as { changes: Array<{ result: string }>; restarts: Array<{ service: string; result: string }> };
    expect(parsed.restarts[0]).to.include({ service: 'k3s', result: 'failed' });
    expect(services.restarts).to.deep.equal(['k3s', 'k3s']);
    expect(snapshotTree(root)).to.deep.equal(before);
  });

  it('agent: the k3s-agent service, read-only-port from kubelet-arg removed, audit clean after apply', async () => {
    const { apply, hardened } = await fullCycle('k3s-agent', { nodeIp: '10.0.8.22', cniUnknown: true });
    expect(apply.restarts.map((restart) => restart.service)).to.deep.equal(['k3s-agent']);
    const config = new TextDecoder().decode(Buffer.from(hardened.get('etc/rancher/k3s/config.yaml')!.split(' ').pop()!, 'base64'));
    expect(config).to.not.contain('read-only-port');
    expect(config).to.contain('server: https://k3s.example.internal:6443\n');
  });

  it('a kubelet drop-in directory swapped for a symlink out of the host: nothing is written outside', async () => {
    const outside = mkdtempSync(path.join(tmpdir(), 'kh-outside-'));
    try {
      const root = copyFixture('k3s-agent');
      const dir = path.join(root, 'var/lib/rancher/k3s/agent/etc/kubelet.conf.d');
      rmSync(dir, { recursive: true });
      symlinkSync(outside, dir);
      const apply = await cli(['apply', '--no-restart'], root);
      expect(apply.code).to.equal(1);
      expect(readdirSync(outside)).to.deep.equal([]);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });
});

describe('platforms: what is reported and never written', () => {
  after(cleanupTempDirs);

  it("k3s: a --kubelet-arg on the unit's ExecStart beats the files and is reported, never edited", async () => {
    const root = copyFixture('k3s-server');
    const unit = path.join(root, 'etc/systemd/system/k3s.service');
    writeFileSync(unit, readFileSync(unit, 'utf8').replace('    server \\\n', "    server \\\n    '--kubelet-arg' 'read-only-port=10255' \\\n"));
    const { byId } = await audit(root);
    expect(byId.get('kubelet.read-only-port')).to.include({ status: 'fail', source: '/etc/systemd/system/k3s.service' });
    // The unit's list replaces config.yaml's: its streaming timeout no longer counts.
    expect(byId.get('kubelet.streaming-connection-idle-timeout')).to.include({ actual: '4h (default)' });
    const plan = JSON.parse((await cli(['plan', '--output', 'json', '--node-ip', '10.0.8.21'], root)).out) as {
      blocked: Array<{ id: string; reason: string }>;
    };
    expect(plan.blocked.find((entry) => entry.id === 'kubelet.read-only-port')?.reason).to.match(
      /--read-only-port is set in systemd unit \/etc\/systemd\/system\/k3s.service; kube-harden does not edit unit files/,
    );
  });

  it('k3s before v1.32 (no kubelet drop-in directory): kubelet writes are blocked with the reason', async () => {
    const root = copyFixture('k3s-server');
    const plan = JSON.parse((await cli(['plan', '--output', 'json', '--node-ip', '10.0.8.21', '--kubelet-version', 'v1.31.6+k3s1'], root)).out) as {
      blocked: Array<{ id: string; reason: string }>;
    };
    expect(plan.blocked.find((entry) => entry.id === 'kubelet.tls-min-version')?.reason).to.contain('has no kubelet drop-in directory (v1.32+)');
  });

  it('EKS AL2023: a hardened flag in the file nodeadm rewrites at boot is blocked, naming nodeadm', async () => {
    const root = copyFixture('eks-al2023');
    const env = path.join(root, 'etc/eks/kubelet/environment');
    writeFileSync(env, readFileSync(env, 'utf8').replace('--cloud-provider=external', '--cloud-provider=external --read-only-port=10255'));
    const plan = JSON.parse((await cli(['plan', '--output', 'json'], root)).out) as { blocked: Array<{ id: string; reason: string }> };
    expect(plan.blocked.find((entry) => entry.id === 'kubelet.read-only-port')?.reason).to.match(
      /readOnlyPort \(--read-only-port\) is set in \/etc\/eks\/kubelet\/environment, which nodeadm at every boot .*spec\.kubelet\.flags/,
    );
  });
});

describe('platforms: RKE2', () => {
  after(cleanupTempDirs);

  it('server: detected by the enabled unit, hardened through its drop-in, rke2-server restarted, static pod manifests untouched', async () => {
    const root = copyFixture('rke2-server');
    const { report, byId } = await audit(root);
    expect(report.node).to.include({ distribution: 'rke2', distributionRole: 'server', kubeletVersion: 'v1.32.5' });
    expect(byId.get('kubelet.anonymous-auth')).to.include({ status: 'fail', source: '/etc/rancher/rke2/config.yaml' });
    const manifest = read(root, 'var/lib/rancher/rke2/agent/pod-manifests/kube-apiserver.yaml');
    const { apply, hardened } = await fullCycle('rke2-server', { nodeIp: '10.0.9.11', cniUnknown: true });
    expect(apply.restarts.map((restart) => restart.service)).to.deep.equal(['rke2-server']);
    expect(hardened.has('var/lib/rancher/rke2/agent/etc/kubelet.conf.d/90-kube-harden.conf')).to.equal(true);
    expect(read(root, 'var/lib/rancher/rke2/agent/pod-manifests/kube-apiserver.yaml')).to.equal(manifest);
  });

  it("agent: profile cis counts as protect-kernel-defaults; Rancher's JSON drop-in stays JSON", async () => {
    const root = copyFixture('rke2-agent');
    const { byId } = await audit(root);
    expect(byId.get('kubelet.protect-kernel-defaults')).to.include({ status: 'pass', source: '/etc/rancher/rke2/config.yaml' });
    expect(byId.get('kubelet.tls-cipher-suites')).to.include({ status: 'fail', source: '/etc/rancher/rke2/config.yaml.d/50-rancher.yaml' });
    const { apply, hardened } = await fullCycle('rke2-agent', { nodeIp: '10.0.9.12', cniUnknown: true });
    expect(apply.restarts.map((restart) => restart.service)).to.deep.equal(['rke2-agent']);
    const rancher = new TextDecoder().decode(
      Buffer.from(hardened.get('etc/rancher/rke2/config.yaml.d/50-rancher.yaml')!.split(' ').pop()!, 'base64'),
    );
    expect(JSON.parse(rancher)).to.deep.equal({ 'kubelet-arg': ['cloud-provider=external'], 'node-label': ['cattle.io/os=linux'] });
    expect(rancher).to.match(/^\{\n {2}"kubelet-arg": \[\n {4}"cloud-provider=external"\n {2}\],/);
  });
});

describe('platforms: EKS AL2023 (nodeadm)', () => {
  after(cleanupTempDirs);

  it("writes a JSON drop-in after nodeadm's, leaves the files nodeadm rewrites at boot untouched, rolls back", async () => {
    const root = copyFixture('eks-al2023');
    const { report, byId } = await audit(root);
    expect(report.node).to.include({ distribution: 'eks-al2023', kubeletVersion: 'v1.32.3', nodeIp: '10.0.35.120' });
    expect(byId.get('kubelet.streaming-connection-idle-timeout')).to.include({
      status: 'fail',
      actual: '2h',
      source: '/etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf',
    });
    const untouched = [
      'etc/kubernetes/kubelet/config.json',
      'etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf',
      'etc/eks/kubelet/environment',
    ].map((file) => read(root, file));
    const { apply, hardened } = await fullCycle('eks-al2023');
    expect(apply.restarts.map((restart) => restart.service)).to.deep.equal(['kubelet']);
    const dropIn = JSON.parse(
      new TextDecoder().decode(Buffer.from(hardened.get('etc/kubernetes/kubelet/config.json.d/90-kube-harden.conf')!.split(' ').pop()!, 'base64')),
    ) as Record<string, unknown>;
    expect(dropIn).to.include({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', streamingConnectionIdleTimeout: '5m' });
    const decoded = ['etc/kubernetes/kubelet/config.json', 'etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf', 'etc/eks/kubelet/environment'].map(
      (file) => new TextDecoder().decode(Buffer.from(hardened.get(file)!.split(' ').pop()!, 'base64')),
    );
    expect(decoded).to.deep.equal(untouched);
  });
});

describe('platforms: EKS AL2023 without spec.kubelet.config', () => {
  after(cleanupTempDirs);

  it('no --config-dir: the value goes to config.json, which stays JSON (4 spaces, key order)', async () => {
    const root = copyFixture('eks-al2023');
    const env = path.join(root, 'etc/eks/kubelet/environment');
    writeFileSync(env, readFileSync(env, 'utf8').replace(' --config-dir=/etc/kubernetes/kubelet/config.json.d', ''));
    rmSync(path.join(root, 'etc/kubernetes/kubelet/config.json.d'), { recursive: true });
    const original = read(root, 'etc/kubernetes/kubelet/config.json');
    const apply = await cli(['apply', '--no-restart'], root);
    expect(apply.code, apply.err + apply.out).to.equal(0);
    const text = read(root, 'etc/kubernetes/kubelet/config.json');
    const config = JSON.parse(text) as Record<string, unknown>;
    expect(config).to.include({ streamingConnectionIdleTimeout: '5m', podPidsLimit: 4096 });
    expect(Object.keys(config).slice(0, Object.keys(JSON.parse(original) as object).length)).to.deep.equal(
      Object.keys(JSON.parse(original) as object),
    );
    expect(text).to.match(/^\{\n {4}"address": "10\.0\.35\.120",\n/);
    expect(readdirSync(path.join(root, 'etc/kubernetes/kubelet'))).to.deep.equal(['config.json']);
  });
});

describe('platforms: EKS AL2 (bootstrap.sh)', () => {
  after(cleanupTempDirs);

  it('kubelet-config.json stays JSON: valid, two-space indentation, key order kept, new keys appended; rollback restores', async () => {
    const root = copyFixture('eks-al2');
    const original = read(root, 'etc/kubernetes/kubelet/kubelet-config.json');
    const { report } = await audit(root);
    expect(report.node).to.include({ distribution: 'eks-al2', distributionEvidence: '/etc/eks/bootstrap.sh', kubeletVersion: 'v1.30.11' });
    const { apply, hardened } = await fullCycle('eks-al2');
    expect(apply.restarts.map((restart) => restart.service)).to.deep.equal(['kubelet']);
    const text = new TextDecoder().decode(Buffer.from(hardened.get('etc/kubernetes/kubelet/kubelet-config.json')!.split(' ').pop()!, 'base64'));
    const keys = Object.keys(JSON.parse(text) as object);
    const before = Object.keys(JSON.parse(original) as object);
    expect(keys.slice(0, before.length)).to.deep.equal(before);
    expect(keys.slice(before.length)).to.have.members(['podPidsLimit', 'streamingConnectionIdleTimeout', 'rotateCertificates']);
    expect(text).to.match(/^\{\n {2}"kind": "KubeletConfiguration",\n {2}"apiVersion"/);
    expect(text).to.contain('  "address": "10.0.41.7",\n');
    expect(text.endsWith('}\n')).to.equal(true);
  });
});

describe('platforms: a named refusal where another system owns the node', () => {
  after(cleanupTempDirs);

  for (const [fixture, distribution, owner] of [
    ['openshift-worker', 'openshift', /^OpenShift's Machine Config Operator owns this node's configuration .*use a MachineConfig/],
    ['talos-node', 'talos', /^Talos owns this node's configuration .*a Talos machine config patch/],
    ['gke-cos', 'gke', /^GKE owns this node's configuration .*the node pool's settings/],
    ['microk8s-node', 'microk8s', /^MicroK8s owns this node's configuration/],
  ] as const)
    it(`${distribution}: audits what it reads, plan and apply refuse every write with one line naming the owner, exit 1`, async () => {
      const root = copyFixture(fixture);
      const before = snapshotTree(root);
      const { report } = await audit(root);
      expect(report.node.distribution).to.equal(distribution);
      expect(report.node.configurationOwner).to.match(owner);
      const plan = await cli(['plan', '--output', 'json', '--kubelet-version', '1.31.0'], root);
      expect(plan.code).to.equal(1);
      const parsed = JSON.parse(plan.out) as { changes: unknown[]; blocked: Array<{ id: string; reason: string }> };
      expect(parsed.changes).to.deep.equal([]);
      // Every failing rule is refused with the owner's line; rules that could not be read say so instead.
      const refused = parsed.blocked.filter((blocked) => !blocked.reason.startsWith('not judged: '));
      expect(refused.length).to.be.greaterThan(0);
      for (const blocked of refused) expect(blocked.reason).to.match(owner);
      const apply = await cli(['apply', '--no-restart', '--kubelet-version', '1.31.0'], root);
      expect(apply.code).to.equal(1);
      expect(snapshotTree(root)).to.deep.equal(before);
      expect(readFileSync(path.join(root, 'etc/os-release'), 'utf8')).to.not.equal('');
    });
});
