import type { Finding } from '../../core/finding.js';
import type { Observation, Targets } from '../../core/observation.js';
import { ruleValue } from '../../core/policy.js';
import type { Evaluation, Rule } from '../../core/rule.js';
import { atLeast, formatVersion } from '../../core/version.js';
import { getConfigValue } from '../../formats/kubelet-yaml.js';
import type { NodeContext } from '../context.js';
import { featureGateChange } from './feature-gates.js';
import { KUBELET_FIELDS } from './fields.js';
import { kubeletRemediationBlock, kubeletUnavailable, KUBELET_RESTART, settingRule, type KubeletSettingRule } from './setting-rule.js';
import { kubeletTargets } from './settings.js';

/** kubeadm's cluster CA on every node (written at init and join). */
export const KUBEADM_CLUSTER_CA = '/etc/kubernetes/pki/ca.crt';

/** A kubelet rule whose fix is held back (a failing finding kept, its remedy dropped) when `hold` says why. */
function holdBackWhen(rule: KubeletSettingRule, hold: (ctx: NodeContext) => string | null, stats: readonly string[] = []): KubeletSettingRule {
  return {
    ...rule,
    targets:
      stats.length === 0
        ? rule.targets
        : (obs: Observation): Targets => ({ ...rule.targets(obs), stats: [...(rule.targets(obs).stats ?? []), ...stats] }),
    evaluate(ctx): Evaluation {
      const evaluation = rule.evaluate(ctx);
      const reason = evaluation.remedy ? hold(ctx) : null;
      if (!reason) return evaluation;
      return {
        finding: {
          ...evaluation.finding,
          remediable: false,
          message: [evaluation.finding.message, `not remediated: ${reason}`].filter(Boolean).join('; '),
        },
        blocked: reason,
      };
    },
  };
}

/** CIS 4.2.3: the kubelet authenticates x509 clients (the API server) against a CA. */
export const kubeletClientCaFile = holdBackWhen(
  settingRule({
    id: 'kubelet.client-ca-file',
    title: 'Kubelet authenticates x509 clients against a CA',
    cis: ['4.2.3'],
    field: KUBELET_FIELDS.clientCaFile,
    desired: () => ({ kind: 'set', value: KUBEADM_CLUSTER_CA, text: `a CA file (kubeadm: ${KUBEADM_CLUSTER_CA})` }),
    judge: (actual) => typeof actual === 'string' && actual !== '',
  }),
  (ctx) =>
    ctx.kubelet.layout !== 'kubeadm'
      ? 'only kubeadm nodes have a known cluster CA path; set authentication.x509.clientCAFile by hand'
      : ctx.obs.stats.get(KUBEADM_CLUSTER_CA)?.kind === 'file'
        ? null
        : `${KUBEADM_CLUSTER_CA} not found on this node; the kubelet would not start with a missing CA file`,
  [KUBEADM_CLUSTER_CA],
);

/** CIS 4.2.6: the kubelet keeps its iptables utility chains (the default; true on every version). */
export const kubeletMakeIptablesUtilChains = settingRule({
  id: 'kubelet.make-iptables-util-chains',
  title: 'Kubelet manages its iptables utility chains',
  cis: ['4.2.6'],
  field: KUBELET_FIELDS.makeIptablesUtilChains,
  desired: () => ({ kind: 'set', value: true, text: 'true' }),
  judge: (actual) => actual === true,
});

const SECCOMP = 'kubelet.seccomp-default';

/**
 * CIS 4.2.14 (manual): RuntimeDefault for every container without a seccomp profile. Opt-in in the
 * policy: a workload needing a syscall the runtime's profile blocks stops working. GA in 1.27; on
 * older kubelets the field needs the SeccompDefault gate (alpha until 1.25), so nothing is written there.
 */
