import type { FileEdit } from '../../core/rule.js';
import { removeArg, setArg } from '../../formats/args-file.js';
import { lastAssignment, parseEnvFile, setEnvVar } from '../../formats/env-file.js';
import { appendFlag, parseFlags, removeFlag, replaceFlagValue } from '../../formats/flags.js';
import { deleteConfigValue, KUBELET_CONFIG_KIND, setConfigValue } from '../../formats/kubelet-yaml.js';
import { removeRancherListEntries, splitArg } from '../../formats/rancher-config.js';
import { displayValue, formatDuration, type FieldValue, type KubeletField } from './fields.js';
import type { ConfigSource, FlagOrigin, KubeletView } from './settings.js';
import { getConfigValue } from '../../formats/kubelet-yaml.js';

function getsField(source: ConfigSource, field: KubeletField): boolean {
  return getConfigValue(source.parsed, field.configPath) !== undefined;
}

/**
 * Where a hardened kubelet value is written. With a config file, the file owns the field: it is set
 * there and every overriding flag or drop-in entry is removed (flags beat the file, KUBERNETES-FACTS §4).
 * Without one (k8s snap, flags-only kubelets) the flag is set where it lives, or added to the primary
 * flag file. Edits locate flags by name in the current text, so several rules compose on one file.
 */
export type KubeletChange = { readonly edits: readonly FileEdit[] } | { readonly blocked: string };

function configValue(field: KubeletField, value: FieldValue): unknown {
  if (field.kind === 'duration' && typeof value === 'number') return formatDuration(value);
  return value;
}

function flagValue(field: KubeletField, value: FieldValue): string {
  if (field.kind === 'list' && Array.isArray(value)) return value.join(',');
  return displayValue(field.kind, value);
}

function requireText(current: string | null, path: string): string {
  if (current === null) throw new Error(`${path} disappeared`);
  return current;
}

/** Edit of one env-file variable's flag string. */
function editEnvVariable(origin: Extract<FlagOrigin, { kind: 'env' }>, edit: (flags: string) => string): FileEdit {
  return {
    path: origin.path,
    transform: (current) => {
      const text = current ?? '';
      const assignment = lastAssignment(parseEnvFile(text), origin.variable);
      const next = edit(assignment?.value ?? '');
      return next === (assignment?.value ?? '') ? text : setEnvVar(text, origin.variable, next);
    },
  };
}

function removeEverywhere(flag: string): (flags: string) => string {
  return (flags) => {
    let result = flags;
    for (let token = findToken(result, flag); token; token = findToken(result, flag)) result = removeFlag(result, token);
    return result;
  };
}

function findToken(flags: string, name: string) {
  return parseFlags(flags).flags.find((token) => token.name === name);
}

