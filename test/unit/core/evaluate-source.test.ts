import { expect } from 'chai';
import { evaluateRules } from '../../../agent/core/evaluate.js';
import { defaultPolicy } from '../../../agent/core/policy.js';
import type { Rule } from '../../../agent/core/rule.js';
import { buildContext } from '../../../agent/rules/context.js';
import { RULE_VALUE_SPECS, RULES } from '../../../agent/rules/index.js';
import { observation } from '../../helpers/observation.js';

const POLICY = defaultPolicy(RULE_VALUE_SPECS);

function ruleWithSource(source: string | null): Rule {
  return {
    meta: { id: 'test.rule', title: 't', cis: [], component: 'test', remediable: false, disruption: 'none', versions: 'all' },
    targets: () => ({}),
    evaluate: () => ({
      finding: { id: 'test.rule', title: 't', cis: [], status: 'fail', expected: 'x', actual: 'y', source, remediable: false, message: '' },
    }),
  };
}

describe('finding sources name files that exist', () => {
  const obs = observation({ files: { '/etc/present.conf': 'a=1\n' } });
  const policy = { ...POLICY, rules: new Map([...POLICY.rules, ['test.rule', { enabled: true, value: undefined }]]) };

  it('drops a source the observation saw missing', () => {
    const [rule] = evaluateRules([ruleWithSource('/etc/absent.conf')], { obs, policy });
    expect(rule!.evaluation.finding.source).to.equal(null);
  });

  it('keeps a source that exists, and a source the observation did not read', () => {
    expect(evaluateRules([ruleWithSource('/etc/present.conf')], { obs, policy })[0]!.evaluation.finding.source).to.equal('/etc/present.conf');
    // A stat of a directory (not read as a file), and a path nothing observed at all.
    const stats = new Map([['/etc/kubernetes/pki', { kind: 'dir' as const, path: '/etc/kubernetes/pki', mode: 0o755, uid: 0, gid: 0 }]]);
    const statOnly = { ...observation({}), files: new Map(), stats };
    for (const source of ['/etc/kubernetes/pki', '/sys/module/apparmor/parameters/enabled'])
      expect(evaluateRules([ruleWithSource(source)], { obs: statOnly, policy })[0]!.evaluation.finding.source).to.equal(source);
  });

  it('kube-proxy on a kubeadm node (no snap args file) names no source; on a snap node the args file', () => {
    const kubeadm = observation({ files: { '/var/lib/kubelet/config.yaml': 'kind: KubeletConfiguration\n' } });
    const judged = evaluateRules(RULES, buildContext(kubeadm, POLICY)).filter((rule) => rule.meta.component === 'kube-proxy');
    expect(judged.map((rule) => rule.meta.id)).to.include.members(['kube-proxy.nodeport-addresses', 'kube-proxy.healthz-bind-address']);
    for (const rule of judged) expect(rule.evaluation.finding).to.include({ status: 'skip', source: null });
    const snap = observation({ files: { '/var/snap/k8s/common/args/kube-proxy': '--cluster-cidr=10.1.0.0/16\n' }, nodeIp: '10.0.0.5' });
    // The args-file rules name it; the kubeconfig's permissions rule names the kubeconfig (absent here: none).
    for (const rule of evaluateRules(RULES, buildContext(snap, POLICY)).filter(
      (entry) => entry.meta.component === 'kube-proxy' && entry.meta.id !== 'kube-proxy.kubeconfig-permissions',
    ))
      expect(rule.evaluation.finding.source, rule.meta.id).to.equal('/var/snap/k8s/common/args/kube-proxy');
  });
});
