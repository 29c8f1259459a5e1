import { expect } from 'chai';
import type { Observation, PluginProbe } from '../../../agent/core/observation.js';
import { buildPlan } from '../../../agent/core/planner.js';
import { evaluateRules } from '../../../agent/core/evaluate.js';
import { defaultPolicy, parsePolicy, type Policy } from '../../../agent/core/policy.js';
import { buildContext } from '../../../agent/rules/context.js';
import { RULE_VALUE_SPECS, RULES } from '../../../agent/rules/index.js';
import { observation } from '../../helpers/observation.js';

const BIN = '/opt/cni/bin/bandwidth';
const SHIPPED: PluginProbe = {
  kind: 'present',
  path: '/usr/lib/kube-harden/cni/bandwidth',
  sha256: 'aaa',
  mode: 0o755,
  versions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'],
  runError: null,
};
const FLANNEL =
  '{\n  "name": "cbr0",\n  "cniVersion": "0.3.1",\n  "plugins": [\n    {"type": "flannel"},\n    {"type": "portmap", "capabilities": {"portMappings": true}}\n  ]\n}\n';

function node(files: Record<string, string>, host: PluginProbe = { kind: 'missing', path: BIN }, shipped: PluginProbe = SHIPPED): Observation {
  return observation({
    files: Object.fromEntries(Object.entries(files).map(([name, content]) => [`/etc/cni/net.d/${name}`, content])),
    dirs: { '/etc/cni/net.d': Object.keys(files) },
    hostPlugins: { [BIN]: host },
    shippedPlugins: { bandwidth: shipped },
  });
}

function judge(obs: Observation, policy: Policy = defaultPolicy(RULE_VALUE_SPECS)) {
  const evaluated = evaluateRules(RULES, buildContext(obs, policy));
  const find = (id: string) => evaluated.find((rule) => rule.meta.id === id)!.evaluation;
  return { find, plan: buildPlan(evaluated, obs, policy) };
}

describe('cni.bandwidth-plugin', () => {
  it('installs the shipped plugin when absent, before the chain edit', () => {
    const { find, plan } = judge(node({ '10-flannel.conflist': FLANNEL }));
    expect(find('cni.bandwidth-plugin').finding).to.include({ status: 'fail', remediable: true });
    const install = plan.changes.find((change) => change.action === 'install')!;
    const chain = plan.changes.find((change) => change.path === '/etc/cni/net.d/10-flannel.conflist')!;
    expect(install).to.include({ path: BIN, sha256: 'aaa' });
    expect(install.stage).to.be.lessThan(chain.stage);
  });

  it('leaves an identical binary alone', () => {
    expect(judge(node({ '10-flannel.conflist': FLANNEL }, { ...SHIPPED, path: BIN })).find('cni.bandwidth-plugin').finding.status).to.equal('pass');
  });

  it('keeps a different binary that works for the cniVersion, unless the policy says replace', () => {
    const other: PluginProbe = { ...SHIPPED, path: BIN, sha256: 'bbb' };
    expect(judge(node({ '10-flannel.conflist': FLANNEL }, other)).find('cni.bandwidth-plugin').finding.status).to.equal('pass');
    const replace = parsePolicy(
      'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  cni.bandwidth-plugin: { value: { existing: replace } }\n',
      'p',
      RULE_VALUE_SPECS,
    );
    if (!replace.ok) throw new Error(replace.errors.join());
    expect(judge(node({ '10-flannel.conflist': FLANNEL }, other), replace.policy).find('cni.bandwidth-plugin').finding.status).to.equal('fail');
  });

  it('replaces a binary that does not run on the host', () => {
    const broken: PluginProbe = { ...SHIPPED, path: BIN, sha256: 'ccc', versions: null, runError: 'exec format error' };
    const { find, plan } = judge(node({ '10-flannel.conflist': FLANNEL }, broken));
    expect(find('cni.bandwidth-plugin').finding.message).to.contain('does not run on the host');
    expect(plan.changes.some((change) => change.action === 'install')).to.equal(true);
  });

  it('is blocked, and the chain with it, when no plugin is shipped', () => {
    const { plan } = judge(node({ '10-flannel.conflist': FLANNEL }, { kind: 'missing', path: BIN }, { kind: 'missing', path: '/x/bandwidth' }));
    expect(plan.changes).to.deep.equal([]);
    expect(plan.blocked.find((b) => b.id === 'cni.bandwidth-plugin')!.reason).to.contain('--plugin-dir');
    expect(plan.blocked.find((b) => b.id === 'cni.bandwidth-chain')!.reason).to.contain('no working bandwidth plugin');
  });

  it('is skipped with the chain when no CNI is installed yet', () => {
    const { find } = judge(node({}));
    expect(find('cni.bandwidth-plugin').finding.status).to.equal('skip');
    expect(find('cni.bandwidth-chain').finding.status).to.equal('skip');
  });
});

