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

  it('a key sorted to the top goes below the file header comment, which stays the first line', () => {
    const text =
      '# Managed by Ansible (role kubelet)\napiVersion: kubelet.config.k8s.io/v1beta1\nauthentication:\n  # who may call\n  anonymous:\n    enabled: false\nkind: KubeletConfiguration\n';
    expect(setConfigValue(text, ['address'], '10.0.0.1')).to.equal(
      '# Managed by Ansible (role kubelet)\naddress: 10.0.0.1\napiVersion: kubelet.config.k8s.io/v1beta1\nauthentication:\n  # who may call\n  anonymous:\n    enabled: false\nkind: KubeletConfiguration\n',
    );
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

describe('kubelet config codec: JSON stays JSON, comments stay', () => {
  const AL2_STYLE = `{
    "kind": "KubeletConfiguration",
    "apiVersion": "kubelet.config.k8s.io/v1beta1",
    "address": "0.0.0.0",
    "authentication": {
        "anonymous": {
            "enabled": false
        }
    },
    "clusterDNS": [
        "10.100.0.10"
    ],
    "readOnlyPort": 10255,
    "serverTLSBootstrap": true
}
`;

  it('writes a JSON file back as valid JSON with its indentation and key order, new keys appended', () => {
    const out = setConfigValue(AL2_STYLE, ['readOnlyPort'], 0);
    expect(out).to.equal(AL2_STYLE.replace('"readOnlyPort": 10255', '"readOnlyPort": 0'));
    const added = setConfigValue(AL2_STYLE, ['tlsMinVersion'], 'VersionTLS12');
    expect(Object.keys(JSON.parse(added))).to.deep.equal([
      'kind',
      'apiVersion',
      'address',
      'authentication',
      'clusterDNS',
      'readOnlyPort',
      'serverTLSBootstrap',
      'tlsMinVersion',
    ]);
    expect(added).to.equal(AL2_STYLE.replace('"serverTLSBootstrap": true\n', '"serverTLSBootstrap": true,\n    "tlsMinVersion": "VersionTLS12"\n'));
  });

  it('keeps two-space, tab and one-line JSON as they were, and CRLF', () => {
    const twoSpaces = '{\n  "kind": "KubeletConfiguration",\n  "readOnlyPort": 10255\n}\n';
    expect(setConfigValue(twoSpaces, ['readOnlyPort'], 0)).to.equal('{\n  "kind": "KubeletConfiguration",\n  "readOnlyPort": 0\n}\n');
    const tabs = '{\n\t"kind": "KubeletConfiguration",\n\t"readOnlyPort": 10255\n}';
    expect(setConfigValue(tabs, ['readOnlyPort'], 0)).to.equal('{\n\t"kind": "KubeletConfiguration",\n\t"readOnlyPort": 0\n}');
    expect(setConfigValue('{"kind":"KubeletConfiguration","readOnlyPort":10255}\n', ['readOnlyPort'], 0)).to.equal(
      '{"kind":"KubeletConfiguration","readOnlyPort":0}\n',
    );
    expect(setConfigValue('{\r\n  "readOnlyPort": 10255\r\n}\r\n', ['readOnlyPort'], 0)).to.equal('{\r\n  "readOnlyPort": 0\r\n}\r\n');
  });

  it('creates nested objects and deletes keys in JSON', () => {
    const nested = setConfigValue(AL2_STYLE, ['authorization', 'mode'], 'Webhook');
    expect(JSON.parse(nested).authorization).to.deep.equal({ mode: 'Webhook' });
    expect(nested).to.contain('    "authorization": {\n        "mode": "Webhook"\n    }\n}');
    const deleted = deleteConfigValue(AL2_STYLE, ['readOnlyPort']);
    expect(JSON.parse(deleted)).to.not.have.property('readOnlyPort');
    expect(deleted).to.contain('"clusterDNS": [\n        "10.100.0.10"\n    ],\n    "serverTLSBootstrap": true\n}');
  });

  it('keeps the inline comment of a replaced value, and the quoting', () => {
    const text = 'kind: KubeletConfiguration\ntlsMinVersion: VersionTLS11   # old load balancer health checks\nreadOnlyPort: 10255\n';
    expect(setConfigValue(text, ['tlsMinVersion'], 'VersionTLS12')).to.equal(
      'kind: KubeletConfiguration\ntlsMinVersion: VersionTLS12 # old load balancer health checks\nreadOnlyPort: 10255\n',
    );
    expect(setConfigValue('kind: KubeletConfiguration\ntlsMinVersion: "VersionTLS11" # why\n', ['tlsMinVersion'], 'VersionTLS12')).to.equal(
      'kind: KubeletConfiguration\ntlsMinVersion: "VersionTLS12" # why\n',
    );
  });

  it('keeps the comment under a list key and the comments of list items that stay', () => {
    const text = 'kind: KubeletConfiguration\ntlsCipherSuites: # approved by security, 2024\n- TLS_A # keep\n- TLS_OLD # weak\n';
    const out = setConfigValue(text, ['tlsCipherSuites'], ['TLS_A', 'TLS_B']);
    expect(out).to.contain('# approved by security, 2024');
    expect(out).to.contain('- TLS_A # keep\n- TLS_B\n');
    expect(out).to.not.contain('TLS_OLD');
  });
});
