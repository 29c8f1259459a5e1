import type { Finding } from '../../core/finding.js';
import type { Observation, Targets } from '../../core/observation.js';
import type { Evaluation, Rule, RuleMeta } from '../../core/rule.js';
import { atLeast, formatVersion, parseVersion } from '../../core/version.js';
import type { NodeContext } from '../context.js';

/** The seeds' floor for AppArmor/SELinux hardening (cgroup namespaces also arrived in 4.6). */
export const KERNEL_FLOOR = { major: 4, minor: 6 } as const;

const VERSION_META: RuleMeta = {
  id: 'kernel.version',
  title: 'Kernel is 4.6 or newer',
  cis: [],
  component: 'kernel',
  remediable: false,
  disruption: 'none',
  versions: 'all',
};

const LSM_META: RuleMeta = {
  id: 'kernel.lsm',
  title: 'AppArmor or SELinux is enabled',
  cis: [],
  component: 'kernel',
  remediable: false,
  disruption: 'none',
  versions: 'all',
};

/** What the node's own Kubernetes wants from the kernel, when the kubelet version says. */
function kubernetesKernelNote(obs: Observation, kernel: { major: number; minor: number }): string {
  const kubelet = obs.kubeletVersion;
  if (!kubelet || !atLeast(kubelet, 1, 32)) return '';
  const meets = atLeast({ ...kernel, patch: 0 }, 4, 19);
  return `; Kubernetes ${formatVersion(kubelet)}: kubeadm >= 1.32 preflight checks for kernel 4.19 or newer (${meets ? 'met' : 'NOT met: kubeadm join/upgrade preflight reports it'})`;
}

export const kernelVersion: Rule<NodeContext> = {
  meta: VERSION_META,
  targets: (): Targets => ({}),
  evaluate(ctx): Evaluation {
    const release = ctx.obs.kernelRelease;
    const base = {
      id: VERSION_META.id,
      title: VERSION_META.title,
      cis: VERSION_META.cis,
      expected: '>= 4.6',
      source: '/proc/sys/kernel/osrelease',
      remediable: false,
    };
    const version = release ? parseVersion(release) : null;
    if (!release || !version)
      return {
        finding: {
          ...base,
          status: 'unknown',
          actual: release ?? 'unknown',
          message: 'cannot read the kernel release from /proc/sys/kernel/osrelease',
        },
      };
    const note = kubernetesKernelNote(ctx.obs, version);
    if (atLeast(version, KERNEL_FLOOR.major, KERNEL_FLOOR.minor))
      return { finding: { ...base, status: 'pass', actual: release, message: `kernel ${release}${note}` } };
    const finding: Finding = {
      ...base,
      status: 'fail',
      actual: release,
      message: `kernel ${release} is older than 4.6: upgrade the kernel (distribution kernel package or a newer OS image) and reboot; kube-harden cannot do this${note}`,
    };
    return { finding, blocked: 'a kernel upgrade needs a new kernel package and a reboot' };
  },
};

/** The distribution family from /etc/os-release (ID and ID_LIKE). */
function distributionFamily(obs: Observation): 'debian' | 'rhel' | 'suse' | 'unknown' {
  const state = obs.files.get('/etc/os-release');
  if (state?.kind !== 'file') return 'unknown';
  const fields = new Map(
    state.content
      .split('\n')
      .map((line) => /^([A-Z_]+)=("?)(.*)\2$/.exec(line.trim()))
      .filter((match): match is RegExpExecArray => match !== null)
      .map((match) => [match[1]!, match[3]!]),
  );
  const ids = `${fields.get('ID') ?? ''} ${fields.get('ID_LIKE') ?? ''}`.toLowerCase();
  if (/\b(debian|ubuntu)\b/.test(ids)) return 'debian';
  if (/\b(rhel|fedora|centos|rocky|almalinux|amzn)\b/.test(ids)) return 'rhel';
  if (/\b(suse|sles|opensuse)\b/.test(ids)) return 'suse';
  return 'unknown';
}

/** The documented way to turn an LSM on: a package and a boot parameter, then a reboot. */
export function lsmProcedure(family: ReturnType<typeof distributionFamily>): string {
  switch (family) {
    case 'debian':
      return 'enable AppArmor: apt-get install apparmor apparmor-utils; add "apparmor=1 security=apparmor" to GRUB_CMDLINE_LINUX in /etc/default/grub; update-grub; reboot';
    case 'rhel':
      return 'enable SELinux: set SELINUX=permissive in /etc/selinux/config (or grubby --update-kernel ALL --remove-args selinux); touch /.autorelabel; reboot; check the audit log, then set SELINUX=enforcing';
    case 'suse':
      return 'enable AppArmor: zypper install -t pattern apparmor; add "apparmor=1 security=apparmor" to the kernel command line; reboot';
    case 'unknown':
      return 'enable AppArmor (kernel parameters "apparmor=1 security=apparmor" plus the apparmor userspace) or SELinux (selinux-policy, SELINUX= in /etc/selinux/config, relabel), then reboot';
  }
}

export const kernelLsm: Rule<NodeContext> = {
  meta: LSM_META,
  targets: (): Targets => ({ files: ['/etc/os-release'] }),
  evaluate(ctx): Evaluation {
    const { apparmor, apparmorProfiles, selinux } = ctx.obs.lsm;
    const base = {
      id: LSM_META.id,
      title: LSM_META.title,
      cis: LSM_META.cis,
      expected: 'AppArmor enabled, or SELinux enforcing/permissive',
      remediable: false,
    };
    const actual = `apparmor=${apparmor}${apparmorProfiles !== null ? ` (${apparmorProfiles} profiles)` : ''}, selinux=${selinux}`;
    if (apparmor === 'enabled')
      return { finding: { ...base, status: 'pass', actual, source: '/sys/module/apparmor/parameters/enabled', message: 'AppArmor is enabled' } };
    if (selinux === 'enforcing' || selinux === 'permissive') {
      const note = selinux === 'permissive' ? '; permissive mode logs violations without denying them: set SELINUX=enforcing' : '';
      return { finding: { ...base, status: 'pass', actual, source: '/sys/fs/selinux/enforce', message: `SELinux is ${selinux}${note}` } };
    }
    // Neither is known to be on: unreadable sysfs is unknown, never pass (and never fail on a guess).
    if (apparmor === 'unknown' || selinux === 'unknown')
      return {
        finding: {
          ...base,
          status: 'unknown',
          actual,
          source: '/sys',
          message: 'cannot read the LSM state from the host sysfs (mount the host /sys into the agent)',
        },
      };
    const procedure = lsmProcedure(distributionFamily(ctx.obs));
    return {
      finding: { ...base, status: 'fail', actual, source: '/sys', message: `neither AppArmor nor SELinux is enabled; to fix: ${procedure}` },
      blocked: 'needs a package, a boot parameter and a reboot',
    };
  },
};
