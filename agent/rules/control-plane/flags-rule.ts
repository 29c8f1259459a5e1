import type { Finding } from '../../core/finding.js';
import type { Observation, Targets } from '../../core/observation.js';
import type { Evaluation, FileEdit, Rule, RuleMeta } from '../../core/rule.js';
import { atLeast, formatVersion } from '../../core/version.js';
import { removeArg, setArg } from '../../formats/args-file.js';
import { removePodFlag, setPodFlag } from '../../formats/static-pod.js';
import type { NodeContext } from '../context.js';
import { componentView, controlPlaneTargets, type Component } from './components.js';
import { componentUnavailable, restartFor } from './flag-rule.js';

/** The flags a component runs with (the last occurrence of each). */
export type Flags = ReadonlyMap<string, string>;

/** A fix: flags to set and to remove, and the host files the new values name (fixed only when each exists). */
export interface FlagsFix {
  readonly set?: Readonly<Record<string, string>>;
  readonly unset?: readonly string[];
  readonly needs?: readonly string[];
}

export interface FlagsRuleSpec {
  readonly id: string;
  readonly title: string;
  readonly cis: readonly string[];
  readonly component: Component;
  /** The flags the finding shows (as `actual`). */
  readonly flags: readonly string[];
  readonly expected: string;
  /** Null when hardened, else what is wrong (the message). */
  readonly judge: (flags: Flags, ctx: NodeContext) => string | null;
  /** How to fix it, or why it is held back; absent = audit only (`auditOnly` says why). */
  readonly fix?: (flags: Flags, ctx: NodeContext) => FlagsFix | { readonly held: string };
  /** Why the rule never changes the node (required when there is no `fix`). */
  readonly auditOnly?: string;
  readonly requires?: readonly string[];
  /** Host paths the fix may name (stat-ed, never read). */
  readonly stats?: readonly string[];
  /** Oldest component version that accepts the written flags (etcd: etcd's own version). */
  readonly minVersion: { readonly major: number; readonly minor: number };
  /** Why the component is not on this node, when its absence has a more precise reason (the snap's datastore). */
  readonly absentNote?: (obs: Observation) => string | null;
}

function flagText(flags: Flags, names: readonly string[]): string {
  return names.map((name) => (flags.has(name) ? `--${name}=${flags.get(name)}` : `no --${name}`)).join(', ');
}

/** True when the host has this path as a regular file. */
export function fileExists(obs: Observation, path: string): boolean {
  return obs.stats.get(path)?.kind === 'file' || obs.files.get(path)?.kind === 'file';
}

/**
 * A rule judging several flags of one control-plane component together (a certificate and its key; a
 * setting and the file it needs), fixed in one manifest or args-file edit.
 */
export function componentFlagsRule(spec: FlagsRuleSpec): Rule<NodeContext> {
  const meta: RuleMeta = {
    id: spec.id,
    title: spec.title,
    cis: spec.cis,
    component: spec.component.name,
    remediable: spec.fix !== undefined,
    disruption: spec.fix ? 'restart' : 'none',
    ...(spec.requires ? { requires: spec.requires } : {}),
    versions: spec.fix ? `${spec.component.name} >= ${spec.minVersion.major}.${spec.minVersion.minor}` : 'all (audit only)',
  };
  const targets = (): Targets => ({ ...controlPlaneTargets(), stats: spec.stats ?? [] });
  return {
    meta,
    targets,
    evaluate(ctx): Evaluation {
      const base = { id: spec.id, title: spec.title, cis: spec.cis, expected: spec.expected };
      const view = componentView(ctx.obs, spec.component);
      if (view.kind === 'absent') {
        const note = spec.absentNote?.(ctx.obs);
        if (note) return { finding: { ...base, status: 'skip', actual: '-', source: null, remediable: false, message: note } };
      }
      if (view.kind === 'absent' || view.kind === 'error') return componentUnavailable(view, spec.component, base);
      const actual = flagText(view.flags, spec.flags);
      const problem = spec.judge(view.flags, ctx);
      if (problem === null) return { finding: { ...base, status: 'pass', actual, source: view.path, remediable: false, message: '' } };
      const hold = (reason: string): Evaluation => ({
        finding: { ...base, status: 'fail', actual, source: view.path, remediable: false, message: `${problem}; not remediated: ${reason}` },
        blocked: reason,
      });
      if (!spec.fix) return hold(spec.auditOnly ?? 'audit only');
      if (!view.version) return hold(`${spec.component.name} version unknown (${view.versionSource}): nothing is changed without it`);
      if (!atLeast(view.version, spec.minVersion.major, spec.minVersion.minor))
        return hold(
          `${spec.component.name} ${formatVersion(view.version)} is older than ${spec.minVersion.major}.${spec.minVersion.minor}, the oldest this fix is known for`,
        );
      const fix = spec.fix(view.flags, ctx);
      if ('held' in fix) return hold(fix.held);
      const missing = (fix.needs ?? []).filter((path) => !fileExists(ctx.obs, path));
      if (missing.length > 0) return hold(`${missing.join(', ')} not found on this node; the flags would name a missing file`);
      const set = Object.entries(fix.set ?? {});
      const unset = fix.unset ?? [];
      const name = spec.component.name;
      const edit: FileEdit =
        view.kind === 'static-pod'
          ? {
              path: view.path,
              restartsComponent: true,
              transform: (current) => {
                let text = current ?? '';
                for (const flag of unset) text = removePodFlag(text, name, flag);
                for (const [flag, value] of set) text = setPodFlag(text, name, flag, value);
                return text;
              },
            }
          : {
              path: view.path,
              transform: (current) => {
                let text = current ?? '';
                for (const flag of unset) text = removeArg(text, flag);
                for (const [flag, value] of set) text = setArg(text, flag, value);
                return text;
              },
            };
      const finding: Finding = { ...base, status: 'fail', actual, source: view.path, remediable: true, message: problem };
      return { finding, remedy: { edits: [edit], restart: restartFor(spec.component, view.kind) } };
    },
  };
}