export const kubeletSeccompDefault = holdBackWhen(
  settingRule({
    id: SECCOMP,
    title: 'Kubelet runs containers with the RuntimeDefault seccomp profile by default',
    cis: ['4.2.14'],
    field: KUBELET_FIELDS.seccompDefault,
    value: {
      default: false,
      describe: 'true | false (opt-in: containers without a seccomp profile then run under the runtime default, which blocks some syscalls)',
      validate: (value) => (typeof value === 'boolean' ? null : 'must be true or false'),
    },
    desired: () => ({ kind: 'set', value: true, text: 'true' }),
    judge: (actual) => actual === true,
    // An unreadable kubelet is reported unknown (below), opted in or not.
    notApplicable: (ctx) =>
      ruleValue<boolean>(ctx.policy, SECCOMP) || kubeletUnavailable(ctx)
        ? null
        : `opt-in (CIS 4.2.14 is manual): every container without a seccompProfile would run under RuntimeDefault, which blocks syscalls some workloads need; test the workloads, then set ${SECCOMP}: { value: true }`,
  }),
  (ctx) => {
    const version = ctx.obs.kubeletVersion;
    return version && !atLeast(version, 1, 27)
      ? `kubelet ${formatVersion(version)} is older than 1.27, where seccompDefault became GA (earlier it needs the SeccompDefault feature gate)`
      : null;
  },
);

const GATE = 'RotateKubeletServerCertificate';
const ROTATE_ID = 'kubelet.rotate-server-certificate-gate';
const ROTATE_TITLE = `Kubelet does not turn off the ${GATE} feature gate`;

/** Every place the kubelet reads feature gates that turns the gate off. */
function gateOffPlaces(ctx: NodeContext): string[] {
  const view = ctx.kubelet;
  const places: string[] = [];
  for (const source of [...(view.config ? [view.config] : []), ...view.dropIns]) {
    const gates = getConfigValue(source.parsed, ['featureGates']) as Record<string, unknown> | undefined;
    if (gates && typeof gates === 'object' && gates[GATE] === false) places.push(`featureGates.${GATE}: false in ${source.path}`);
  }
  for (const flag of view.flags.filter((occurrence) => occurrence.name === 'feature-gates'))
    for (const item of flag.value.split(','))
      if (item.split('=')[0]!.trim() === GATE && item.split('=')[1]?.trim().toLowerCase() === 'false')
        places.push(`--feature-gates=${GATE}=false in ${flag.origin.path}`);
  return places;
}

/**
 * CIS 4.2.11: the kubelet's serving-certificate rotation gate is not turned off. The fix removes the gate
 * wherever it is set (its default is on), so no gate is ever written.
 */
export const kubeletRotateServerCertificateGate: Rule<NodeContext> = {
  meta: {
    id: ROTATE_ID,
    title: ROTATE_TITLE,
    cis: ['4.2.11'],
    component: 'kubelet',
    remediable: true,
    disruption: 'restart',
    versions: 'all (the gate is only removed, never written)',
  },
  targets: kubeletTargets,
  evaluate(ctx): Evaluation {
    const base = { id: ROTATE_ID, title: ROTATE_TITLE, cis: ['4.2.11'], expected: `${GATE} not set to false` };
    const unavailable = kubeletUnavailable(ctx);
    if (unavailable)
      return { finding: { ...base, status: unavailable.status, actual: 'unknown', source: null, remediable: false, message: unavailable.message } };
    const places = gateOffPlaces(ctx);
    if (places.length === 0)
      return {
        finding: {
          ...base,
          status: 'pass',
          actual: `${GATE} not turned off`,
          source: ctx.kubelet.config?.path ?? null,
          remediable: false,
          message: '',
        },
      };
    const change = featureGateChange(ctx, GATE);
    const block = kubeletRemediationBlock(ctx) ?? (change && 'blocked' in change ? change.blocked : null);
    const finding: Finding = {
      ...base,
      status: 'fail',
      actual: places.join('; '),
      source: ctx.kubelet.config?.path ?? null,
      remediable: block === null,
      message: block ? `not remediated: ${block}` : 'the gate is removed (its default is on)',
    };
    if (block || !change || !('edits' in change)) return { finding, blocked: block ?? 'not remediable' };
    return { finding, remedy: { edits: change.edits, restart: { ...KUBELET_RESTART, service: ctx.kubelet.service ?? KUBELET_RESTART.service } } };
  },
};

/** The kubelet's CIS 4.2 rules beyond the DESIGN §4 ones. */
export const KUBELET_CIS_RULES: readonly Rule<NodeContext>[] = [
  kubeletClientCaFile,
  kubeletMakeIptablesUtilChains,
  kubeletRotateServerCertificateGate,
  kubeletSeccompDefault,
];
