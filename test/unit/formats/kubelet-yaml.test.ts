import { expect } from 'chai';
import { FormatError } from '../../../agent/formats/env-file.js';
import { deleteConfigValue, getConfigValue, parseKubeletConfig, setConfigValue } from '../../../agent/formats/kubelet-yaml.js';

const KUBEADM_STYLE = `apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: true
# DNS for pods (comment owned by an admin)
clusterDNS:
- 10.96.0.10
kind: KubeletConfiguration
someFutureField: keep-me
`;

describe('kubelet config YAML codec', () => {
  it('sets a nested value and keeps comments, unknown fields and unindented lists', () => {
    const out = setConfigValue(KUBEADM_STYLE, ['authentication', 'anonymous', 'enabled'], false);
    expect(out).to.equal(KUBEADM_STYLE.replace('enabled: true', 'enabled: false'));
  });

  it('adds new keys in sorted position in a sorted file', () => {
    const out = setConfigValue(KUBEADM_STYLE, ['podPidsLimit'], 4096);
    expect(out.split('\n').slice(7, 10)).to.deep.equal(['kind: KubeletConfiguration', 'podPidsLimit: 4096', 'someFutureField: keep-me']);
  });

  it('creates intermediate mappings', () => {
    const out = setConfigValue('kind: KubeletConfiguration\n', ['authorization', 'mode'], 'Webhook');
    expect(getConfigValue(parseKubeletConfig(out), ['authorization', 'mode'])).to.equal('Webhook');
  });

  it('writes lists as block sequences in the file style, and keeps flow lists flow', () => {
    expect(setConfigValue('kind: KubeletConfiguration\n', ['tlsCipherSuites'], ['A', 'B'])).to.contain('tlsCipherSuites:\n- A\n- B\n');
    expect(setConfigValue('kind: KubeletConfiguration\ntlsCipherSuites: [X]\n', ['tlsCipherSuites'], ['A', 'B'])).to.contain(
      'tlsCipherSuites: [ A, B ]',
    );
  });

  it('keeps CRLF line endings', () => {
    const out = setConfigValue('kind: KubeletConfiguration\r\nreadOnlyPort: 10255\r\n', ['readOnlyPort'], 0);
    expect(out).to.equal('kind: KubeletConfiguration\r\nreadOnlyPort: 0\r\n');
  });

  it('deletes a key and leaves the file untouched when it is absent', () => {
    expect(deleteConfigValue(KUBEADM_STYLE, ['someFutureField'])).to.not.contain('someFutureField');
    expect(deleteConfigValue(KUBEADM_STYLE, ['nope'])).to.equal(KUBEADM_STYLE);
  });

  for (const [name, text] of [
    ['duplicate keys', 'kind: KubeletConfiguration\naddress: 1.1.1.1\naddress: 2.2.2.2\n'],
    ['a list document', '- a\n- b\n'],
    ['another kind', 'kind: KubeProxyConfiguration\n'],
    ['broken YAML', 'kind: KubeletConfiguration\n  bad: [\n'],
  ] as const)
    it(`rejects ${name}`, () => expect(() => parseKubeletConfig(text)).to.throw(FormatError));

  it('reports the line of a YAML error', () => {
    try {
      parseKubeletConfig('kind: KubeletConfiguration\naddress: 1\naddress: 2\n');
      expect.fail('should throw');
    } catch (error) {
      expect((error as FormatError).line).to.equal(3);
    }
  });

  it('refuses to set below a scalar', () => {
    expect(() => setConfigValue('kind: KubeletConfiguration\nauthentication: 5\n', ['authentication', 'anonymous', 'enabled'], false)).to.throw(
      /not a mapping/,
    );
  });
});
