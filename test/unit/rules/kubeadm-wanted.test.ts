import { expect } from 'chai';
import { parse } from 'yaml';
import type { FindingStatus } from '../../../agent/core/finding.js';
import { buildContext } from '../../../agent/rules/context.js';
import { judgeKubeadmConfig, kubeadmClusterConfiguration } from '../../../agent/rules/control-plane/kubeadm-cluster-configuration.js';
import { PER_NODE_FLAGS } from '../../../agent/rules/control-plane/kubeadm-config.js';
import { KUBEADM_FLAG_OWNERS, kubeadmView } from '../../../agent/rules/control-plane/kubeadm-wanted.js';
import { RULES } from '../../../agent/rules/index.js';
import { observation } from '../../helpers/observation.js';
import { policyFrom } from '../../helpers/policy.js';

interface Mount {
  readonly name: string;
  readonly path: string;
  readonly type: string;
  readonly readOnly?: boolean;
}

/** A kubeadm-style static pod: the component's flags and hostPath mounts (same path inside and out). */
function manifest(component: string, image: string, flags: readonly string[], mounts: readonly Mount[] = []): string {
  return [
    'apiVersion: v1',
    'kind: Pod',
    'metadata:',
    `  name: ${component}`,
    '  namespace: kube-system',
    'spec:',
    '  containers:',
    '  - command:',
    `    - ${component}`,
    ...flags.map((flag) => `    - --${flag}`),
    `    image: ${image}`,
    `    name: ${component}`,
    '    volumeMounts:',
    ...mounts.flatMap((mount) => [
      `    - mountPath: ${mount.path}`,
      `      name: ${mount.name}`,
      ...(mount.readOnly ? ['      readOnly: true'] : []),
    ]),
    '  volumes:',
    ...mounts.flatMap((mount) => ['  - hostPath:', `      path: ${mount.path}`, `      type: ${mount.type}`, `    name: ${mount.name}`]),
    '',
  ].join('\n');
}

const PKI: Mount = { name: 'k8s-certs', path: '/etc/kubernetes/pki', type: 'DirectoryOrCreate', readOnly: true };
const ETCD_CERTS: Mount = { name: 'etcd-certs', path: '/etc/kubernetes/pki/etcd', type: 'DirectoryOrCreate' };

/** A hardened kubeadm control plane (v1.29.10) as kube-harden leaves it, with this node's own addresses. */
function controlPlane(apiserverFlags: readonly string[] = []): ReturnType<typeof observation> {
  return observation({
    files: {
      '/etc/kubernetes/manifests/kube-apiserver.yaml': manifest(
        'kube-apiserver',
        'registry.k8s.io/kube-apiserver:v1.29.10',
        [
          'advertise-address=10.0.0.10',
          'authorization-mode=Node,RBAC',
          'audit-log-maxage=30',
          'audit-log-path=/var/log/kubernetes/audit/audit.log',
          'audit-policy-file=/etc/kubernetes/audit-policy.yaml',
          'admission-control-config-file=/etc/kubernetes/admission-control.yaml',
          'enable-admission-plugins=NodeRestriction,EventRateLimit',
          'etcd-servers=https://127.0.0.1:2379',
          'kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt',
          'profiling=false',
          ...apiserverFlags,
        ],
        [
          PKI,
          { name: 'kube-harden-admission-control', path: '/etc/kubernetes/admission-control.yaml', type: 'File', readOnly: true },
          { name: 'kube-harden-audit-log', path: '/var/log/kubernetes/audit', type: 'DirectoryOrCreate' },
          { name: 'kube-harden-audit-policy', path: '/etc/kubernetes/audit-policy.yaml', type: 'File', readOnly: true },
        ],
      ),
      '/etc/kubernetes/manifests/kube-scheduler.yaml': manifest('kube-scheduler', 'registry.k8s.io/kube-scheduler:v1.29.10', [
        'bind-address=127.0.0.1',
        'kubeconfig=/etc/kubernetes/scheduler.conf',
        'profiling=false',
      ]),
      '/etc/kubernetes/manifests/etcd.yaml': manifest(
        'etcd',
        'registry.k8s.io/etcd:3.5.12-0',
        [
          'advertise-client-urls=https://10.0.0.10:2379',
          'cert-file=/etc/kubernetes/pki/etcd/server.crt',
          'client-cert-auth=true',
          'initial-cluster=cp-1=https://10.0.0.10:2380',
          'key-file=/etc/kubernetes/pki/etcd/server.key',
          'listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379',
          'name=cp-1',
          'trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt',
        ],
        [ETCD_CERTS],
      ),
    },
  });
}

