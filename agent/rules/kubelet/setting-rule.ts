import type { Finding, FindingStatus } from '../../core/finding.js';
import type { RuleValueSpec } from '../../core/policy.js';
import type { Evaluation, Rule, RuleMeta } from '../../core/rule.js';
import { atLeast, formatVersion } from '../../core/version.js';
import type { NodeContext } from '../context.js';
import { getConfigValue } from '../../formats/kubelet-yaml.js';
import { displayValue, parseConfigValue, type FieldValue, type KubeletField } from './fields.js';
import { MIN_REMEDIATION_KUBELET } from './layout.js';
import { setKubeletField, unsetKubeletField, type KubeletChange } from './remediate.js';
import { effectiveValue, kubeletTargets, type EffectiveValue, type KubeletView } from './settings.js';

/** What the policy wants for a field on this node. */
export type Desired =
  | { readonly kind: 'set'; readonly value: FieldValue; readonly text: string }
  | { readonly kind: 'unset'; readonly text: string }
  | { readonly kind: 'unknown'; readonly reason: string };

/** A rule whose finding is one kubelet setting compared with the policy. */
export interface SettingRuleSpec {
  readonly id: string;
  readonly title: string;
  readonly cis: readonly string[];
  readonly field: KubeletField;
  readonly requires?: readonly string[];
  readonly value?: RuleValueSpec['value'];
  desired(ctx: NodeContext): Desired;
  /** True when the effective value is hardened enough (may be stricter than the policy value). */
  judge(actual: FieldValue, desired: Desired, ctx: NodeContext): boolean;
  /** Why the rule does not apply to this node (reported `skip`), or null when it does. */
  notApplicable?(ctx: NodeContext): string | null;
  /** Extra edits for the same fix (e.g. removing a fatal feature gate). */
  extraChange?(ctx: NodeContext): (KubeletChange & { readonly note: string }) | null;
}

/** A kubelet rule plus the policy value spec it declares. */
export interface KubeletSettingRule extends Rule<NodeContext> {
  readonly valueSpec: RuleValueSpec;
}

export const KUBELET_RESTART = { service: 'kubelet', disruption: 'restart', reason: 'the kubelet reads its configuration only at start' } as const;

function describeSource(effective: EffectiveValue, field: KubeletField, view: KubeletView): string {
  switch (effective.origin) {
    case 'flag': {
      const occurrence = [...view.flags].reverse().find((flag) => flag.name === field.flag);
      const where =
        occurrence?.origin.kind === 'env' ? `${occurrence.origin.path} (${occurrence.origin.variable})` : (effective.path ?? 'the command line');
      return view.config ? `set by flag --${field.flag} in ${where}, which overrides ${view.config.path}` : `set by flag --${field.flag} in ${where}`;
    }
    case 'drop-in':
      return `set in drop-in ${effective.path}, which overrides ${view.config?.path ?? 'the config file'}`;
    case 'config':
      return `set in ${effective.path}`;
    case 'default':
      if (view.config) return `not set; KubeletConfiguration default`;
      return view.dropIns.length > 0
        ? `not set by any flag or drop-in; a kubelet without a --config file uses the legacy flag default`
        : `not set; a kubelet without a config file uses the legacy flag default`;
  }
}

/** True when config.yaml's own value of the field already passes (only overrides beat it). */
function configValueAcceptable(ctx: NodeContext, spec: SettingRuleSpec, desired: Desired): boolean {
  const config = ctx.kubelet.config;
  if (!config) return false;
  const raw = getConfigValue(config.parsed, spec.field.configPath);
  const value = raw === undefined ? null : parseConfigValue(spec.field.kind, raw);
  return value !== null && spec.judge(value, desired, ctx);
}

/** Why the agent may not write kubelet settings on this node, or null when it may. */
export function kubeletRemediationBlock(ctx: NodeContext): string | null {
  const version = ctx.obs.kubeletVersion;
  if (!version) return 'kubelet version unknown: pass --kubelet-version or make the kubelet binary readable; nothing is changed without it';
  if (!atLeast(version, MIN_REMEDIATION_KUBELET.major, MIN_REMEDIATION_KUBELET.minor))
    return `kubelet ${formatVersion(version)} is older than ${MIN_REMEDIATION_KUBELET.major}.${MIN_REMEDIATION_KUBELET.minor}, the oldest kube-harden writes settings for`;
  // k3s and RKE2 run the kubelet with their drop-in directory from v1.32 (docs.k3s.io, "Kubelet configuration").
  if ((ctx.kubelet.layout === 'k3s' || ctx.kubelet.layout === 'rke2') && !atLeast(version, 1, 32))
    return `${ctx.kubelet.layout === 'k3s' ? 'k3s' : 'RKE2'} ${formatVersion(version)} has no kubelet drop-in directory (v1.32+): set kubelet-arg in its config.yaml`;
  return null;
}