describe('cni.bandwidth-chain', () => {
  const installed: PluginProbe = { ...SHIPPED, path: BIN };

  it('patches only the active (lexically first) config', () => {
    const { plan } = judge(node({ '10-flannel.conflist': FLANNEL, '87-podman-bridge.conflist': FLANNEL.replace('cbr0', 'podman') }, installed));
    expect(plan.changes.map((change) => change.path)).to.deep.equal(['/etc/cni/net.d/10-flannel.conflist']);
  });

  it('does not chain when the plugin does not support the config cniVersion', () => {
    const future = FLANNEL.replace('"0.3.1"', '"2.0.0"');
    const { find, plan } = judge(node({ '10-flannel.conflist': future }, installed));
    expect(find('cni.bandwidth-chain').finding).to.include({ status: 'fail', remediable: false });
    expect(plan.blocked.find((b) => b.id === 'cni.bandwidth-chain')!.reason).to.contain('not 2.0.0');
  });

  it('reports Cilium and AWS VPC CNI with their own settings, without patching', () => {
    const cilium = judge(node({ '05-cilium.conflist': '{"cniVersion":"0.3.1","name":"cilium","plugins":[{"type":"cilium-cni"}]}' }, installed));
    expect(cilium.find('cni.bandwidth-chain').finding.message).to.contain('bandwidthManager.enabled=true');
    expect(cilium.plan.changes).to.deep.equal([]);
    const aws = judge(
      node({ '10-aws.conflist': '{"cniVersion":"0.4.0","name":"aws-cni","plugins":[{"type":"aws-cni"},{"type":"portmap"}]}' }, installed),
    );
    expect(aws.find('cni.bandwidth-chain').finding.message).to.contain('ENABLE_BANDWIDTH_PLUGIN=true');
  });

  it('patches the delegate behind Multus, not Multus', () => {
    const multus = '{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus","delegates":[]}';
    const { plan } = judge(node({ '00-multus.conf': multus, '10-flannel.conflist': FLANNEL }, installed));
    expect(plan.changes.map((change) => change.path)).to.deep.equal(['/etc/cni/net.d/10-flannel.conflist']);
  });

  it('converts an active single-plugin .conf into a .conflist and removes the .conf (after the write)', () => {
    const conf = '{"cniVersion":"0.4.0","name":"bridge","type":"bridge","bridge":"cnio0"}';
    const { plan } = judge(node({ '10-bridge.conf': conf, '99-loopback.conf': '{"cniVersion":"0.4.0","name":"lo","type":"loopback"}' }, installed));
    expect(plan.changes.map((change) => [change.action, change.path])).to.deep.equal([
      ['write', '/etc/cni/net.d/10-bridge.conflist'],
      ['remove', '/etc/cni/net.d/10-bridge.conf'],
    ]);
  });

  it('does not convert when the new name would lose first place', () => {
    const conf = '{"cniVersion":"0.4.0","name":"bridge","type":"bridge"}';
    const { plan } = judge(
      node({ '10-bridge.conf': conf, '10-bridge.confa.json': '{"cniVersion":"0.4.0","name":"x","type":"loopback"}' }, installed),
    );
    expect(plan.blocked.find((b) => b.id === 'cni.bandwidth-chain')!.reason).to.contain('would sort first');
  });

  it('an unparsable active config is unknown, named with its line, and untouched', () => {
    const { find, plan } = judge(node({ '10-flannel.conflist': '{\n  "name": "cbr0",\n  "plugins": [\n' }, installed));
    expect(find('cni.bandwidth-chain').finding.status).to.equal('unknown');
    expect(find('cni.bandwidth-chain').finding.message).to.contain('/etc/cni/net.d/10-flannel.conflist:');
    expect(plan.changes).to.deep.equal([]);
  });
});
