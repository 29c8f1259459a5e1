import { expect } from 'chai';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../../agent/cli/index.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { cleanupTempDirs, copyFixture, read, testCli } from '../helpers/host.js';

const MANIFESTS = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

async function cli(args: string[], root: string, health = new FakeHealthProbe([true])) {
  const harness = testCli({ health });
  const code = await runCli([...args, '--host-root', root], harness.deps);
  return { code, out: harness.stdout(), harness };
}

function withoutCommand(text: string): unknown {
  const pod = parse(text) as { spec: { containers: Array<{ command?: string[] }> } };
  for (const container of pod.spec.containers) delete container.command;
  return pod;
}

describe('control-plane flags on a kubeadm control plane', () => {
  after(cleanupTempDirs);

  it('apply sets profiling and bind-address in the three manifests, keeps everything else, leaves etcd and no stray file', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const before = Object.fromEntries(MANIFESTS.map((name) => [name, read(root, `etc/kubernetes/manifests/${name}.yaml`)]));
    const etcd = read(root, 'etc/kubernetes/manifests/etcd.yaml');
    const { out } = await cli(['apply', '--no-restart', '--output', 'json'], root);
    const result = JSON.parse(out);
    expect(result.restarts.map((restart: { service: string }) => restart.service)).to.include.members([
      'static-pod/kube-apiserver',
      'static-pod/kube-controller-manager',
      'static-pod/kube-scheduler',
    ]);
    for (const name of MANIFESTS) {
      const after = read(root, `etc/kubernetes/manifests/${name}.yaml`);
      expect(after).to.contain('- --profiling=false');
      // Still a Pod with the same probes, volumes and everything but the command list.
      expect(withoutCommand(after)).to.deep.equal(withoutCommand(before[name]!));
      const oldFlags = (parse(before[name]!) as { spec: { containers: Array<{ command: string[] }> } }).spec.containers[0]!.command;
      const newFlags = (parse(after) as { spec: { containers: Array<{ command: string[] }> } }).spec.containers[0]!.command;
      expect(newFlags.filter((flag) => !oldFlags.includes(flag)).every((flag) => /^--(profiling|bind-address)=/.test(flag))).to.equal(true);
    }
    expect(read(root, 'etc/kubernetes/manifests/kube-scheduler.yaml')).to.contain('- --bind-address=127.0.0.1');
    expect(read(root, 'etc/kubernetes/manifests/etcd.yaml')).to.equal(etcd);
    expect(readdirSync(path.join(root, 'etc/kubernetes/manifests')).sort()).to.deep.equal([
      'etcd.yaml',
      'kube-apiserver.yaml',
      'kube-controller-manager.yaml',
      'kube-scheduler.yaml',
    ]);
    const second = JSON.parse((await cli(['plan', '--output', 'json'], root)).out);
    expect(second.changes).to.deep.equal([]);
  });

  it('waits for each component after its manifest changes; never calls systemctl for a static pod', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const health = new FakeHealthProbe([true]);
    const { out, harness } = await cli(['apply', '--output', 'json'], root, health);
    const restarts = JSON.parse(out).restarts as Array<{ service: string; result: string }>;
    expect(restarts.filter((restart) => restart.service.startsWith('static-pod/')).every((restart) => restart.result === 'restarted')).to.equal(true);
    expect(harness.services.restarts).to.deep.equal(['kubelet']);
    // One health wait per component manifest, plus the kubelet's.
    expect(health.calls.length).to.equal(4);
  });

  it('restores a manifest byte for byte when its component does not come back, and goes on with the others', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const before = Object.fromEntries(MANIFESTS.map((name) => [name, read(root, `etc/kubernetes/manifests/${name}.yaml`)]));
    // The first component written stays unhealthy (and comes back once its manifest is restored).
    const { code, out } = await cli(['apply', '--output', 'json'], root, new FakeHealthProbe([false, true]));
    expect(code).to.equal(1);
    const result = JSON.parse(out);
    const rolledBack = result.changes.filter((change: { result: string }) => change.result === 'rolled-back');
    expect(rolledBack).to.have.length(1);
    const name = /manifests\/(kube-[a-z-]+)\.yaml$/.exec(rolledBack[0].path)![1]!;
    expect(read(root, `etc/kubernetes/manifests/${name}.yaml`)).to.equal(before[name]);
    expect(result.restarts.find((restart: { service: string }) => restart.service === `static-pod/${name}`).result).to.equal('rolled-back');
    for (const other of MANIFESTS.filter((candidate) => candidate !== name))
      expect(read(root, `etc/kubernetes/manifests/${other}.yaml`)).to.contain('--profiling=false');
  });

  it('does not change a component whose version is unknown (no image tag)', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const file = path.join(root, 'etc/kubernetes/manifests/kube-scheduler.yaml');
    writeFileSync(
      file,
      read(root, 'etc/kubernetes/manifests/kube-scheduler.yaml').replace(
        'image: registry.k8s.io/kube-scheduler:v1.31.4',
        'image: registry.local/kube-scheduler@sha256:abc',
      ),
    );
    const { out } = await cli(['plan', '--output', 'json'], root);
    const plan = JSON.parse(out);
    expect(plan.changes.some((change: { path: string }) => change.path.endsWith('kube-scheduler.yaml') && !change.path.includes('chmod'))).to.equal(
      plan.changes.some((change: { path: string; action: string }) => change.path.endsWith('kube-scheduler.yaml') && change.action === 'chmod'),
    );
    expect(plan.blocked.find((b: { id: string }) => b.id === 'scheduler.profiling').reason).to.contain('version unknown');
  });
});
