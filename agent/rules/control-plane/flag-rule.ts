import type { Finding } from '../../core/finding.js';
import type { RuleValueSpec } from '../../core/policy.js';
import type { Evaluation, FileEdit, RestartNeed, Rule, RuleMeta } from '../../core/rule.js';
import { atLeast, formatVersion, type Version } from '../../core/version.js';
import { removeArg, setArg } from '../../formats/args-file.js';
import { removePodFlag, setPodFlag } from '../../formats/static-pod.js';
import type { NodeContext } from '../context.js';
import type { KubeletView } from '../kubelet/settings.js';
import { componentView, controlPlaneTargets, staticPodService, type Component, type ComponentView } from './components.js';

/** What the policy wants for one flag: a value, or the flag's absence. */
export type FlagDesire = { readonly kind: 'set'; readonly value: string } | { readonly kind: 'unset' };

export interface FlagRuleSpec {
  readonly id: string;
  readonly title: string;
  readonly cis: readonly string[];
  readonly component: Component;
  readonly flag: string;
  /** The value the component uses when the flag is absent (judged like any other value). */
  readonly defaultValue: string | null;
  /** What the policy wants, fixed or from the policy (and the node). */
  readonly desired: FlagDesire | ((ctx: NodeContext) => FlagDesire);
  /** True when the effective value is hardened enough (default: equal to the desired value). */
  readonly judge?: (effective: string | null, desired: FlagDesire) => boolean;
  /** Policy value spec, for rules whose value the policy may set. */
  readonly value?: RuleValueSpec['value'];
  /** Oldest component version the flag is known to be accepted by. */
  readonly minVersion: { readonly major: number; readonly minor: number };
  /** Why the flag must not be rewritten on this node although it fails (null: it may be). */
  readonly hold?: (ctx: NodeContext) => string | null;
}

/**
 * A k3s or RKE2 server runs the control plane itself (k3s in its own process, RKE2 as static pods it
 * generates at every start) from `<component>-arg` in its config.yaml: not judged yet, and said so.
 */
export function embeddedControlPlane(kubelet: KubeletView, component: Pick<Component, 'name'>): { source: string; message: string } | null {
  const { id, role } = kubelet.distribution;
  if ((id !== 'k3s' && id !== 'rke2') || role !== 'server') return null;
  const name = id === 'k3s' ? 'k3s' : 'RKE2';
  const source = `/etc/rancher/${id}/config.yaml`;
  return {
    source,
    message: `this ${name} server runs ${component.name} itself${id === 'rke2' ? ' (static pods it regenerates at every start)' : ''} with flags from ${component.name}-arg in ${source} and config.yaml.d: kube-harden does not judge ${name} control-plane flags yet`,
  };
}

/** The finding for a component that is not on this node (skip) or cannot be read (unknown). */
export function componentUnavailable(
  view: Extract<ComponentView, { kind: 'absent' | 'error' }>,
  component: Component,
  base: Pick<Finding, 'id' | 'title' | 'cis' | 'expected'>,
  kubelet?: KubeletView,
): Evaluation {
  const embedded = view.kind === 'absent' && kubelet ? embeddedControlPlane(kubelet, component) : null;
  if (embedded)
    return { finding: { ...base, status: 'unknown', actual: 'unknown', source: embedded.source, remediable: false, message: embedded.message } };
  if (view.kind === 'absent')
    return { finding: { ...base, status: 'skip', actual: '-', source: null, remediable: false, message: `no ${component.name} on this node` } };
  return {
    finding: {
      ...base,
      status: 'unknown',
      actual: 'unknown',
      source: view.path,
      remediable: false,
      message: `cannot read ${component.name} settings: ${view.message}`,
    },
  };
}

/** Static pods are recreated by the kubelet when their manifest changes; snap services are restarted. */
export function restartFor(component: Component, kind: 'static-pod' | 'snap'): RestartNeed {
  return kind === 'static-pod'
    ? {
        service: staticPodService(component),
        disruption: 'reload',
        reason: `the kubelet recreates ${component.name} when its manifest changes; it must become healthy again`,
      }
    : { service: component.snapService, disruption: 'restart', reason: `${component.name} reads its flags only at start` };
}

function versionBlock(version: Version | null, spec: FlagRuleSpec, source: string): string | null {
  if (!version) return `${spec.component.name} version unknown (${source}): nothing is changed without it`;
  if (!atLeast(version, spec.minVersion.major, spec.minVersion.minor))
    return `${spec.component.name} ${formatVersion(version)} is older than ${spec.minVersion.major}.${spec.minVersion.minor}, the oldest that accepts --${spec.flag} as written`;
  return null;
}

/** A rule whose finding is one flag of one control-plane component. */
export function componentFlagRule(spec: FlagRuleSpec): Rule<NodeContext> & { readonly valueSpec: RuleValueSpec } {
  const meta: RuleMeta = {
    id: spec.id,
    title: spec.title,
    cis: spec.cis,
    component: spec.component.name,
    remediable: true,
    disruption: 'reload',
    versions: `${spec.component.name} >= ${spec.minVersion.major}.${spec.minVersion.minor}`,
  };
  return {
    meta,
    valueSpec: { id: spec.id, ...(spec.value ? { value: spec.value } : {}) },
    targets: controlPlaneTargets,
    evaluate(ctx): Evaluation {
      const desired = typeof spec.desired === 'function' ? spec.desired(ctx) : spec.desired;
      const expected = desired.kind === 'set' ? `--${spec.flag}=${desired.value}` : `no --${spec.flag}`;
      const base = { id: spec.id, title: spec.title, cis: spec.cis, expected };
      const view = componentView(ctx.obs, spec.component);
      if (view.kind === 'absent' || view.kind === 'error') return componentUnavailable(view, spec.component, base, ctx.kubelet);
      const raw = view.flags.get(spec.flag);
      const effective = raw ?? spec.defaultValue;
      const actual = raw !== undefined ? `--${spec.flag}=${raw}` : `(not set; default ${spec.defaultValue ?? 'none'})`;
      const ok = spec.judge ? spec.judge(effective, desired) : desired.kind === 'set' ? effective === desired.value : raw === undefined;
      if (ok) return { finding: { ...base, status: 'pass', actual, source: view.path, remediable: false, message: '' } };
      const block = versionBlock(view.version, spec, view.versionSource) ?? spec.hold?.(ctx) ?? null;
      const finding: Finding = {
        ...base,
        status: 'fail',
        actual,
        source: view.path,
        remediable: block === null,
        message: block ? `not remediated: ${block}` : '',
      };
      if (block) return { finding, blocked: block };
      const edit: FileEdit =
        view.kind === 'static-pod'
          ? {
              path: view.path,
              restartsComponent: true,
              transform: (current) =>
                desired.kind === 'set'
                  ? setPodFlag(current ?? '', spec.component.name, spec.flag, desired.value)
                  : removePodFlag(current ?? '', spec.component.name, spec.flag),
            }
          : {
              path: view.path,
              transform: (current) =>
                desired.kind === 'set' ? setArg(current ?? '', spec.flag, desired.value) : removeArg(current ?? '', spec.flag),
            };
      return { finding, remedy: { edits: [edit], restart: restartFor(spec.component, view.kind) } };
    },
  };
}
