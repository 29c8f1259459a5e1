import { expect } from 'chai';
import type { Finding } from '../../../agent/core/finding.js';
import { buildPlan, type EvaluatedRule } from '../../../agent/core/planner.js';
import { defaultPolicy } from '../../../agent/core/policy.js';
import type { Remedy, RuleMeta } from '../../../agent/core/rule.js';
import { observation } from '../../helpers/observation.js';

function meta(id: string, requires?: string[]): RuleMeta {
  return { id, title: id, cis: [], component: 't', remediable: true, disruption: 'none', versions: 'all', ...(requires ? { requires } : {}) };
}

function finding(id: string, status: Finding['status']): Finding {
  return { id, title: id, status, expected: '', actual: '', source: null, cis: [], remediable: status === 'fail', message: '' };
}

function rule(id: string, status: Finding['status'], remedy?: Remedy, requires?: string[]): EvaluatedRule {
  return { meta: meta(id, requires), evaluation: { finding: finding(id, status), ...(remedy ? { remedy } : {}) } };
}

const append = (path: string, line: string) => ({ path, transform: (current: string | null) => `${current ?? ''}${line}\n` });
const policy = defaultPolicy([{ id: 'a' }, { id: 'b' }, { id: 'c' }]);

describe('planner', () => {
  const obs = observation({
    files: { '/f': 'start\n', '/g': { kind: 'file', path: '/g', content: 'x', mode: 0o644, uid: 1000, gid: 1000 } },
    sysctls: { 'kernel.panic': '0' },
  });

  it('folds edits of several rules into one write, in order', () => {
    const plan = buildPlan([rule('a', 'fail', { edits: [append('/f', 'a')] }), rule('b', 'fail', { edits: [append('/f', 'b')] })], obs, policy);
    expect(plan.changes).to.have.length(1);
    expect(plan.changes[0]).to.include({ action: 'write', path: '/f', before: 'start\n', after: 'start\na\nb\n' });
    expect(plan.changes[0]!.rules).to.deep.equal(['a', 'b']);
  });

  it('puts a rule after what it requires (later stage), even when listed first', () => {
    const plan = buildPlan(
      [rule('b', 'fail', { edits: [append('/f', 'b')] }, ['a']), rule('a', 'fail', { sysctls: [{ key: 'kernel.panic', value: '10' }] })],
      obs,
      policy,
    );
    const sysctl = plan.changes.find((change) => change.action === 'sysctl')!;
    const write = plan.changes.find((change) => change.action === 'write')!;
    expect(sysctl.stage).to.be.lessThan(write.stage);
    expect(plan.changes.indexOf(sysctl)).to.be.lessThan(plan.changes.indexOf(write));
  });

  it('blocks a rule whose requirement is neither passing nor fixable, and says why', () => {
    const plan = buildPlan([rule('a', 'unknown'), rule('b', 'fail', { edits: [append('/f', 'b')] }, ['a'])], obs, policy);
    expect(plan.changes).to.have.length(0);
    // The unjudged requirement is listed too (apply and plan say what they left alone, and why).
    expect(plan.blocked).to.deep.equal([
      { id: 'a', reason: 'not judged: ' },
      { id: 'b', reason: 'requires a first (not judged: )' },
    ]);
  });

  it('goes ahead when the requirement already passes', () => {
    const plan = buildPlan([rule('a', 'pass'), rule('b', 'fail', { edits: [append('/f', 'b')] }, ['a'])], obs, policy);
    expect(plan.changes).to.have.length(1);
  });

  it('re-plans without failed rules and their dependents', () => {
    const rules = [
      rule('a', 'fail', { sysctls: [{ key: 'kernel.panic', value: '10' }] }),
      rule('b', 'fail', { edits: [append('/f', 'b')] }, ['a']),
      rule('c', 'fail', { edits: [append('/f', 'c')] }),
    ];
    const plan = buildPlan(rules, obs, policy, { failedRules: new Set(['a']) });
    expect(plan.changes.map((change) => change.rules)).to.deep.equal([['c']]);
    expect(plan.blocked.map((blocked) => blocked.id).sort()).to.deep.equal(['a', 'b']);
  });

  it('blocks a rule whose edit throws, and its dependents, without touching the file for them', () => {
    const boom = {
      path: '/f',
      transform: () => {
        throw new Error('cannot parse');
      },
    };
    const plan = buildPlan(
      [
        rule('a', 'fail', { edits: [boom] }),
        rule('b', 'fail', { edits: [append('/f', 'b')] }, ['a']),
        rule('c', 'fail', { edits: [append('/f', 'c')] }),
      ],
      obs,
      policy,
    );
    expect(plan.changes).to.have.length(1);
    expect(plan.changes[0]).to.include({ after: 'start\nc\n' });
    expect(plan.blocked.find((blocked) => blocked.id === 'a')?.reason).to.contain('cannot parse');
    expect(plan.blocked.find((blocked) => blocked.id === 'b')?.reason).to.contain('requires a');
  });

  it('only ever removes mode bits, and a stricter file is left alone', () => {
    const plan = buildPlan([rule('a', 'fail', { permissions: [{ path: '/g', mode: 0o600, owner: { uid: 0, gid: 0 } }] })], obs, policy);
    expect(plan.changes.map((change) => change.action)).to.deep.equal(['chmod', 'chown']);
    expect(plan.changes[0]).to.include({ before: 0o644, after: 0o600 });
    const strict = observation({ files: { '/g': { kind: 'file', path: '/g', content: '', mode: 0o400, uid: 0, gid: 0 } } });
    expect(buildPlan([rule('a', 'fail', { permissions: [{ path: '/g', mode: 0o600 }] })], strict, policy).changes).to.have.length(0);
  });

  it('restarts a service only for rules that changed something, and skips passing or disabled rules', () => {
    const restart = { service: 'kubelet', disruption: 'restart' as const, reason: 'r' };
    const noop = { path: '/f', transform: (current: string | null) => current ?? '' };
    const disabled = defaultPolicy([{ id: 'a' }, { id: 'b' }]);
    (disabled.rules as Map<string, { enabled: boolean; value: unknown }>).set('b', { enabled: false, value: undefined });
    const plan = buildPlan(
      [rule('a', 'fail', { edits: [noop], restart }), rule('b', 'fail', { edits: [append('/f', 'b')], restart })],
      obs,
      disabled,
    );
    expect(plan.changes).to.have.length(0);
    expect(plan.activations).to.have.length(0);
  });
});

describe('planner: a reloading file goes after the files it names', () => {
  it('writes a plain config before a manifest edited in the same stage, whatever the rule order', () => {
    const obs = observation({ files: { '/m': 'manifest\n', '/c': 'old\n' } });
    const reload = { service: 'static-pod/x', disruption: 'reload' as const, reason: 'r' };
    const policy3 = defaultPolicy([{ id: 'a' }, { id: 'b' }]);
    const plan = buildPlan(
      [
        rule('a', 'fail', { edits: [{ ...append('/m', 'flag'), restartsComponent: true }], restart: reload }),
        rule('b', 'fail', { edits: [append('/c', 'new'), { ...append('/m', 'names /c'), restartsComponent: true }], restart: reload }),
      ],
      obs,
      policy3,
    );
    expect(plan.changes.map((change) => change.path)).to.deep.equal(['/c', '/m']);
  });
});
