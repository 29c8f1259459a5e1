import { expect } from 'chai';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../../agent/cli/index.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { cleanupTempDirs, copyFixture, read, testCli } from '../helpers/host.js';

type Finding = { id: string; status: string; cis: string[]; actual: string; expected: string; remediable: boolean; message: string };

async function cli(args: string[], root: string) {
  const harness = testCli({ health: new FakeHealthProbe([true]) });
  const code = await runCli([...args, '--host-root', root], harness.deps);
  return { code, out: harness.stdout() };
}

async function audit(root: string): Promise<Map<string, Finding>> {
  const report = JSON.parse((await cli(['audit', '--output', 'json'], root)).out) as { results: Finding[] };
  return new Map(report.results.map((finding) => [finding.id, finding]));
}

/** One way the fixture is weakened: the rule, its CIS id, the flag or field the finding must name. */
interface Weakness {
  readonly rule: string;
  readonly cis: string;
  readonly shows: string;
  /** Why it stays after apply (held back), or absent when apply fixes it. */
  readonly held?: RegExp;
}

const KUBEADM_WEAKNESSES: readonly Weakness[] = [
  { rule: 'etcd.client-cert-auth', cis: '2.2', shows: '--client-cert-auth=false' },
  { rule: 'etcd.auto-tls', cis: '2.3', shows: '--auto-tls=true' },
  { rule: 'etcd.peer-client-cert-auth', cis: '2.5', shows: '--peer-client-cert-auth=false' },
  { rule: 'etcd.peer-auto-tls', cis: '2.6', shows: '--peer-auto-tls=true' },
  { rule: 'apiserver.token-auth-file', cis: '1.2.2', shows: '--token-auth-file=/etc/kubernetes/tokens.csv', held: /locks out .*confirmed: true/ },
  { rule: 'apiserver.kubelet-client-certificate', cis: '1.2.4', shows: 'no --kubelet-client-certificate' },
  { rule: 'apiserver.disabled-admission-plugins', cis: '1.2.12', shows: '--disable-admission-plugins=ServiceAccount' },
  { rule: 'controller-manager.use-service-account-credentials', cis: '1.3.3', shows: '--use-service-account-credentials=false' },
  { rule: 'controller-manager.rotate-kubelet-server-certificate', cis: '1.3.6', shows: 'RotateKubeletServerCertificate=false' },
  { rule: 'kubelet.client-ca-file', cis: '4.2.3', shows: '(not set)' },
  { rule: 'kubelet.make-iptables-util-chains', cis: '4.2.6', shows: 'false' },
];

const SNAP_WEAKNESSES: readonly Weakness[] = [
  // The snap keeps no kubeadm PKI: the pair the flags would name does not exist, so the fix is held back.
  { rule: 'apiserver.kubelet-client-certificate', cis: '1.2.4', shows: 'no --kubelet-client-certificate', held: /not found on this node/ },
  { rule: 'apiserver.disabled-admission-plugins', cis: '1.2.13', shows: 'ServiceAccount,NamespaceLifecycle' },
  { rule: 'controller-manager.use-service-account-credentials', cis: '1.3.3', shows: '--use-service-account-credentials=false' },
  { rule: 'controller-manager.rotate-kubelet-server-certificate', cis: '1.3.6', shows: 'RotateKubeletServerCertificate=false' },
  { rule: 'kubelet.make-iptables-util-chains', cis: '4.2.6', shows: 'false' },
  { rule: 'kube-proxy.metrics-bind-address', cis: '4.3.1', shows: '--metrics-bind-address=0.0.0.0:10249' },
];

const FIXTURES = [
  { fixture: 'kubeadm-control-plane-weak-1.29', weaknesses: KUBEADM_WEAKNESSES },
  { fixture: 'kubeadm-control-plane-weak-1.33', weaknesses: KUBEADM_WEAKNESSES },
  { fixture: 'k8s-snap-control-plane-weak', weaknesses: SNAP_WEAKNESSES },
];

