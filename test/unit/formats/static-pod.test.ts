import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FormatError } from '../../../agent/formats/env-file.js';
import { hostFileVisibility, parseStaticPod, removePodFlag, setPodFlag } from '../../../agent/formats/static-pod.js';
import { fixturePath } from '../../helpers/host.js';

const manifest = (name: string) => readFileSync(path.join(fixturePath('kubeadm-control-plane'), 'etc/kubernetes/manifests', `${name}.yaml`), 'utf8');

describe('static pod manifest codec', () => {
  it('reads the component flags and the image tag version', () => {
    const pod = parseStaticPod(manifest('kube-apiserver'), 'kube-apiserver');
    expect(pod.imageTag).to.equal('v1.29.10');
    expect(pod.flags.find((flag) => flag.name === 'authorization-mode')?.value).to.equal('Node,RBAC');
  });

  it('replaces a flag in place and changes nothing else', () => {
    const text = manifest('kube-scheduler');
    const out = setPodFlag(text, 'kube-scheduler', 'bind-address', '127.0.0.2');
    expect(out).to.equal(text.replace('--bind-address=127.0.0.1', '--bind-address=127.0.0.2'));
  });

  it('inserts a new flag in sorted position, keeping probes, volumes and unindented lists', () => {
    const text = manifest('kube-scheduler');
    const out = setPodFlag(text, 'kube-scheduler', 'profiling', 'false');
    expect(out).to.equal(text.replace('    - --leader-elect=true\n', '    - --leader-elect=true\n    - --profiling=false\n'));
  });

  it('removes every occurrence', () => {
    const text = manifest('kube-controller-manager');
    expect(removePodFlag(text, 'kube-controller-manager', 'leader-elect')).to.equal(text.replace('    - --leader-elect=true\n', ''));
    expect(removePodFlag(text, 'kube-controller-manager', 'nope')).to.equal(text);
  });

  for (const [name, text] of [
    ['a Deployment', 'apiVersion: apps/v1\nkind: Deployment\n'],
    ['a Pod without containers', 'kind: Pod\nspec: {}\n'],
    ['a Pod without the component container', 'kind: Pod\nspec:\n  containers:\n  - name: a\n  - name: b\n'],
    ['broken YAML', 'kind: Pod\nspec: [\n'],
  ] as const)
    it(`rejects ${name}`, () => expect(() => parseStaticPod(text, 'kube-scheduler')).to.throw(FormatError));
});

describe('static pod: how a container sees a host file', () => {
  const pod = (mounts: string, volumes: string) =>
    parseStaticPod(
      `kind: Pod\nspec:\n  containers:\n  - name: kube-apiserver\n    command: [kube-apiserver]\n    volumeMounts:\n${mounts}  volumes:\n${volumes}`,
      'kube-apiserver',
    );

  it('same host path at the file or a parent: same; from elsewhere: other; not mounted: none; the deepest mount decides', () => {
    const pki = pod('    - { name: pki, mountPath: /etc/kubernetes/pki }\n', '  - { name: pki, hostPath: { path: /etc/kubernetes/pki } }\n');
    expect(hostFileVisibility(pki, '/etc/kubernetes/pki/enc.yaml')).to.equal('same');
    expect(hostFileVisibility(pki, '/etc/kubernetes/pkix/enc.yaml')).to.equal('none');
    const moved = pod('    - { name: enc, mountPath: /etc/kubernetes/enc }\n', '  - { name: enc, hostPath: { path: /srv/enc } }\n');
    expect(hostFileVisibility(moved, '/etc/kubernetes/enc/encryption-config.yaml')).to.equal('other');
    const nested = pod(
      '    - { name: etc, mountPath: /etc/kubernetes }\n    - { name: enc, mountPath: /etc/kubernetes/enc }\n',
      '  - { name: etc, hostPath: { path: /srv/k8s } }\n  - { name: enc, hostPath: { path: /etc/kubernetes/enc } }\n',
    );
    expect(hostFileVisibility(nested, '/etc/kubernetes/enc/encryption-config.yaml')).to.equal('same');
    expect(hostFileVisibility(nested, '/etc/kubernetes/admin.conf')).to.equal('other');
  });
});
