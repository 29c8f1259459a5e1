import { expect } from 'chai';
import { deepFreeze, memoizeParse } from '../../../agent/formats/parse-memo.js';
import { getConfigValue, parseKubeletConfig, setConfigValue } from '../../../agent/formats/kubelet-yaml.js';
import { parseStaticPod } from '../../../agent/formats/static-pod.js';
import { parseEnvFile } from '../../../agent/formats/env-file.js';
import { parseUnitService } from '../../../agent/formats/systemd-unit.js';

describe('parse memo: each distinct text parsed once', () => {
  it('parses a text once and hands every caller the same result', () => {
    let parses = 0;
    const parse = memoizeParse((text: string) => ({ length: text.length, n: ++parses }));
    const first = parse('a: 1');
    expect(parse('a: 1')).to.equal(first);
    expect(parse('b: 22').n).to.equal(2);
    expect(parses).to.equal(2);
  });

  it('remembers a parse error and throws it again without parsing', () => {
    let parses = 0;
    const parse = memoizeParse((text: string) => {
      parses++;
      throw new Error(`bad ${text}`);
    });
    expect(() => parse('x')).to.throw('bad x');
    expect(() => parse('x')).to.throw('bad x');
    expect(parses).to.equal(1);
  });

  it('is bounded: the least recently used text is parsed again after eviction', () => {
    let parses = 0;
    const parse = memoizeParse((text: string) => `${text}#${++parses}`, 2);
    parse('a');
    parse('b');
    parse('a'); // a is now the most recently used
    parse('c'); // evicts b
    expect(parse('a')).to.equal('a#1');
    expect(parse('b')).to.equal('b#4');
  });

  it('freezes deeply, iteratively (a 20 000-level nesting does not overflow the stack)', () => {
    let deep: unknown[] = [];
    const root = deep;
    for (let level = 0; level < 20_000; level++) {
      const next: unknown[] = [];
      deep.push(next);
      deep = next;
    }
    deepFreeze(root);
    expect(Object.isFrozen(deep)).to.equal(true);
  });

  it('a kubelet config read for judging is shared and frozen; edits still work on the text', () => {
    const text = 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nauthentication:\n  anonymous:\n    enabled: true\n';
    const parsed = parseKubeletConfig(text);
    expect(parseKubeletConfig(text)).to.equal(parsed);
    expect(getConfigValue(parsed, ['authentication', 'anonymous', 'enabled'])).to.equal(true);
    expect(() => ((getConfigValue(parsed, ['authentication', 'anonymous']) as Record<string, unknown>).enabled = false)).to.throw(TypeError);
    const edited = setConfigValue(text, ['authentication', 'anonymous', 'enabled'], false);
    expect(getConfigValue(parseKubeletConfig(edited), ['authentication', 'anonymous', 'enabled'])).to.equal(false);
    expect(getConfigValue(parsed, ['authentication', 'anonymous', 'enabled'])).to.equal(true);
  });

  it('a manifest read for judging is shared between its readers', () => {
    const text =
      'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.5.15-0\n    command:\n    - etcd\n    - --data-dir=/var/lib/etcd\n';
    const pod = parseStaticPod(text, 'etcd');
    expect(parseStaticPod(text, 'etcd').pod).to.equal(pod.pod);
    expect(pod.flags).to.deep.equal([{ name: 'data-dir', value: '/var/lib/etcd' }]);
    expect(pod.imageTag).to.equal('3.5.15-0');
  });
  it('systemd units and env files: parsed once per text (and unit file), frozen, attributed to their file', () => {
    const unit =
      '[Service]\nEnvironment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf"\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS\n';
    const first = parseUnitService(unit, '/a.conf');
    expect(parseUnitService(unit, '/a.conf')).to.equal(first);
    expect(Object.isFrozen(first.environment[0])).to.equal(true);
    // The same text in another drop-in names that drop-in: the file is part of what is remembered.
    expect(parseUnitService(unit, '/b.conf').environment[0]?.file).to.equal('/b.conf');
    expect(first.environment[0]?.file).to.equal('/a.conf');
    const env = 'KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.1"\n';
    expect(parseEnvFile(env)).to.equal(parseEnvFile(env));
    expect(Object.isFrozen(parseEnvFile(env).assignments)).to.equal(true);
  });
});
