import { expect } from 'chai';
import { parse } from 'yaml';
import { planKubeadmConfig } from '../../../agent/rules/control-plane/kubeadm-config.js';

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
  });
});

describe('wanted ClusterConfiguration flags, read from a hardened manifest', () => {
  it('each owned flag the manifest has is set, each owned flag it lacks is unset; other flags are not touched', async () => {
    const { observation } = await import('../../helpers/observation.js');
    const { wantedFromManifests } = await import('../../../agent/rules/control-plane/kubeadm-config.js');
    const manifest = `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.5.21-0\n    command:\n    - etcd\n    - --client-cert-auth=true\n    - --data-dir=/var/lib/etcd\n`;
    const wanted = wantedFromManifests(observation({ files: { '/etc/kubernetes/manifests/etcd.yaml': manifest } }));
    expect(Object.keys(wanted)).to.deep.equal(['etcd']);
    expect(wanted.etcd!.set).to.deep.equal({ 'client-cert-auth': 'true' });
    expect(wanted.etcd!.unset).to.include('auto-tls').and.not.include('data-dir');
  });
});
