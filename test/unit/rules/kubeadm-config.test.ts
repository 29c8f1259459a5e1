import { expect } from 'chai';
import { parse } from 'yaml';
import { planKubeadmConfig, type ExtraVolume } from '../../../agent/rules/control-plane/kubeadm-config.js';

const V1BETA3 = `apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
# the operator's comment stays
apiServer:
  extraArgs:
    authorization-mode: Node,RBAC
    token-auth-file: /etc/kubernetes/tokens.csv
  timeoutForControlPlane: 4m0s
controllerManager: {}
etcd:
  local:
    dataDir: /var/lib/etcd
kubernetesVersion: v1.29.10
`;

const V1BETA4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  extraArgs:
  - name: authorization-mode
    value: Node,RBAC
  - name: profiling
    value: "true"
etcd:
  local:
    dataDir: /var/lib/etcd
    extraArgs:
    - name: auto-tls
      value: "true"
kubernetesVersion: v1.33.2
`;

describe('kubeadm ClusterConfiguration planner (durable control-plane flags)', () => {
  it('v1beta3: sets and removes extraArgs as a map, keeps comments and the rest, then changes nothing', () => {
    const plan = planKubeadmConfig(V1BETA3, {
      apiServer: { set: { profiling: 'false' }, unset: ['token-auth-file'] },
      controllerManager: { set: { 'use-service-account-credentials': 'true' }, unset: [] },
      etcd: { set: { 'client-cert-auth': 'true' }, unset: ['auto-tls'] },
    });
    if (!plan.ok) throw new Error(plan.error);
    expect(plan.changed).to.equal(true);
    expect(plan.text).to.contain("# the operator's comment stays");
    const config = parse(plan.text);
    expect(config.apiServer.extraArgs).to.deep.equal({ 'authorization-mode': 'Node,RBAC', profiling: 'false' });
    expect(config.apiServer.timeoutForControlPlane).to.equal('4m0s');
    expect(config.controllerManager.extraArgs).to.deep.equal({ 'use-service-account-credentials': 'true' });
    expect(config.etcd.local).to.deep.equal({ dataDir: '/var/lib/etcd', extraArgs: { 'client-cert-auth': 'true' } });
    // kubeadm's empty `controllerManager: {}` becomes a block, as kubeadm writes it.
    expect(plan.text).to.contain('\ncontrollerManager:\n  extraArgs:\n    use-service-account-credentials: "true"\n');
    const again = planKubeadmConfig(plan.text, { apiServer: { set: { profiling: 'false' }, unset: ['token-auth-file'] } });
    expect(again).to.deep.include({ ok: true, changed: false });
  });

  it('v1beta4: extraArgs as a list of { name, value }, values kept as strings', () => {
    const plan = planKubeadmConfig(V1BETA4, {
      apiServer: { set: { profiling: 'false', 'kubelet-client-certificate': '/etc/kubernetes/pki/apiserver-kubelet-client.crt' }, unset: [] },
      etcd: { set: { 'client-cert-auth': 'true' }, unset: ['auto-tls'] },
    });
    if (!plan.ok) throw new Error(plan.error);
    const config = parse(plan.text);
    expect(config.apiServer.extraArgs).to.deep.equal([
      { name: 'authorization-mode', value: 'Node,RBAC' },
      { name: 'profiling', value: 'false' },
      { name: 'kubelet-client-certificate', value: '/etc/kubernetes/pki/apiserver-kubelet-client.crt' },
    ]);
    expect(config.etcd.local.extraArgs).to.deep.equal([{ name: 'client-cert-auth', value: 'true' }]);
    // Sequences unindented, as kubeadm writes them; every value written double-quoted (kubeadm reads YAML 1.1,
    // where an unquoted `on` or `no` would be a boolean).
    expect(plan.text).to.contain('\n  extraArgs:\n  - name: authorization-mode\n');
    expect(plan.text).to.contain('  - name: kubelet-client-certificate\n    value: "/etc/kubernetes/pki/apiserver-kubelet-client.crt"\n');
    const yaml11 = planKubeadmConfig(V1BETA4, { apiServer: { set: { 'some-switch': 'on' }, unset: [] } });
    expect(yaml11.ok && yaml11.text).to.contain('value: "on"');
    expect(planKubeadmConfig(plan.text, { apiServer: { set: { profiling: 'false' }, unset: [] } })).to.deep.include({ changed: false });
  });

  it('leaves an external etcd alone and says why', () => {
    const text = 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\netcd:\n  external:\n    endpoints: [https://10.0.0.1:2379]\n';
    const plan = planKubeadmConfig(text, { etcd: { set: { 'client-cert-auth': 'true' }, unset: [] } });
    expect(plan).to.deep.include({ ok: true, changed: false });
    expect(plan.ok && plan.notes[0]).to.contain('external');
  });

  it('refuses what it cannot read whole: bad YAML, another kind or apiVersion, the wrong extraArgs form', () => {
    expect(planKubeadmConfig('kind: [', {})).to.include({ ok: false });
    expect(planKubeadmConfig('apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\n', {})).to.deep.equal({
      ok: false,
      error: 'ClusterConfiguration: kind must be ClusterConfiguration',
    });
    const beta2 = planKubeadmConfig('apiVersion: kubeadm.k8s.io/v1beta2\nkind: ClusterConfiguration\n', {});
    expect(beta2.ok === false && beta2.error).to.contain('v1beta2 is not one kube-harden writes');
    const mixed = planKubeadmConfig(V1BETA3.replace('kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'), {
      apiServer: { set: { profiling: 'false' }, unset: [] },
    });
    expect(mixed.ok === false && mixed.error).to.contain('must be a list');
    const unquoted = planKubeadmConfig(
      'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\napiServer:\n  extraArgs:\n    profiling: false\n',
      {
        apiServer: { set: { profiling: 'false' }, unset: [] },
      },
    );
    expect(unquoted.ok === false && unquoted.error).to.contain('values must be strings');
    const want = { apiServer: { set: { profiling: 'false' }, unset: [] }, etcd: { set: { 'client-cert-auth': 'true' }, unset: [] } };
    const header = 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n';
    for (const [body, error] of [
      ['apiServer: x\n', 'ClusterConfiguration: apiServer must be a mapping'],
      ['apiServer: []\n', 'ClusterConfiguration: apiServer must be a mapping'],
      ['etcd:\n  local: 5\n', 'ClusterConfiguration: etcd.local must be a mapping'],
    ])
      expect(planKubeadmConfig(header + body, want), body).to.deep.equal({ ok: false, error });
    // An empty section is kubeadm's "nothing set": filled as a block mapping.
    const empty = planKubeadmConfig(`${header}apiServer:\netcd:\n`, want);
    expect(empty.ok && parse(empty.text)).to.deep.include({
      apiServer: { extraArgs: { profiling: 'false' } },
      etcd: { local: { extraArgs: { 'client-cert-auth': 'true' } } },
    });
  });

  it('reports kubernetesVersion and what differs, by name only', () => {
    const plan = planKubeadmConfig(V1BETA3, { apiServer: { set: { profiling: 'false' }, unset: ['token-auth-file'] } });
    expect(plan).to.deep.include({ ok: true, kubernetesVersion: 'v1.29.10' });
    expect(plan.ok && plan.changes).to.deep.equal(['apiServer.extraArgs profiling', 'apiServer.extraArgs token-auth-file']);
  });

  it('never writes a per-node flag into the shared configuration, whatever asks (nothing is planned)', () => {
    for (const [section, flag] of [
      ['apiServer', 'advertise-address'],
      ['etcd', 'listen-client-urls'],
      ['etcd', 'initial-cluster'],
      ['etcd', 'name'],
    ] as const) {
      const plan = planKubeadmConfig(V1BETA3, { [section]: { set: { [flag]: 'https://10.0.0.10:2379' }, unset: [] } });
      expect(plan.ok === false && plan.error, `${section} ${flag}`).to.contain('differ per node');
      const removal = planKubeadmConfig(V1BETA3, { [section]: { set: {}, unset: [flag] } });
      expect(removal.ok, `${section} ${flag} unset`).to.equal(false);
    }
  });
});

const AUDIT_POLICY: ExtraVolume = {
  name: 'kube-harden-audit-policy',
  hostPath: '/etc/kubernetes/audit-policy.yaml',
  mountPath: '/etc/kubernetes/audit-policy.yaml',
  readOnly: true,
  pathType: 'File',
};
const AUDIT_LOG: ExtraVolume = {
  name: 'kube-harden-audit-log',
  hostPath: '/var/log/kubernetes/audit',
  mountPath: '/var/log/kubernetes/audit',
  readOnly: false,
  pathType: 'DirectoryOrCreate',
};

describe('kubeadm ClusterConfiguration planner: extraVolumes for the files the flags name', () => {
  for (const [version, text] of [
    ['v1beta3', V1BETA3],
    ['v1beta4', V1BETA4],
  ] as const)
    it(`${version}: adds the mounts with the flags, keeps the operator's, then changes nothing`, () => {
      const withOperatorVolume = text.replace(
        'apiServer:\n',
        'apiServer:\n  extraVolumes:\n  - name: cloud\n    hostPath: /etc/kubernetes/cloud.conf\n    mountPath: /etc/kubernetes/cloud.conf\n    readOnly: true\n',
      );
      const wanted = {
        apiServer: { set: { 'audit-policy-file': AUDIT_POLICY.mountPath }, unset: [], volumes: [AUDIT_POLICY, AUDIT_LOG] },
      };
      const plan = planKubeadmConfig(withOperatorVolume, wanted);
      if (!plan.ok) throw new Error(plan.error);
      expect(plan.changes).to.include.members(['apiServer.extraVolumes kube-harden-audit-policy', 'apiServer.extraVolumes kube-harden-audit-log']);
      const config = parse(plan.text);
      expect(config.apiServer.extraVolumes).to.deep.equal([
        { name: 'cloud', hostPath: '/etc/kubernetes/cloud.conf', mountPath: '/etc/kubernetes/cloud.conf', readOnly: true },
        { name: AUDIT_POLICY.name, hostPath: AUDIT_POLICY.hostPath, mountPath: AUDIT_POLICY.mountPath, readOnly: true, pathType: 'File' },
        { name: AUDIT_LOG.name, hostPath: AUDIT_LOG.hostPath, mountPath: AUDIT_LOG.mountPath, pathType: 'DirectoryOrCreate' },
      ]);
      expect(planKubeadmConfig(plan.text, wanted)).to.deep.include({ ok: true, changed: false, changes: [] });
    });

  it('an entry of the same name with other settings is replaced in place', () => {
    const text = `${V1BETA3}`.replace(
      'apiServer:\n',
      'apiServer:\n  extraVolumes:\n  - name: kube-harden-audit-log\n    hostPath: /var/log/old\n    mountPath: /var/log/old\n',
    );
    const plan = planKubeadmConfig(text, { apiServer: { set: {}, unset: [], volumes: [AUDIT_LOG] } });
    if (!plan.ok) throw new Error(plan.error);
    expect(parse(plan.text).apiServer.extraVolumes).to.deep.equal([
      { name: AUDIT_LOG.name, hostPath: AUDIT_LOG.hostPath, mountPath: AUDIT_LOG.mountPath, pathType: 'DirectoryOrCreate' },
    ]);
  });

  it('another entry mounting the same host path at the same place is enough; a different host path there is refused', () => {
    const same = V1BETA3.replace(
      'apiServer:\n',
      'apiServer:\n  extraVolumes:\n  - name: audit\n    hostPath: /var/log/kubernetes/audit\n    mountPath: /var/log/kubernetes/audit\n',
    );
    expect(planKubeadmConfig(same, { apiServer: { set: {}, unset: [], volumes: [AUDIT_LOG] } })).to.deep.include({ ok: true, changed: false });
    const other = same.replace('hostPath: /var/log/kubernetes/audit', 'hostPath: /srv/audit');
    const plan = planKubeadmConfig(other, { apiServer: { set: {}, unset: [], volumes: [AUDIT_LOG] } });
    expect(plan.ok === false && plan.error).to.contain('audit mounts /srv/audit at /var/log/kubernetes/audit');
  });

  it('refuses extraVolumes it cannot read whole, and etcd volumes (etcd.local has none)', () => {
    const twice = V1BETA3.replace(
      'apiServer:\n',
      'apiServer:\n  extraVolumes:\n  - { name: a, hostPath: /a, mountPath: /x }\n  - { name: b, hostPath: /b, mountPath: /x }\n',
    );
    const doubled = planKubeadmConfig(twice, {});
    expect(doubled.ok).to.equal(true); // not asked about apiServer: not judged
    const asked = planKubeadmConfig(twice, { apiServer: { set: {}, unset: [], volumes: [AUDIT_LOG] } });
    expect(asked.ok === false && asked.error).to.contain('two entries mount /x');
    const notAList = V1BETA3.replace('apiServer:\n', 'apiServer:\n  extraVolumes: /etc\n');
    const shape = planKubeadmConfig(notAList, { apiServer: { set: {}, unset: [], volumes: [AUDIT_LOG] } });
    expect(shape.ok === false && shape.error).to.contain('extraVolumes must be a list');
    const etcd = planKubeadmConfig(V1BETA3, { etcd: { set: {}, unset: [], volumes: [AUDIT_LOG] } });
    expect(etcd.ok === false && etcd.error).to.contain('etcd.local has no extraVolumes');
  });
});