/** Edits that drop every occurrence of the field's flag from the files that hold it. */
function removeFlagEdits(view: KubeletView, field: KubeletField): FileEdit[] {
  const edits: FileEdit[] = [];
  const seen = new Set<string>();
  for (const flag of view.flags.filter((occurrence) => occurrence.name === field.flag)) {
    const key = `${flag.origin.path}|${flag.origin.kind === 'env' ? flag.origin.variable : ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const origin = flag.origin;
    if (origin.kind === 'env') edits.push(editEnvVariable(origin, removeEverywhere(field.flag)));
    else if (origin.kind === 'args')
      edits.push({ path: origin.path, transform: (current) => removeArg(requireText(current, origin.path), field.flag) });
    // `profile: cis` implies --protect-kernel-defaults; it is never removed for that.
    else if (origin.kind === 'rancher' && origin.key !== 'profile')
      edits.push({
        path: origin.path,
        transform: (current) =>
          removeRancherListEntries(requireText(current, origin.path), origin.key, (entry) =>
            origin.key.replace(/\+$/, '') === 'kubelet-arg' ? splitArg(entry).name === field.flag : true,
          ),
      });
  }
  return edits;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** A new kube-harden drop-in: the kubelet requires apiVersion and kind in every drop-in. */
function dropInSkeleton(json: boolean): string {
  if (json) return `{\n  "apiVersion": "kubelet.config.k8s.io/v1beta1",\n  "kind": "${KUBELET_CONFIG_KIND}"\n}\n`;
  return `# Written by kube-harden (CIS hardening of the kubelet). \`kube-harden rollback\` removes it; so does deleting\n# this file and restarting the service.\napiVersion: kubelet.config.k8s.io/v1beta1\nkind: ${KUBELET_CONFIG_KIND}\n`;
}

/** Why the field cannot be decided by kube-harden's drop-in: a flag or a later file another system rewrites. */
function regeneratedBlock(view: KubeletView, field: KubeletField, sources: readonly string[]): string | null {
  for (const path of sources) {
    const owner = view.regenerated.find((file) => file.path === path);
    if (owner) return `${field.configPath.join('.')} (--${field.flag}) is set in ${path}, which ${owner.by} rewrites: change it there`;
  }
  return null;
}

/**
 * Writes the field into kube-harden's own drop-in (k3s, RKE2, EKS AL2023): drop-ins that sort after it
 * lose the field, flags that override it are removed from the files that hold them.
 */
function setInHardeningDropIn(view: KubeletView, field: KubeletField, value: FieldValue): KubeletChange {
  const target = view.hardeningDropIn!;
  const later = view.dropIns.filter((dropIn) => baseName(dropIn.path) > baseName(target.path));
  const flagPaths = view.flags.filter((flag) => flag.name === field.flag).map((flag) => flag.origin.path);
  const blocked = regeneratedBlock(view, field, [...flagPaths, ...later.map((dropIn) => dropIn.path)]);
  if (blocked) return { blocked };
  const edits: FileEdit[] = [
    {
      path: target.path,
      createMode: 0o600,
      transform: (current) => setConfigValue(current ?? dropInSkeleton(target.json), field.configPath, configValue(field, value)),
    },
  ];
  for (const dropIn of later)
    edits.push({ path: dropIn.path, transform: (current) => deleteConfigValue(requireText(current, dropIn.path), field.configPath) });
  return { edits: [...edits, ...removeFlagEdits(view, field)] };
}

function unitBlock(view: KubeletView, field: KubeletField): string | null {
  const inUnit = view.flags.find((flag) => flag.name === field.flag && flag.origin.kind === 'unit');
  return inUnit
    ? `--${field.flag} is set in systemd unit ${inUnit.origin.path}; kube-harden does not edit unit files (needs daemon-reload): move it to ${view.primaryFlagFile?.path ?? view.flagFiles[0] ?? 'a flag file'}`
    : null;
}

/**
 * Makes `field` take `value` on the kubelet's next start. With `keepConfigValue` the config file already
 * holds an acceptable (maybe stricter) value: only the overrides are removed.
 */
export function setKubeletField(view: KubeletView, field: KubeletField, value: FieldValue, keepConfigValue = false): KubeletChange {
  const blocked = view.writeBlock ?? unitBlock(view, field);
  if (blocked) return { blocked };
  if (view.hardeningDropIn) return setInHardeningDropIn(view, field, value);
  if (view.config) {
    const configPath = view.config.path;
    const edits: FileEdit[] = keepConfigValue
      ? []
      : [{ path: configPath, transform: (current) => setConfigValue(requireText(current, configPath), field.configPath, configValue(field, value)) }];
    for (const dropIn of view.dropIns)
      edits.push({ path: dropIn.path, transform: (current) => deleteConfigValue(requireText(current, dropIn.path), field.configPath) });
    return { edits: [...edits, ...removeFlagEdits(view, field)] };
  }
  const text = flagValue(field, value);
  const occurrences = view.flags.filter((flag) => flag.name === field.flag);
  const last = occurrences[occurrences.length - 1];
  const target = last?.origin ?? view.primaryFlagFile;
  if (!target || target.kind === 'unit' || target.kind === 'rancher')
    return { blocked: `the kubelet has no config file and no flag file kube-harden can edit` };
  // Earlier occurrences elsewhere are removed so the one written is the only one (list flags append).
  const others = removeFlagEdits(
    {
      ...view,
      flags: occurrences.filter(
        (flag) =>
          flag.origin.path !== target.path || (target.kind === 'env' && flag.origin.kind === 'env' && flag.origin.variable !== target.variable),
      ),
    },
    field,
  );
  const edit: FileEdit =
    target.kind === 'args'
      ? { path: target.path, transform: (current) => setArg(requireText(current, target.path), field.flag, text) }
      : editEnvVariable(target, (flags) => {
          const withoutDuplicates = (() => {
            let result = flags;
            const tokens = parseFlags(result).flags.filter((token) => token.name === field.flag);
            for (const token of tokens.slice(0, -1).reverse()) result = removeFlag(result, token);
            return result;
          })();
          const token = findToken(withoutDuplicates, field.flag);
          return token ? replaceFlagValue(withoutDuplicates, token, text) : appendFlag(withoutDuplicates, field.flag, text);
        });
  return { edits: [...others, edit] };
}

/** Removes `field` from every source (config file, drop-ins, flags). */
export function unsetKubeletField(view: KubeletView, field: KubeletField): KubeletChange {
  const sources = [...(view.config ? [view.config] : []), ...view.dropIns];
  const regenerated = regeneratedBlock(view, field, [
    ...view.flags.filter((flag) => flag.name === field.flag).map((flag) => flag.origin.path),
    ...sources.filter((source) => getsField(source, field)).map((source) => source.path),
  ]);
  const blocked = view.writeBlock ?? unitBlock(view, field) ?? regenerated;
  if (blocked) return { blocked };
  const edits: FileEdit[] = [];
  for (const source of sources)
    edits.push({ path: source.path, transform: (current) => deleteConfigValue(requireText(current, source.path), field.configPath) });
  return { edits: [...edits, ...removeFlagEdits(view, field)] };
}
