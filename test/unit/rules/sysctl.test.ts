import { expect } from 'chai';
import { defaultPolicy } from '../../../agent/core/policy.js';
import { buildContext } from '../../../agent/rules/context.js';
import { RULE_VALUE_SPECS } from '../../../agent/rules/index.js';
import { KUBE_HARDEN_SYSCTL_FILE, KUBELET_KERNEL_DEFAULTS, sysctlKubeletKernelDefaults } from '../../../agent/rules/kernel/sysctl.js';
import { observation } from '../../helpers/observation.js';

const GOOD: Record<string, string> = Object.fromEntries(KUBELET_KERNEL_DEFAULTS);
const PERSISTED = Object.entries(GOOD)
  .map(([key, value]) => `${key} = ${value}`)
  .join('\n');

function evaluate(options: Parameters<typeof observation>[0]) {
  return sysctlKubeletKernelDefaults.evaluate(buildContext(observation(options), defaultPolicy(RULE_VALUE_SPECS)));
}

describe('sysctl.kubelet-kernel-defaults', () => {
  it('passes when live and persisted', () => {
    expect(
      evaluate({ sysctls: GOOD, files: { [KUBE_HARDEN_SYSCTL_FILE]: PERSISTED }, dirs: { '/etc/sysctl.d': ['90-kube-harden.conf'] } }).finding.status,
    ).to.equal('pass');
  });

  it('fails when live values match but nothing persists them (a reboot would lose them)', () => {
    const result = evaluate({ sysctls: GOOD });
    expect(result.finding.status).to.equal('fail');
    expect(result.finding.message).to.contain('not persisted');
    expect(result.remedy?.edits?.[0]?.path).to.equal(KUBE_HARDEN_SYSCTL_FILE);
  });

  it('is blocked when a file applied later sets another value, and names it', () => {
    const result = evaluate({
      sysctls: GOOD,
      files: { [KUBE_HARDEN_SYSCTL_FILE]: PERSISTED, '/etc/sysctl.d/99-tuning.conf': 'kernel.panic = 0\n' },
      dirs: { '/etc/sysctl.d': ['90-kube-harden.conf', '99-tuning.conf'] },
    });
    expect(result.finding).to.include({ status: 'fail', remediable: false });
    expect(result.blocked).to.contain('/etc/sysctl.d/99-tuning.conf');
  });

  it('an earlier distribution default is simply overridden by the agent file', () => {
    const result = evaluate({
      sysctls: GOOD,
      files: { '/usr/lib/sysctl.d/50-default.conf': 'kernel.panic = 0\n' },
      dirs: { '/usr/lib/sysctl.d': ['50-default.conf'] },
    });
    expect(result.finding.remediable).to.equal(true);
  });

  it('is unknown when a live value cannot be read', () => {
    const withoutPanic = Object.fromEntries(Object.entries(GOOD).filter(([key]) => key !== 'kernel.panic'));
    expect(evaluate({ sysctls: withoutPanic }).finding.status).to.equal('unknown');
  });
});