describe('control planes weakened the ways issue 15 lists: audit, apply, apply again', () => {
  after(cleanupTempDirs);

  for (const { fixture, weaknesses } of FIXTURES)
    it(`${fixture}: every weakened check fails with its CIS id and flag; apply fixes it or holds it back with the reason; a second run changes nothing`, async () => {
      const root = copyFixture(fixture);
      const before = await audit(root);
      for (const weakness of weaknesses) {
        const finding = before.get(weakness.rule)!;
        expect(finding, weakness.rule).to.not.equal(undefined);
        expect(finding.status, weakness.rule).to.equal('fail');
        expect(finding.cis, weakness.rule).to.include(weakness.cis);
        expect(`${finding.actual} ${finding.expected}`, weakness.rule).to.contain(weakness.shows);
      }

      const applied = JSON.parse((await cli(['apply', '--output', 'json'], root)).out) as { blocked: Array<{ id: string; reason: string }> };
      const after = await audit(root);
      for (const weakness of weaknesses) {
        const finding = after.get(weakness.rule)!;
        if (!weakness.held) {
          expect(finding.status, `${weakness.rule}: ${finding.message}`).to.equal('pass');
          continue;
        }
        expect(finding.status, weakness.rule).to.equal('fail');
        expect(finding.remediable, weakness.rule).to.equal(false);
        expect(finding.message, weakness.rule).to.match(weakness.held);
        expect(applied.blocked.find((blocked) => blocked.id === weakness.rule)?.reason, weakness.rule).to.match(weakness.held);
      }

      const second = JSON.parse((await cli(['plan', '--output', 'json'], root)).out) as { changes: unknown[] };
      expect(second.changes).to.deep.equal([]);
    });

  it('the fixed etcd manifest requires client and peer certificates and has no automatic TLS, everything else kept', async () => {
    const root = copyFixture('kubeadm-control-plane-weak-1.33');
    const before = parse(read(root, 'etc/kubernetes/manifests/etcd.yaml')) as { spec: { containers: Array<{ command: string[] }> } };
    await cli(['apply', '--output', 'json'], root);
    const after = parse(read(root, 'etc/kubernetes/manifests/etcd.yaml')) as { spec: { containers: Array<{ command: string[] }> } };
    const command = after.spec.containers[0]!.command;
    expect(command).to.include.members([
      '--client-cert-auth=true',
      '--peer-client-cert-auth=true',
      '--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt',
    ]);
    expect(command.filter((flag) => flag.includes('auto-tls'))).to.deep.equal([]);
    const untouched = (flags: string[]) => flags.filter((flag) => !/client-cert-auth|auto-tls/.test(flag));
    expect(untouched(command)).to.deep.equal(untouched(before.spec.containers[0]!.command));
  });

  it('the k8s snap has no etcd: section 2 is skip, naming k8s-dqlite', async () => {
    const findings = await audit(copyFixture('k8s-snap-control-plane-weak'));
    for (const id of ['etcd.client-tls', 'etcd.client-cert-auth', 'etcd.auto-tls', 'etcd.peer-tls', 'etcd.trusted-ca-file']) {
      expect(findings.get(id)!.status, id).to.equal('skip');
      expect(findings.get(id)!.message, id).to.contain('k8s-dqlite');
    }
  });

  it('kubelet.client-ca-file is held back where /etc/kubernetes/pki/ca.crt is missing (a missing CA file stops the kubelet)', async () => {
    const root = copyFixture('kubeadm-control-plane-weak-1.29');
    rmSync(path.join(root, 'etc/kubernetes/pki/ca.crt'));
    const finding = (await audit(root)).get('kubelet.client-ca-file')!;
    expect(finding).to.include({ status: 'fail', remediable: false });
    const applied = JSON.parse((await cli(['apply', '--output', 'json'], root)).out) as { blocked: { id: string; reason: string }[] };
    expect(applied.blocked.find((blocked) => blocked.id === 'kubelet.client-ca-file')?.reason).to.equal(
      '/etc/kubernetes/pki/ca.crt not found on this node; the kubelet would not start with a missing CA file',
    );
    expect(read(root, 'var/lib/kubelet/config.yaml')).to.not.contain('clientCAFile');
  });

  it('the token file goes only when the policy confirms', async () => {
    const root = copyFixture('kubeadm-control-plane-weak-1.29');
    const policy = `${root}/policy.yaml`;
    const { writeFileSync } = await import('node:fs');
    writeFileSync(
      policy,
      'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  apiserver.token-auth-file: { value: { confirmed: true } }\n',
    );
    await cli(['apply', '--policy', policy, '--output', 'json'], root);
    expect(read(root, 'etc/kubernetes/manifests/kube-apiserver.yaml')).to.not.contain('--token-auth-file');
  });
});

