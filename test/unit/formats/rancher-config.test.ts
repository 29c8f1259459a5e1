import { expect } from 'chai';
import { FormatError } from '../../../agent/formats/env-file.js';
import { mergeRancherConfig, removeRancherListEntries, splitArg } from '../../../agent/formats/rancher-config.js';

describe('k3s/RKE2 config files', () => {
  it('merges as the k3s docs describe: the last value wins, key+ appends to the accumulated list', () => {
    // docs.k3s.io "Multiple Config Files" example.
    const merged = mergeRancherConfig([
      { path: '/etc/rancher/k3s/config.yaml', text: 'token: boop\nnode-label:\n  - foo=bar\n  - bar=baz\n' },
      { path: '/etc/rancher/k3s/config.yaml.d/test1.yaml', text: 'write-kubeconfig-mode: 600\nnode-taint:\n  - alice=bob:NoExecute\n' },
      {
        path: '/etc/rancher/k3s/config.yaml.d/test2.yaml',
        text: 'write-kubeconfig-mode: 777\nnode-label:\n  - other=what\n  - foo=three\nnode-taint+:\n  - charlie=delta:NoSchedule\n',
      },
    ]);
    const values = (key: string) => {
      const value = merged.get(key);
      return value?.kind === 'list' ? value.items.map((item) => item.value) : value?.value;
    };
    expect(values('write-kubeconfig-mode')).to.equal('777');
    expect(values('token')).to.equal('boop');
    expect(values('node-label')).to.deep.equal(['other=what', 'foo=three']);
    expect(values('node-taint')).to.deep.equal(['alice=bob:NoExecute', 'charlie=delta:NoSchedule']);
    const taints = merged.get('node-taint');
    expect(taints?.kind === 'list' && taints.items.map((item) => item.path)).to.deep.equal([
      '/etc/rancher/k3s/config.yaml.d/test1.yaml',
      '/etc/rancher/k3s/config.yaml.d/test2.yaml',
    ]);
  });

  it('names the file of a broken one', () => {
    expect(() => mergeRancherConfig([{ path: '/etc/rancher/k3s/config.yaml', text: '- a\n' }])).to.throw(FormatError, '/etc/rancher/k3s/config.yaml');
  });

  it('removes list entries keeping comments; an emptied list stays as [] so it still replaces earlier files', () => {
    const text = '# top\nkubelet-arg:\n  - "max-pods=150" # sized\n  - "read-only-port=10255" # legacy\n';
    expect(removeRancherListEntries(text, 'kubelet-arg', (entry) => splitArg(entry).name === 'read-only-port')).to.equal(
      '# top\nkubelet-arg:\n  - "max-pods=150" # sized\n',
    );
    expect(removeRancherListEntries('kubelet-arg:\n- read-only-port=1\n', 'kubelet-arg', () => true)).to.equal('kubelet-arg: []\n');
    expect(removeRancherListEntries('kubelet-arg: read-only-port=1\n', 'kubelet-arg', () => true)).to.equal('kubelet-arg: []\n');
    expect(removeRancherListEntries('a: 1\n', 'kubelet-arg', () => true)).to.equal('a: 1\n');
  });

  it('keeps a JSON drop-in JSON', () => {
    const text = '{\n  "kubelet-arg": ["a=1", "b=2"],\n  "x": true\n}\n';
    expect(removeRancherListEntries(text, 'kubelet-arg', (entry) => entry === 'a=1')).to.equal(
      '{\n  "kubelet-arg": [\n    "b=2"\n  ],\n  "x": true\n}\n',
    );
  });

  it('splits kubelet-arg entries', () => {
    expect(splitArg('--max-pods=150')).to.deep.equal({ name: 'max-pods', value: '150' });
    expect(splitArg('eviction-hard=memory.available<5%')).to.deep.equal({ name: 'eviction-hard', value: 'memory.available<5%' });
    expect(splitArg('rotate-certificates')).to.deep.equal({ name: 'rotate-certificates', value: 'true' });
  });
});
