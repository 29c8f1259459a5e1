import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { chainBandwidth, chainsBandwidth, confToConflist, parseCniConfig } from '../../../agent/formats/cni-conflist.js';
import { FormatError } from '../../../agent/formats/env-file.js';
import { fixturePath } from '../../helpers/host.js';

const fixture = (host: string, file: string) => readFileSync(path.join(fixturePath(host), 'etc/cni/net.d', file), 'utf8');

describe('CNI conflist codec', () => {
  it('flannel: appends bandwidth as text, every other byte unchanged', () => {
    const text = fixture('cni-flannel', '10-flannel.conflist');
    const out = chainBandwidth(text);
    expect(chainsBandwidth(parseCniConfig(out))).to.equal(true);
    const insertion = ',\n    {\n      "type": "bandwidth",\n      "capabilities": {\n        "bandwidth": true\n      }\n    }';
    const at = text.lastIndexOf('}', text.lastIndexOf(']')) + 1;
    expect(out).to.equal(text.slice(0, at) + insertion + text.slice(at));
  });

  it('calico with bandwidth already (before portmap) counts as chained and is not rewritten', () => {
    const text = fixture('cni-calico', '10-calico.conflist');
    expect(chainsBandwidth(parseCniConfig(text))).to.equal(true);
    expect(chainBandwidth(text)).to.equal(text);
  });

  it('containerd bridge: keeps the style of a one-line plugins array', () => {
    const out = chainBandwidth('{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap"}]}\n');
    expect(out).to.equal(
      '{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap"}, {"type":"bandwidth","capabilities":{"bandwidth":true}}]}\n',
    );
  });

  it('cilium parses as a one-plugin chain without bandwidth', () => {
    const config = parseCniConfig(fixture('cni-cilium', '05-cilium.conflist'));
    expect(config.plugins.map((plugin) => plugin.type)).to.deep.equal(['cilium-cni']);
    expect(chainsBandwidth(config)).to.equal(false);
  });

  it('fixes duplicates, a missing capability or a first-position entry by re-serializing in the file indent', () => {
    const duplicate =
      '{\n    "name": "n",\n    "plugins": [\n        {"type": "bridge"},\n        {"type": "bandwidth"},\n        {"type": "bandwidth", "capabilities": {"bandwidth": true}}\n    ]\n}\n';
    const out = chainBandwidth(duplicate);
    const config = parseCniConfig(out);
    expect(config.plugins.map((plugin) => plugin.type)).to.deep.equal(['bridge', 'bandwidth']);
    expect(chainsBandwidth(config)).to.equal(true);
    expect(out).to.contain('\n    "plugins": [');
  });

  it('converts a single-plugin .conf (tabs kept) to a conflist with name and cniVersion on the list', () => {
    const out = confToConflist(fixture('cni-bridge-conf', '10-bridge.conf'));
    const config = parseCniConfig(out);
    expect(config).to.include({ kind: 'conflist', name: 'bridge', cniVersion: '0.4.0' });
    expect(config.plugins.map((plugin) => plugin.type)).to.deep.equal(['bridge', 'bandwidth']);
    expect(config.plugins[0]).to.not.have.property('cniVersion');
    expect(out).to.contain('\n\t"plugins": [');
  });

  for (const [name, text, line] of [
    ['broken JSON', '{\n  "name": "x",\n  "plugins": [\n}\n', 4],
    ['a duplicate key', '{\n  "name": "x",\n  "name": "y",\n  "type": "bridge"\n}\n', 3],
    ['a plugin without type', '{"plugins": [{"name": "x"}]}', null],
    ['an array', '[]', 1],
  ] as const)
    it(`rejects ${name}`, () => {
      try {
        parseCniConfig(text);
        expect.fail('should throw');
      } catch (error) {
        expect(error).to.be.instanceOf(FormatError);
        if (line !== null) expect((error as FormatError).line).to.equal(line);
      }
    });
});
