import { expect } from 'chai';
import type { Finding } from '../../../agent/core/finding.js';
import { buildPlan, type EvaluatedRule } from '../../../agent/core/planner.js';
import { defaultPolicy } from '../../../agent/core/policy.js';
import type { Remedy, RestartNeed } from '../../../agent/core/rule.js';
import { observation } from '../../helpers/observation.js';

function rule(id: string, remedy: Remedy): EvaluatedRule {
  const finding: Finding = { id, title: id, status: 'fail', expected: '', actual: '', source: null, cis: [], remediable: true, message: '' };
  return { meta: { id, title: id, cis: [], component: 't', remediable: true, disruption: 'none', versions: 'all' }, evaluation: { finding, remedy } };
}

const set = (path: string, text: string) => ({ path, transform: () => text });
const reload: RestartNeed = { service: 'static-pod/kube-apiserver', disruption: 'reload', reason: 'manifest' };
const restart: RestartNeed = { service: 'kubelet', disruption: 'restart', reason: 'flags at start' };
const policy = defaultPolicy([{ id: 'config' }, { id: 'flag' }, { id: 'kubelet' }]);
const obs = observation({ files: { '/m.yaml': 'manifest\n', '/c.yaml': 'config\n', '/k.yaml': 'kubelet\n' } });

describe('plan activations (bound once by the planner)', () => {
  it('a static pod reload carries its manifest and the configuration files written for it', () => {
    const plan = buildPlan(
      [
        rule('config', {
          edits: [set('/c.yaml', 'hardened\n'), { ...set('/m.yaml', 'manifest names config\n'), restartsComponent: true }],
          restart: reload,
        }),
        rule('kubelet', { edits: [set('/k.yaml', 'hardened\n')], restart }),
      ],
      obs,
      policy,
    );
    expect(plan.activations.map((activation) => [activation.id, activation.kind, [...activation.changes].sort()])).to.deep.equal([
      ['reload:static-pod/kube-apiserver', 'reload', ['write|/c.yaml', 'write|/m.yaml']],
      ['restart:kubelet', 'restart', ['write|/k.yaml']],
    ]);
  });

  it('a configuration file put back without its manifest activates nothing (no restart is claimed)', () => {
    const plan = buildPlan([rule('config', { edits: [set('/c.yaml', 'hardened\n')], restart: reload })], obs, policy);
    expect(plan.changes).to.have.length(1);
    expect(plan.activations).to.deep.equal([]);
  });

  it('a re-plan without the failed rules leaves the original activations to the executor', () => {
    const rules = [rule('flag', { edits: [{ ...set('/m.yaml', 'flag\n'), restartsComponent: true }], restart: reload })];
    const first = buildPlan(rules, obs, policy);
    const again = buildPlan(rules, obs, policy, { failedRules: new Set(['flag']) });
    expect(first.activations[0]!.rules).to.deep.equal(['flag']);
    expect(again.activations).to.deep.equal([]);
    expect(again.blocked).to.deep.equal([{ id: 'flag', reason: 'its change failed during this apply' }]);
  });
});