/** Every owning rule passes, except those given. */
function statuses(overrides: Record<string, FindingStatus> = {}): Map<string, FindingStatus> {
  return new Map([...KUBEADM_FLAG_OWNERS.map((owner) => [owner.rule, 'pass'] as const), ...Object.entries(overrides)]);
}

const V1BETA3 = `apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
apiServer:
  extraArgs:
    authorization-mode: Node,RBAC
kubernetesVersion: v1.29.10
etcd:
  local:
    dataDir: /var/lib/etcd
`;

describe('what a kubeadm control-plane node mirrors into the ClusterConfiguration', () => {
  it('only the flags kube-harden owns: never an address, an etcd member name or URL, or an operator flag', () => {
    const view = kubeadmView(controlPlane(), statuses());
    expect(view.applies).to.equal(true);
    const named = Object.entries(view.wanted).flatMap(([, args]) => [...Object.keys(args.set), ...args.unset]);
    for (const flag of ['advertise-address', 'etcd-servers', 'kubeconfig', 'listen-client-urls', 'advertise-client-urls', 'initial-cluster', 'name'])
      expect(named, flag).to.not.include(flag);
    expect(view.wanted.apiServer!.set).to.include({ profiling: 'false', 'audit-log-maxage': '30', 'authorization-mode': 'Node,RBAC' });
    expect(view.wanted.etcd!.set).to.deep.equal({
      'cert-file': '/etc/kubernetes/pki/etcd/server.crt',
      'key-file': '/etc/kubernetes/pki/etcd/server.key',
      'client-cert-auth': 'true',
      'trusted-ca-file': '/etc/kubernetes/pki/etcd/ca.crt',
    });
    // Owned flags the manifest does not have are removed from the configuration (what kube-harden removed stays removed).
    expect(view.wanted.apiServer!.unset).to.include.members(['token-auth-file', 'anonymous-auth']);
    expect(view.wanted.etcd!.unset).to.include.members(['auto-tls', 'peer-auto-tls']);
    // No controller manager manifest on this node: that section is not judged at all.
    expect(view.wanted).to.not.have.property('controllerManager');
    expect(view.version).to.deep.include({ major: 1, minor: 29, patch: 10 });
  });

  it('no rule owns a per-node flag, and every owner is a rule of the catalogue', () => {
    const ids = new Set(RULES.map((rule) => rule.meta.id));
    for (const owner of KUBEADM_FLAG_OWNERS) {
      expect(ids.has(owner.rule), owner.rule).to.equal(true);
      expect(
        owner.flags.filter((flag) => PER_NODE_FLAGS[owner.section].includes(flag)),
        owner.rule,
      ).to.deep.equal([]);
    }
  });

  it('the mounts of the files the flags name, except those kubeadm makes itself (the PKI directory)', () => {
    const view = kubeadmView(controlPlane(), statuses());
    expect(view.wanted.apiServer!.volumes).to.deep.equal([
      {
        name: 'kube-harden-admission-control',
        hostPath: '/etc/kubernetes/admission-control.yaml',
        mountPath: '/etc/kubernetes/admission-control.yaml',
        readOnly: true,
        pathType: 'File',
      },
      {
        name: 'kube-harden-audit-log',
        hostPath: '/var/log/kubernetes/audit',
        mountPath: '/var/log/kubernetes/audit',
        readOnly: false,
        pathType: 'DirectoryOrCreate',
      },
      {
        name: 'kube-harden-audit-policy',
        hostPath: '/etc/kubernetes/audit-policy.yaml',
        mountPath: '/etc/kubernetes/audit-policy.yaml',
        readOnly: true,
        pathType: 'File',
      },
    ]);
    expect(view.wanted.etcd).to.not.have.property('volumes');
  });

  it('an encryption configuration that passes is kept durable with its mount (kubeadm upgrade would lose both)', () => {
    const obs = observation({
      files: {
        '/etc/kubernetes/manifests/kube-apiserver.yaml': manifest(
          'kube-apiserver',
          'registry.k8s.io/kube-apiserver:v1.29.10',
          ['encryption-provider-config=/etc/kubernetes/enc/config.yaml'],
          [{ name: 'encryption', path: '/etc/kubernetes/enc', type: 'DirectoryOrCreate', readOnly: true }],
        ),
      },
    });
    const view = kubeadmView(obs, statuses());
    expect(view.wanted.apiServer!.set).to.include({ 'encryption-provider-config': '/etc/kubernetes/enc/config.yaml' });
    expect(view.wanted.apiServer!.volumes).to.deep.equal([
      { name: 'encryption', hostPath: '/etc/kubernetes/enc', mountPath: '/etc/kubernetes/enc', readOnly: true, pathType: 'DirectoryOrCreate' },
    ]);
    const weak = kubeadmView(obs, statuses({ 'apiserver.encryption-at-rest': 'fail' }));
    expect(weak.wanted.apiServer!.set).to.not.have.property('encryption-provider-config');
    expect(weak.wanted.apiServer).to.not.have.property('volumes');
  });

  it('a weakened manifest is never copied: a flag whose rule fails or is unknown is left alone, and said so', () => {
    const obs = controlPlane(['profiling=true']);
    const view = kubeadmView(obs, statuses({ 'apiserver.profiling': 'fail', 'etcd.client-cert-auth': 'unknown' }));
    expect(view.wanted.apiServer!.set).to.not.have.property('profiling');
    expect(view.wanted.apiServer!.unset).to.not.include('profiling');
    // trusted-ca-file is owned by two rules: one not passing holds it.
    expect(view.wanted.etcd!.set).to.not.have.property('client-cert-auth');
    expect(view.wanted.etcd!.set).to.not.have.property('trusted-ca-file');
    expect(view.held).to.have.members(['apiserver.profiling', 'etcd.client-cert-auth']);
    // A flag shared with a passing rule (enable-admission-plugins: admission-plugins and event-rate-limit) needs both.
    const shared = kubeadmView(obs, statuses({ 'apiserver.admission-plugins': 'fail' }));
    expect(shared.wanted.apiServer!.set).to.not.have.property('enable-admission-plugins');
    expect(shared.wanted.apiServer!.set).to.have.property('admission-control-config-file');
  });

  it('a rule the policy disables (skip) owns nothing: its flags are the operator’s', () => {
    const view = kubeadmView(controlPlane(), statuses({ 'apiserver.profiling': 'skip', 'apiserver.token-auth-file': 'skip' }));
    expect([...Object.keys(view.wanted.apiServer!.set), ...view.wanted.apiServer!.unset]).to.not.include.members(['profiling', 'token-auth-file']);
    expect(view.held).to.deep.equal([]);
  });

  it('not a kubeadm control plane: a worker, or the k8s snap', () => {
    expect(kubeadmView(observation({}), statuses()).applies).to.equal(false);
    expect(kubeadmView(observation({ files: { '/var/snap/k8s/common/args/kube-apiserver': '--profiling=false\n' } }), statuses()).applies).to.equal(
      false,
    );
  });
});

