import { expect } from 'chai';
import type { FileState } from '../../../../agent/core/observation.js';
import { detectDistribution, distributionLabel, MARKERS, osReleaseId } from '../../../../agent/rules/platform/distribution.js';
import { nodeOwner, writeRefusal } from '../../../../agent/rules/platform/owner.js';

function obs(files: Record<string, string>) {
  const map = new Map<string, FileState>();
  for (const [path, content] of Object.entries(files)) map.set(path, { kind: 'file', path, content, mode: 0o644, uid: 0, gid: 0 });
  return { files: map };
}

describe('distribution detection', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['kubeadm by its flags file', { [MARKERS.kubeadmFlags]: '' }, 'kubeadm'],
    ['the k8s snap', { [MARKERS.snapKubeletArgs]: '' }, 'k8s-snap'],
    ['a k3s server', { [MARKERS.k3sServerUnit]: '', [MARKERS.k3sConfig]: '' }, 'k3s-server'],
    ['a k3s agent', { [MARKERS.k3sAgentUnit]: '' }, 'k3s-agent'],
    ['an RKE2 server (enabled unit)', { [MARKERS.rke2ServerEnabled]: '' }, 'rke2-server'],
    ['an RKE2 agent (enabled unit)', { [MARKERS.rke2AgentEnabled]: '' }, 'rke2-agent'],
    ['k3s by its config alone', { [MARKERS.k3sConfig]: '' }, 'k3s'],
    ['EKS AL2023 (nodeadm) before its kubeadm-like unit', { [MARKERS.eksNodeadmEnvironment]: '', [MARKERS.kubeadmConfig]: '' }, 'eks-al2023'],
    ['EKS AL2 (bootstrap.sh)', { [MARKERS.eksBootstrap]: '' }, 'eks-al2'],
    ['GKE by its kubelet config', { [MARKERS.gkeKubeletConfig]: '' }, 'gke'],
    ['GKE COS by os-release', { [MARKERS.osRelease]: 'NAME="Container-Optimized OS"\nID=cos\n' }, 'gke'],
    ['Talos', { [MARKERS.osRelease]: 'NAME="Talos"\nID=talos\n' }, 'talos'],
    ['OpenShift by the MCD, before any kubelet layout', { [MARKERS.openshiftMcd]: '{}', [MARKERS.kubeadmConfig]: '' }, 'openshift'],
    ['RHCOS by os-release', { [MARKERS.osRelease]: 'ID="rhcos"\n' }, 'openshift'],
    ['MicroK8s', { [MARKERS.microk8sKubeletArgs]: '' }, 'microk8s'],
    ['nothing known', { [MARKERS.osRelease]: 'ID=debian\n' }, 'unknown'],
  ];
  for (const [name, files, label] of cases) it(name, () => expect(distributionLabel(detectDistribution(obs(files)))).to.equal(label));

  it('names the marker that decided', () => {
    expect(detectDistribution(obs({ [MARKERS.k3sAgentUnit]: '' })).evidence).to.equal('/etc/systemd/system/k3s-agent.service');
  });

  it('reads os-release ID quoted or not', () => {
    expect(osReleaseId(obs({ [MARKERS.osRelease]: 'NAME=x\nID="RHCOS"\n' }))).to.equal('rhcos');
    expect(osReleaseId(obs({}))).to.equal(null);
  });
});

describe('who owns the node configuration', () => {
  it('OpenShift, Talos, GKE and MicroK8s refuse writes with one line naming the owner and the way instead', () => {
    expect(writeRefusal(obs({ [MARKERS.openshiftMcd]: '{}' }))).to.match(
      /^OpenShift's Machine Config Operator owns this node's configuration \(\/etc\/machine-config-daemon\/currentconfig\): kube-harden changes nothing here; use a MachineConfig/,
    );
    expect(writeRefusal(obs({ [MARKERS.osRelease]: 'ID=talos\n' }))).to.contain('a Talos machine config patch');
    expect(writeRefusal(obs({ [MARKERS.gkeKubeletConfig]: '' }))).to.contain("the node pool's settings");
    expect(writeRefusal(obs({ [MARKERS.microk8sKubeletArgs]: '' }))).to.match(/^MicroK8s owns/);
  });

  it('kubeadm, the snap, k3s, RKE2 and EKS are kube-harden to change', () => {
    for (const id of ['kubeadm', 'k8s-snap', 'k3s', 'rke2', 'eks-al2', 'eks-al2023', 'unknown'] as const)
      expect(nodeOwner({ id, role: null, evidence: null })).to.equal(null);
  });
});