describe('SecurityContextDeny (removed in 1.30)', () => {
  after(cleanupTempDirs);
  const MANIFEST = 'etc/kubernetes/manifests/kube-apiserver.yaml';

  for (const [fixture, words] of [
    ['kubeadm-control-plane-weak-1.29', 'deprecated since 1.27'],
    ['kubeadm-control-plane-weak-1.33', 'rejects SecurityContextDeny (removed in 1.30)'],
  ] as const)
    it(`${fixture}: reported with Pod Security Admission as the replacement, never written or removed`, async () => {
      const root = copyFixture(fixture);
      const manifest = 'etc/kubernetes/manifests/kube-apiserver.yaml';
      const { writeFileSync } = await import('node:fs');
      writeFileSync(
        `${root}/${manifest}`,
        read(root, manifest).replace('--enable-admission-plugins=NodeRestriction', '--enable-admission-plugins=NodeRestriction,SecurityContextDeny'),
      );
      const finding = (await audit(root)).get('apiserver.security-context-deny')!;
      expect(finding).to.include({ status: 'fail', remediable: false });
      expect(finding.message).to.contain(words).and.to.contain('pod-security.kubernetes.io/enforce');
      await cli(['apply', '--output', 'json'], root);
      expect(read(root, manifest)).to.contain('SecurityContextDeny');
    });

  /** The fixture's apiserver manifest with its plugin list (and image) replaced. */
  async function withPlugins(fixture: string, plugins: string, image?: string): Promise<string> {
    const root = copyFixture(fixture);
    const { writeFileSync } = await import('node:fs');
    let text = read(root, MANIFEST).replace('--enable-admission-plugins=NodeRestriction', `--enable-admission-plugins=${plugins}`);
    if (image) text = text.replace(/image: registry\.k8s\.io\/kube-apiserver:\S+/, `image: ${image}`);
    writeFileSync(`${root}/${MANIFEST}`, text);
    return root;
  }

  for (const [image, words] of [
    ['registry.k8s.io/kube-apiserver:v1.26.15', 'SecurityContextDeny is removed in 1.30'],
    ['registry.example/kube-apiserver', 'SecurityContextDeny is removed in 1.30'],
  ] as const)
    it(`before 1.27 and on an unknown version (${image}) the finding names Pod Security Admission too`, async () => {
      const finding = (await audit(await withPlugins('kubeadm-control-plane-weak-1.29', 'NodeRestriction,SecurityContextDeny', image))).get(
        'apiserver.security-context-deny',
      )!;
      expect(finding).to.include({ status: 'fail', remediable: false });
      expect(finding.message).to.contain(words).and.to.contain('Pod Security Admission replaces it');
    });

  it('an unknown version holds the list too (the plugin may be one it rejects)', async () => {
    const root = await withPlugins('kubeadm-control-plane-weak-1.29', 'NodeRestriction,SecurityContextDeny', 'registry.example/kube-apiserver');
    const finding = (await audit(root)).get('apiserver.event-rate-limit')!;
    expect(finding).to.include({ status: 'fail', remediable: false });
    expect(finding.message).to.contain('names SecurityContextDeny (removed in 1.30) and the kube-apiserver version is unknown');
  });

  it('PodSecurityPolicy (removed in 1.25) holds the list on 1.29 the same way', async () => {
    const root = await withPlugins('kubeadm-control-plane-weak-1.29', 'PodSecurityPolicy');
    const findings = await audit(root);
    for (const id of ['apiserver.admission-plugins', 'apiserver.event-rate-limit'])
      expect(findings.get(id)!.message, id).to.contain('names PodSecurityPolicy (removed in 1.25), which kube-apiserver v1.29.10 rejects');
  });

  it('1.33: the plugin list naming SecurityContextDeny is not rewritten (no NodeRestriction, no EventRateLimit added)', async () => {
    const root = await withPlugins('kubeadm-control-plane-weak-1.33', 'SecurityContextDeny');
    const findings = await audit(root);
    for (const id of ['apiserver.admission-plugins', 'apiserver.event-rate-limit']) {
      expect(findings.get(id)!, id).to.include({ status: 'fail', remediable: false });
      expect(findings.get(id)!.message, id).to.contain('kube-apiserver v1.33.2 rejects').and.to.contain('pod-security.kubernetes.io/enforce');
    }
    await cli(['apply', '--output', 'json'], root);
    const flags = read(root, MANIFEST)
      .split('\n')
      .filter((line) => line.includes('--enable-admission-plugins'));
    expect(flags).to.deep.equal(['    - --enable-admission-plugins=SecurityContextDeny']);
  });

  it('1.29 (the plugin exists behind its gate): the list is still completed, the plugin kept as it was', async () => {
    const root = await withPlugins('kubeadm-control-plane-weak-1.29', 'SecurityContextDeny');
    await cli(['apply', '--output', 'json'], root);
    expect(read(root, MANIFEST)).to.contain('--enable-admission-plugins=SecurityContextDeny,NodeRestriction,EventRateLimit');
  });

  it('a clean API server passes and still names the replacement', async () => {
    const finding = (await audit(copyFixture('kubeadm-control-plane'))).get('apiserver.security-context-deny')!;
    expect(finding.status).to.equal('pass');
    expect(finding.expected).to.contain('Pod Security Admission');
  });
});