describe('the verdict on kube-system/kubeadm-config', () => {
  it('fails when the ClusterConfiguration lacks the flags, offers the whole new text, then passes on it', () => {
    const view = kubeadmView(controlPlane(), statuses({ 'apiserver.anonymous-auth': 'fail' }));
    const judged = judgeKubeadmConfig(V1BETA3, view);
    expect(judged.finding).to.deep.include({ id: 'kubeadm.cluster-configuration', status: 'fail', remediable: true });
    expect(judged.finding.actual).to.contain('apiServer.extraArgs profiling').and.contain('apiServer.extraVolumes kube-harden-audit-log');
    expect(judged.finding.message).to.contain('not mirrored while their rules do not pass on this node: apiserver.anonymous-auth');
    expect(judged.finding.source).to.equal('configmap kube-system/kubeadm-config (ClusterConfiguration)');
    const config = parse(judged.after!);
    expect(config.apiServer.extraArgs.profiling).to.equal('false');
    expect(config.etcd.local.extraArgs['client-cert-auth']).to.equal('true');
    expect(config.etcd.local.dataDir).to.equal('/var/lib/etcd');
    const again = judgeKubeadmConfig(judged.after, view);
    expect(again).to.deep.include({ after: null, changes: [] });
    expect(again.finding.status).to.equal('pass');
  });

  it('is not written by a node on another version than the ClusterConfiguration (an upgrade under way)', () => {
    const view = kubeadmView(controlPlane(), statuses());
    const judged = judgeKubeadmConfig(V1BETA3.replace('v1.29.10', 'v1.30.2'), view);
    expect(judged.after).to.equal(null);
    expect(judged.finding).to.deep.include({ status: 'fail', remediable: false });
    expect(judged.finding.message).to.contain('not written: this node runs kube-apiserver v1.29.10 and the ClusterConfiguration is for v1.30.2');
  });

  it('an apiVersion it does not know is unknown and nothing is offered; no ConfigMap is skip', () => {
    const view = kubeadmView(controlPlane(), statuses());
    const judged = judgeKubeadmConfig(V1BETA3.replace('v1beta3', 'v1beta5'), view);
    expect(judged.after).to.equal(null);
    expect(judged.finding.status).to.equal('unknown');
    expect(judged.finding.message).to.equal(
      'ClusterConfiguration: apiVersion kubeadm.k8s.io/v1beta5 is not one kube-harden writes (kubeadm.k8s.io/v1beta3, kubeadm.k8s.io/v1beta4); nothing written',
    );
    expect(judgeKubeadmConfig(null, view).finding.status).to.equal('skip');
  });

  it('an unknown kube-apiserver version (no image tag) writes nothing', () => {
    const obs = controlPlane();
    const text = obs.files.get('/etc/kubernetes/manifests/kube-apiserver.yaml') as { content: string };
    const untagged = observation({
      files: {
        '/etc/kubernetes/manifests/kube-apiserver.yaml': text.content.replace(
          'registry.k8s.io/kube-apiserver:v1.29.10',
          'registry.local/kube-apiserver@sha256',
        ),
      },
    });
    const judged = judgeKubeadmConfig(V1BETA3, kubeadmView(untagged, statuses()));
    expect(judged).to.deep.include({ after: null });
    expect(judged.finding).to.deep.include({ status: 'fail', remediable: false });
    expect(judged.finding.message).to.contain('not written: the kube-apiserver version on this node is unknown');
  });
});

describe('kubeadm.cluster-configuration on the node alone (audit, plan)', () => {
  const evaluate = (obs: ReturnType<typeof observation>) => kubeadmClusterConfiguration.evaluate(buildContext(obs, policyFrom())).finding;

  it('skips everywhere: the daemon with cluster credentials judges it on kubeadm control-plane nodes', () => {
    expect(evaluate(controlPlane())).to.deep.include({ status: 'skip', remediable: false });
    expect(evaluate(controlPlane()).message).to.contain('judged against ConfigMap kube-system/kubeadm-config by kube-harden run');
    expect(evaluate(observation({}))).to.deep.include({ status: 'skip', message: 'no kube-apiserver on this node' });
    expect(evaluate(observation({ files: { '/var/snap/k8s/common/args/kube-apiserver': '--profiling=false\n' } })).message).to.contain(
      'there is no kubeadm ClusterConfiguration',
    );
  });
});