/** Finding for a kubelet whose configuration could not be found or read. */
export function kubeletUnavailable(ctx: NodeContext): { status: FindingStatus; message: string } | null {
  if (ctx.kubelet.layout === 'unknown')
    return {
      status: 'unknown',
      message: 'no kubelet configuration found: none of a kubelet systemd unit (kubeadm, EKS), the k8s snap args file, a k3s or RKE2 service',
    };
  if (ctx.kubelet.errors.length > 0)
    return { status: 'unknown', message: `cannot read kubelet settings: ${ctx.kubelet.errors.map((error) => error.message).join('; ')}` };
  return null;
}

export function settingRule(spec: SettingRuleSpec): KubeletSettingRule {
  const meta: RuleMeta = {
    id: spec.id,
    title: spec.title,
    cis: spec.cis,
    component: 'kubelet',
    remediable: true,
    disruption: 'restart',
    versions: `kubelet >= ${MIN_REMEDIATION_KUBELET.major}.${MIN_REMEDIATION_KUBELET.minor}`,
    ...(spec.requires ? { requires: spec.requires } : {}),
  };
  const base = (desiredText: string): Omit<Finding, 'status' | 'actual' | 'source' | 'remediable' | 'message'> => ({
    id: spec.id,
    title: spec.title,
    cis: spec.cis,
    expected: desiredText,
  });
  return {
    meta,
    valueSpec: { id: spec.id, ...(spec.value ? { value: spec.value } : {}) },
    // The shared function (not a wrapper): discovery computes each distinct targets function once.
    targets: kubeletTargets,
    evaluate(ctx): Evaluation {
      const desired = spec.desired(ctx);
      const expected = desired.kind === 'unknown' ? 'unknown' : desired.text;
      const skipReason = spec.notApplicable?.(ctx) ?? null;
      if (skipReason) return { finding: { ...base(expected), status: 'skip', actual: '-', source: null, remediable: false, message: skipReason } };
      const unavailable = kubeletUnavailable(ctx);
      if (unavailable)
        return {
          finding: {
            ...base(expected),
            status: unavailable.status,
            actual: 'unknown',
            source: ctx.kubelet.errors[0]?.path ?? null,
            remediable: false,
            message: unavailable.message,
          },
        };
      const effective = effectiveValue(ctx.kubelet, spec.field);
      const where = describeSource(effective, spec.field, ctx.kubelet);
      if (effective.value === null)
        return {
          finding: {
            ...base(expected),
            status: 'unknown',
            actual: effective.raw,
            source: effective.path,
            remediable: false,
            message: `cannot interpret ${effective.raw} (${where}); the kubelet would reject it`,
          },
        };
      const shown = displayValue(spec.field.kind, effective.value);
      const actual = effective.origin === 'default' ? (shown === '' ? '(not set)' : `${shown} (default)`) : shown || '(empty)';
      if (desired.kind === 'unknown')
        return { finding: { ...base(expected), status: 'unknown', actual, source: effective.path, remediable: false, message: desired.reason } };
      const extra = spec.extraChange?.(ctx) ?? null;
      const valueOk = spec.judge(effective.value, desired, ctx);
      if (valueOk && !extra)
        return { finding: { ...base(expected), status: 'pass', actual, source: effective.path, remediable: false, message: where } };
      const block = kubeletRemediationBlock(ctx);
      // A passing value is not rewritten when only the extra change (e.g. a fatal gate) is needed.
      const change: KubeletChange = valueOk
        ? { edits: [] }
        : desired.kind === 'set'
          ? setKubeletField(ctx.kubelet, spec.field, desired.value, configValueAcceptable(ctx, spec, desired))
          : unsetKubeletField(ctx.kubelet, spec.field);
      const blockedBy = block ?? ('blocked' in change ? change.blocked : null) ?? (extra && 'blocked' in extra ? extra.blocked : null);
      const message = [where, extra?.note, blockedBy ? `not remediated: ${blockedBy}` : null].filter(Boolean).join('; ');
      const finding: Finding = { ...base(expected), status: 'fail', actual, source: effective.path, remediable: blockedBy === null, message };
      if (blockedBy !== null || 'blocked' in change) return { finding, blocked: blockedBy ?? 'not remediable' };
      const edits = [...change.edits, ...(extra && 'edits' in extra ? extra.edits : [])];
      return { finding, remedy: { edits, restart: { ...KUBELET_RESTART, service: ctx.kubelet.service ?? KUBELET_RESTART.service } } };
    },
  };
}