describe('etcd fixes only what the node can back', () => {
  after(cleanupTempDirs);

  it('no server certificate on the node: 2.1 and every fix needing it are held back with the reason, the manifest untouched', async () => {
    const root = copyFixture('kubeadm-control-plane-weak-1.29');
    const manifest = 'etc/kubernetes/manifests/etcd.yaml';
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(
      `${root}/${manifest}`,
      read(root, manifest)
        .replace('    - --cert-file=/etc/kubernetes/pki/etcd/server.crt\n', '')
        .replace('    - --key-file=/etc/kubernetes/pki/etcd/server.key\n', ''),
    );
    rmSync(`${root}/etc/kubernetes/pki/etcd/server.crt`);
    const plan = JSON.parse((await cli(['plan', '--output', 'json'], root)).out) as {
      changes: Array<{ path: string; rules: string[] }>;
      blocked: Array<{ id: string; reason: string }>;
    };
    const reason = (id: string) => plan.blocked.find((blocked) => blocked.id === id)?.reason ?? '';
    expect(reason('etcd.client-tls')).to.contain('/etc/kubernetes/pki/etcd/server.crt not found on this node');
    expect(reason('etcd.client-cert-auth')).to.contain('requires etcd.client-tls first');
    expect(reason('etcd.auto-tls')).to.contain('requires etcd.client-tls first');
    // The peer side has its certificates: it is still fixed.
    const etcdChange = plan.changes.find((change) => change.path === '/etc/kubernetes/manifests/etcd.yaml');
    expect(etcdChange?.rules).to.include.members(['etcd.peer-client-cert-auth', 'etcd.peer-auto-tls']);
    expect(etcdChange?.rules).to.not.include('etcd.client-cert-auth');
  });

  it('requires the API server to present an etcd client certificate before etcd demands one', async () => {
    const root = copyFixture('kubeadm-control-plane-weak-1.29');
    const manifest = 'etc/kubernetes/manifests/kube-apiserver.yaml';
    const { writeFileSync, rmSync } = await import('node:fs');
    writeFileSync(`${root}/${manifest}`, read(root, manifest).replace(/ {4}- --etcd-(certfile|keyfile)=.*\n/g, ''));
    rmSync(`${root}/etc/kubernetes/pki/apiserver-etcd-client.key`);
    const plan = JSON.parse((await cli(['plan', '--output', 'json'], root)).out) as { blocked: Array<{ id: string; reason: string }> };
    expect(plan.blocked.find((blocked) => blocked.id === 'apiserver.etcd-client-certificate')?.reason).to.contain('not found on this node');
    expect(plan.blocked.find((blocked) => blocked.id === 'etcd.client-cert-auth')?.reason).to.contain(
      'requires apiserver.etcd-client-certificate first',
    );
  });
});

describe('etcd is health-gated like the other static pods', () => {
  after(cleanupTempDirs);

  it('waits for etcd after its manifest changes and restores it byte for byte when etcd does not come back', async () => {
    const root = copyFixture('kubeadm-control-plane-weak-1.33');
    await cli(['apply', '--output', 'json'], root);
    const manifest = 'etc/kubernetes/manifests/etcd.yaml';
    const { writeFileSync } = await import('node:fs');
    const weakened = read(root, manifest).replace('- --client-cert-auth=true', '- --client-cert-auth=false');
    writeFileSync(`${root}/${manifest}`, weakened);

    const harness = testCli({ health: new FakeHealthProbe([false, true]) });
    const code = await runCli(['apply', '--output', 'json', '--host-root', root], harness.deps);
    const result = JSON.parse(harness.stdout()) as { restarts: Array<{ service: string; result: string }> };
    expect(code).to.equal(1);
    expect(result.restarts.find((restart) => restart.service === 'static-pod/etcd')?.result).to.equal('rolled-back');
    expect(read(root, manifest)).to.equal(weakened);

    const healthy = testCli({ health: new FakeHealthProbe([true]) });
    await runCli(['apply', '--output', 'json', '--host-root', root], healthy.deps);
    const restarts = JSON.parse(healthy.stdout()).restarts as Array<{ service: string; result: string; rules: string[] }>;
    expect(restarts.find((restart) => restart.service === 'static-pod/etcd')).to.deep.include({
      result: 'restarted',
      rules: ['etcd.client-cert-auth'],
    });
    expect(read(root, manifest)).to.contain('- --client-cert-auth=true');
  });
});
