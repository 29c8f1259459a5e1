import type { Finding } from '../../core/finding.js';
import { dirEntries, type Observation, type Targets } from '../../core/observation.js';
import type { Evaluation, Rule, RuleMeta } from '../../core/rule.js';
import { FormatError } from '../../formats/env-file.js';
import { parseSysctlConf, renderSysctlConf, SYSCTL_CONF, SYSCTL_DIRS, sysctlFileOrder } from '../../formats/sysctl-conf.js';
import type { NodeContext } from '../context.js';

/**
 * The six values the kubelet's protectKernelDefaults insists on (component-helpers/node/util/sysctl,
 * KUBERNETES-FACTS.md §5). With the option on, any mismatch makes the kubelet exit.
 */
export const KUBELET_KERNEL_DEFAULTS: ReadonlyArray<readonly [string, string]> = [
  ['vm.overcommit_memory', '1'],
  ['vm.panic_on_oom', '0'],
  ['kernel.panic', '10'],
  ['kernel.panic_on_oops', '1'],
  ['kernel.keys.root_maxkeys', '1000000'],
  ['kernel.keys.root_maxbytes', '25000000'],
];

/** The agent's own sysctl.d file; it owns the whole file. */
export const KUBE_HARDEN_SYSCTL_FILE = '/etc/sysctl.d/90-kube-harden.conf';

const META: RuleMeta = {
  id: 'sysctl.kubelet-kernel-defaults',
  title: 'Kernel parameters the kubelet expects are set live and persisted',
  cis: [],
  component: 'kernel',
  remediable: true,
  disruption: 'none',
  versions: 'all',
};

/**
 * systemd-sysctl orders files by name with strcmp: byte order, not the locale's collation (which also
 * costs ICU's start-up, about 15 ms of a cold audit).
 */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sysctlTargets(obs: Observation): Targets {
  const files = [KUBE_HARDEN_SYSCTL_FILE, SYSCTL_CONF];
  for (const dir of SYSCTL_DIRS)
    files.push(
      ...dirEntries(obs, dir)
        .filter((name) => name.endsWith('.conf'))
        .map((name) => `${dir}/${name}`),
    );
  return { files, dirs: [...SYSCTL_DIRS], sysctls: KUBELET_KERNEL_DEFAULTS.map(([key]) => key) };
}

/** Which value each key gets at boot, and from which file. */
function persistedValues(obs: Observation): { values: Map<string, { value: string; file: string }>; errors: string[]; order: string[] } {
  const listings = new Map(SYSCTL_DIRS.map((dir) => [dir, dirEntries(obs, dir)] as const));
  const order = sysctlFileOrder(listings, obs.files.get(SYSCTL_CONF)?.kind === 'file');
  const values = new Map<string, { value: string; file: string }>();
  const errors: string[] = [];
  for (const file of order) {
    const state = obs.files.get(file);
    if (state?.kind === 'error') errors.push(`${file}: ${state.error}`);
    if (state?.kind !== 'file') continue;
    try {
      for (const setting of parseSysctlConf(state.content)) values.set(setting.key, { value: setting.value, file });
    } catch (error) {
      const line = error instanceof FormatError && error.line ? `:${error.line}` : '';
      errors.push(`${file}${line}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  return { values, errors, order };
}

export const sysctlKubeletKernelDefaults: Rule<NodeContext> = {
  meta: META,
  targets: sysctlTargets,
  evaluate(ctx): Evaluation {
    const expected = KUBELET_KERNEL_DEFAULTS.map(([key, value]) => `${key}=${value}`).join(', ');
    const base = { id: META.id, title: META.title, cis: META.cis, expected };
    const live: string[] = [];
    const liveErrors: string[] = [];
    const liveWrong: string[] = [];
    for (const [key, want] of KUBELET_KERNEL_DEFAULTS) {
      const state = ctx.obs.sysctls.get(key);
      if (!state || state.kind === 'error') liveErrors.push(`${key}: ${state?.kind === 'error' ? state.error : 'not read'}`);
      else {
        live.push(`${key}=${state.value}`);
        if (state.value !== want) liveWrong.push(`${key} is ${state.value} live`);
      }
    }
    const { values, errors, order } = persistedValues(ctx.obs);
    if (liveErrors.length > 0 || errors.length > 0) {
      const finding: Finding = {
        ...base,
        status: 'unknown',
        actual: live.join(', ') || 'unknown',
        source: null,
        remediable: false,
        message: `cannot read: ${[...liveErrors, ...errors].join('; ')}`,
      };
      return { finding };
    }
    const notPersisted: string[] = [];
    const overriders: string[] = [];
    const ownIndex = order.indexOf(KUBE_HARDEN_SYSCTL_FILE);
    // Where our file would sit in the boot order once written (it may not exist yet).
    const position =
      ownIndex >= 0
        ? ownIndex
        : [...order, KUBE_HARDEN_SYSCTL_FILE].sort((a, b) => byteOrder(basename(a), basename(b))).indexOf(KUBE_HARDEN_SYSCTL_FILE);
    for (const [key, want] of KUBELET_KERNEL_DEFAULTS) {
      const persisted = values.get(key);
      if (persisted?.value === want) continue;
      notPersisted.push(persisted ? `${key} is ${persisted.value} in ${persisted.file}` : `${key} is not persisted`);
      if (persisted && persisted.file !== KUBE_HARDEN_SYSCTL_FILE && order.indexOf(persisted.file) > position)
        overriders.push(`${persisted.file} sets ${key}=${persisted.value} after ${KUBE_HARDEN_SYSCTL_FILE}`);
    }
    const problems = [...liveWrong, ...notPersisted];
    if (problems.length === 0)
      return {
        finding: {
          ...base,
          status: 'pass',
          actual: live.join(', '),
          source: KUBE_HARDEN_SYSCTL_FILE,
          remediable: false,
          message: 'live and persisted',
        },
      };
    if (overriders.length > 0) {
      const reason = `another file wins at boot: ${overriders.join('; ')}; kube-harden does not edit files it does not own`;
      return {
        finding: {
          ...base,
          status: 'fail',
          actual: live.join(', '),
          source: overriders[0]!.split(' ')[0]!,
          remediable: false,
          message: `${problems.join('; ')}; ${reason}`,
        },
        blocked: reason,
      };
    }
    const finding: Finding = {
      ...base,
      status: 'fail',
      actual: live.join(', '),
      source: KUBE_HARDEN_SYSCTL_FILE,
      remediable: true,
      message: problems.join('; '),
    };
    const content = renderSysctlConf(
      'Managed by kube-harden: values the kubelet requires with protectKernelDefaults.\nEdits are reverted; change the HardeningPolicy instead.',
      KUBELET_KERNEL_DEFAULTS,
    );
    return {
      finding,
      remedy: {
        edits: [{ path: KUBE_HARDEN_SYSCTL_FILE, transform: () => content, createMode: 0o644 }],
        sysctls: KUBELET_KERNEL_DEFAULTS.map(([key, value]) => ({ key, value })),
      },
    };
  },
};

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}
