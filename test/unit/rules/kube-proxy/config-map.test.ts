import { expect } from 'chai';
import { policyFrom } from '../../../helpers/policy.js';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cidrContains, coveringCidrs, isIpPort } from '../../../../agent/core/cidr.js';
import { defaultPolicy, parsePolicy } from '../../../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../../../agent/rules/index.js';
import { planKubeProxyConfigMap, validateKubeProxyConfig } from '../../../../agent/rules/kube-proxy/config-map.js';
import { REPO } from '../../../helpers/host.js';

const CONF = readFileSync(path.join(REPO, 'test/fixtures/cluster/kube-proxy-config.conf'), 'utf8');
const v = (minor: number) => ({ major: 1, minor, patch: 0 });

describe('CIDR helpers', () => {
  it('covers addresses with the smallest prefix per family', () => {
    expect(coveringCidrs(['10.0.1.5'])).to.deep.equal(['10.0.1.5/32']);
    expect(coveringCidrs(['10.0.1.5', '10.0.12.7'])).to.deep.equal(['10.0.0.0/20']);
    expect(coveringCidrs(['10.0.1.5', 'fd00::1', 'fd00::8:1'])).to.deep.equal(['10.0.1.5/32', 'fd00::/108']);
    expect(cidrContains('10.0.0.0/20', '10.0.15.255')).to.equal(true);
    expect(cidrContains('10.0.0.0/20', '10.0.16.0')).to.equal(false);
    expect(cidrContains('fd00::/108', 'fd00::8:1')).to.equal(true);
  });
  it('knows IP:port from a bare IP or a CIDR', () => {
    expect(['127.0.0.1:10256', '[::1]:10256'].map(isIpPort)).to.deep.equal([true, true]);
    expect(['127.0.0.1', '10.0.0.0/8:10256', '0.0.0.0:0', '::1:10256'].map(isIpPort)).to.deep.equal([false, false, false, false]);
  });
});

describe('kube-proxy ConfigMap (pure)', () => {
  it('validates as kube-proxy would: primary alone and only on >= 1.31, CIDRs not bare IPs, bind addresses IP:port', () => {
    expect(validateKubeProxyConfig(CONF, v(30))).to.deep.equal([]);
    expect(validateKubeProxyConfig(CONF.replace('nodePortAddresses: null', 'nodePortAddresses: [primary]'), v(30))).to.deep.equal([
      "nodePortAddresses: 'primary' needs kube-proxy >= 1.31 (this is v1.30.0)",
    ]);
    expect(validateKubeProxyConfig(CONF.replace('nodePortAddresses: null', 'nodePortAddresses: [primary, 10.0.0.0/8]'), v(31))).to.deep.equal([
      "nodePortAddresses: can't use both 'primary' and CIDRs",
    ]);
    expect(validateKubeProxyConfig(CONF.replace('nodePortAddresses: null', 'nodePortAddresses: [10.0.0.1]'), v(31))).to.deep.equal([
      'nodePortAddresses: 10.0.0.1 must be a valid CIDR',
    ]);
    expect(validateKubeProxyConfig(CONF.replace('healthzBindAddress: ""', 'healthzBindAddress: 10.0.0.0/8'), v(31))).to.deep.equal([
      'healthzBindAddress: 10.0.0.0/8 must be IP:port',
    ]);
  });

  it('writes primary on 1.31, covering CIDRs on 1.30, the policy CIDRs when given; unknown version changes nothing', () => {
    const nodes = ['10.0.1.5', '10.0.12.7'];
    const base = defaultPolicy(RULE_VALUE_SPECS);
    expect(planKubeProxyConfigMap({ text: CONF, version: v(31), nodeIPs: nodes, policy: base }).after).to.contain('nodePortAddresses: [ primary ]');
    expect(planKubeProxyConfigMap({ text: CONF, version: v(30), nodeIPs: nodes, policy: base }).after).to.contain(
      'nodePortAddresses: [ 10.0.0.0/20 ]',
    );
    const given = policyFrom('rules:\n  kube-proxy.nodeport-addresses: { value: [10.0.0.0/16] }\n');
    expect(planKubeProxyConfigMap({ text: CONF, version: v(31), nodeIPs: nodes, policy: given }).after).to.contain(
      'nodePortAddresses: [ 10.0.0.0/16 ]',
    );
    const unknown = planKubeProxyConfigMap({ text: CONF, version: null, nodeIPs: nodes, policy: base });
    expect(unknown.after).to.equal(null);
    expect(unknown.findings[0]).to.include({ status: 'unknown' });
  });

  it('passes a restriction that already covers every node, and fails one that leaves a node out', () => {
    const restricted = CONF.replace('nodePortAddresses: null', 'nodePortAddresses: [10.0.0.0/16]');
    const base = defaultPolicy(RULE_VALUE_SPECS);
    expect(planKubeProxyConfigMap({ text: restricted, version: v(31), nodeIPs: ['10.0.1.5'], policy: base }).findings[0]).to.include({
      status: 'pass',
    });
    const missed = planKubeProxyConfigMap({ text: restricted, version: v(30), nodeIPs: ['10.0.1.5', '10.9.0.1'], policy: base });
    expect(missed.findings[0]).to.include({ status: 'fail' });
    expect(missed.after).to.contain('nodePortAddresses: [ 10.0.0.0/12 ]');
  });

  it('healthz: a wildcard is a failure it cannot fix without a policy value; with one it writes IP:port', () => {
    const base = planKubeProxyConfigMap({ text: CONF, version: v(31), nodeIPs: ['10.0.1.5'], policy: defaultPolicy(RULE_VALUE_SPECS) });
    expect(base.findings[1]).to.include({ id: 'kube-proxy.healthz-bind-address', status: 'fail', remediable: false });
    expect(base.findings[1]!.message).to.contain("cannot hold one node's IP");
    const chosen = planKubeProxyConfigMap({
      text: CONF,
      version: v(31),
      nodeIPs: ['10.0.1.5'],
      policy: policyFrom('rules:\n  kube-proxy.healthz-bind-address: { value: "127.0.0.1:10256" }\n'),
    });
    expect(chosen.after).to.contain('healthzBindAddress: "127.0.0.1:10256"');
  });

  it('the policy refuses a CIDR or bare IP for healthz and a bare IP for nodePortAddresses', () => {
    const result = parsePolicy(
      'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  kube-proxy.healthz-bind-address: { value: 10.0.0.0/8 }\n  kube-proxy.nodeport-addresses: { value: [10.0.0.1] }\n',
      'p.yaml',
      RULE_VALUE_SPECS,
    );
    expect(result.ok).to.equal(false);
    expect(result.ok ? '' : result.errors.join('\n'))
      .to.contain('IP:port')
      .and.contain('not a CIDR');
  });
});
