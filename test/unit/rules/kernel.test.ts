import { expect } from 'chai';
import type { Observation } from '../../../agent/core/observation.js';
import { defaultPolicy } from '../../../agent/core/policy.js';
import { buildContext } from '../../../agent/rules/context.js';
import { RULE_VALUE_SPECS } from '../../../agent/rules/index.js';
import { kernelLsm, kernelVersion } from '../../../agent/rules/kernel/kernel.js';
import { observation } from '../../helpers/observation.js';

const ctx = (obs: Observation) => buildContext(obs, defaultPolicy(RULE_VALUE_SPECS));

describe('kernel.version', () => {
  const cases: Array<[string | null, string, string, string | null]> = [
    ['6.8.0-49-generic', 'v1.31.4', 'pass', null],
    ['4.6.0', 'v1.31.4', 'pass', null],
    ['4.4.0-210-generic', 'v1.31.4', 'fail', 'older than 4.6'],
    ['3.10.0-1160.el7.x86_64', 'v1.28.0', 'fail', 'older than 4.6'],
    ['4.14.355-275.572.amzn2.x86_64', 'v1.32.1', 'pass', 'NOT met'],
    ['5.15.0', 'v1.33.0', 'pass', '4.19 or newer (met)'],
    [null, 'v1.31.4', 'unknown', 'cannot read'],
    ['garbage', 'v1.31.4', 'unknown', 'cannot read'],
  ];
  for (const [release, kubelet, status, message] of cases)
    it(`${release ?? 'unreadable'} with kubelet ${kubelet} → ${status}`, () => {
      const { finding } = kernelVersion.evaluate(ctx(observation({ kernelRelease: release, kubeletVersion: kubelet })));
      expect(finding.status).to.equal(status);
      expect(finding.remediable).to.equal(false);
      if (message) expect(finding.message).to.contain(message);
    });
});

describe('kernel.lsm', () => {
  type Lsm = Observation['lsm'];
  const cases: Array<[string, Lsm, string, string]> = [
    ['AppArmor', { apparmor: 'enabled', apparmorProfiles: 31, selinux: 'disabled' }, 'pass', 'AppArmor is enabled'],
    ['SELinux enforcing', { apparmor: 'disabled', apparmorProfiles: null, selinux: 'enforcing' }, 'pass', 'SELinux is enforcing'],
    ['SELinux permissive', { apparmor: 'disabled', apparmorProfiles: null, selinux: 'permissive' }, 'pass', 'set SELINUX=enforcing'],
    ['neither', { apparmor: 'disabled', apparmorProfiles: null, selinux: 'disabled' }, 'fail', 'neither AppArmor nor SELinux'],
    ['unreadable sysfs', { apparmor: 'unknown', apparmorProfiles: null, selinux: 'disabled' }, 'unknown', 'cannot read'],
  ];
  for (const [name, lsm, status, message] of cases)
    it(`${name} → ${status}`, () => {
      const { finding } = kernelLsm.evaluate(ctx(observation({ lsm })));
      expect(finding.status).to.equal(status);
      expect(finding.message).to.contain(message);
      expect(finding.remediable).to.equal(false);
    });

  it('is judged on its own: an old kernel with AppArmor passes kernel.lsm', () => {
    const obs = observation({ kernelRelease: '4.4.0', lsm: { apparmor: 'enabled', apparmorProfiles: 3, selinux: 'disabled' } });
    expect(kernelLsm.evaluate(ctx(obs)).finding.status).to.equal('pass');
    expect(kernelVersion.evaluate(ctx(obs)).finding.status).to.equal('fail');
  });

  it('gives the procedure of the node distribution', () => {
    const none: Lsm = { apparmor: 'disabled', apparmorProfiles: null, selinux: 'disabled' };
    const rhel = observation({ lsm: none, files: { '/etc/os-release': 'ID="rocky"\nID_LIKE="rhel centos fedora"\n' } });
    expect(kernelLsm.evaluate(ctx(rhel)).finding.message)
      .to.contain('SELINUX=permissive')
      .and.to.contain('/.autorelabel');
    const ubuntu = observation({ lsm: none, files: { '/etc/os-release': 'ID=ubuntu\nID_LIKE=debian\n' } });
    expect(kernelLsm.evaluate(ctx(ubuntu)).finding.message).to.contain('apparmor=1 security=apparmor');
  });
});
