import { expect } from 'chai';
import { changeSignature, matchRolledBack, type RolledBackChange } from '../../../agent/core/change-signature.js';
import type { Plan, WriteChange } from '../../../agent/core/plan.js';

const write = (path: string, before: string, after: string, rules: string[]): WriteChange => ({
  action: 'write',
  path,
  before,
  after,
  rules,
  stage: 0,
  createMode: null,
});
const plan = (...changes: WriteChange[]): Plan => ({ changes, activations: [], blocked: [] });

describe('rolled-back change memory (pure)', () => {
  const config = write('/var/lib/kubelet/config.yaml', 'a: 1\n', 'a: 1\ntlsMinVersion: VersionTLS12\n', ['kubelet.tls-min-version']);
  const flags = write('/etc/default/kubelet', 'X=1\n', 'X=2\n', ['kubelet.read-only-port']);
  const group = (changes: WriteChange[], id: string): RolledBackChange[] =>
    changes.map((change) => ({ signature: changeSignature(change), rules: change.rules, reason: 'kubelet not healthy', atMs: 0, group: id }));

  it('holds every rule of a group while the plan repeats all of its changes', () => {
    const { held, stale } = matchRolledBack(plan(config, flags), group([config, flags], 'g1'));
    expect([...held.keys()].sort()).to.deep.equal(['kubelet.read-only-port', 'kubelet.tls-min-version']);
    expect(held.get('kubelet.tls-min-version')).to.match(/^rolled back at 1970-01-01T00:00:00.000Z \(kubelet not healthy\); not retried/);
    expect(stale).to.deep.equal([]);
  });

  it('forgets the whole group when one of its files changed', () => {
    const edited = write('/etc/default/kubelet', 'X=1\n# edited\n', 'X=2\n# edited\n', ['kubelet.read-only-port']);
    const { held, stale } = matchRolledBack(plan(config, edited), group([config, flags], 'g1'));
    expect(held.size).to.equal(0);
    expect(stale).to.have.length(2);
  });

  it('signatures differ by content before and after, not by rule order', () => {
    expect(changeSignature(config)).to.equal(changeSignature({ ...config, rules: ['x'] }));
    expect(changeSignature(config)).to.not.equal(changeSignature({ ...config, after: 'a: 2\n' }));
    expect(changeSignature(config)).to.not.equal(changeSignature({ ...config, before: 'a: 0\n' }));
  });
});
