import type { FileEdit } from '../../core/rule.js';
import { lastAssignment, parseEnvFile, setEnvVar } from '../../formats/env-file.js';
import { parseFlags, removeFlag, replaceFlagValue } from '../../formats/flags.js';
import { deleteConfigValue, getConfigValue, parseKubeletConfig } from '../../formats/kubelet-yaml.js';
import { parseArgsFile, removeArg, setArg } from '../../formats/args-file.js';
import type { NodeContext } from '../context.js';
import type { KubeletChange } from './remediate.js';

/** Removes `gate` from a `--feature-gates=A=true,B=false` value; null when nothing is left. */
export function withoutGate(value: string, gate: string): string | null {
  const kept = value.split(',').filter((item) => item.trim() !== '' && item.split('=')[0]!.trim() !== gate);
  return kept.length > 0 ? kept.join(',') : null;
}

function mentions(value: string, gate: string): boolean {
  return value.split(',').some((item) => item.split('=')[0]!.trim() === gate);
}

/**
 * Edits that remove a removed feature gate from every place the kubelet reads gates: `featureGates` in
 * the config file and drop-ins, and `--feature-gates` flags. Null when the gate is not mentioned.
 * A gate that no longer exists stops the kubelet (`unrecognized feature gate`, KUBERNETES-FACTS.md §3).
 */
export function featureGateChange(ctx: NodeContext, gate: string): (KubeletChange & { note: string }) | null {
  const view = ctx.kubelet;
  const edits: FileEdit[] = [];
  const places: string[] = [];
  for (const source of [...(view.config ? [view.config] : []), ...view.dropIns]) {
    const gates = getConfigValue(source.parsed, ['featureGates']);
    if (gates && typeof gates === 'object' && gate in gates) {
      places.push(source.path);
      edits.push({
        path: source.path,
        transform: (current) => {
          const text = current ?? '';
          const next = deleteConfigValue(text, ['featureGates', gate]);
          // An emptied featureGates mapping is removed rather than left as `featureGates: {}`.
          return next !== text && JSON.stringify(getConfigValue(parseKubeletConfig(next), ['featureGates'])) === '{}'
            ? deleteConfigValue(next, ['featureGates'])
            : next;
        },
      });
    }
  }
  for (const flag of view.flags.filter((occurrence) => occurrence.name === 'feature-gates' && mentions(occurrence.value, gate))) {
    const origin = flag.origin;
    places.push(origin.path);
    if (origin.kind === 'unit')
      return { blocked: `--feature-gates with ${gate} is set in systemd unit ${origin.path}; kube-harden does not edit unit files`, note: '' };
    if (origin.kind === 'rancher') return { blocked: `kubelet-arg feature-gates with ${gate} is set in ${origin.path}: remove it there`, note: '' };
    if (origin.kind === 'args')
      edits.push({
        path: origin.path,
        transform: (current) => {
          const text = current ?? '';
          const arg = parseArgsFile(text).args.find((line) => line.name === 'feature-gates');
          if (!arg) return text;
          const next = withoutGate(arg.value, gate);
          return next === null ? removeArg(text, 'feature-gates') : setArg(text, 'feature-gates', next);
        },
      });
    else if (origin.kind === 'env')
      edits.push({
        path: origin.path,
        transform: (current) => {
          const text = current ?? '';
          const value = lastAssignment(parseEnvFile(text), origin.variable)?.value ?? '';
          const token = parseFlags(value).flags.find((candidate) => candidate.name === 'feature-gates' && mentions(candidate.value, gate));
          if (!token) return text;
          const next = withoutGate(token.value, gate);
          return setEnvVar(text, origin.variable, next === null ? removeFlag(value, token) : replaceFlagValue(value, token, next));
        },
      });
  }
  if (places.length === 0) return null;
  return { edits, note: `feature gate ${gate} (removed in Kubernetes 1.23, fatal to the kubelet) is set in ${[...new Set(places)].join(', ')}` };
}
