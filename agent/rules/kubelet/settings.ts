import { dirEntries, type FileState, type Observation, type Targets } from '../../core/observation.js';
import { parseArgsFile } from '../../formats/args-file.js';
import { FormatError, parseEnvFile } from '../../formats/env-file.js';
import { parseFlags } from '../../formats/flags.js';
import { getConfigValue, parseKubeletConfig, type ParsedKubeletConfig } from '../../formats/kubelet-yaml.js';
import { expandExecStart, mergeServiceSections, parseUnitService, type UnitServiceSection } from '../../formats/systemd-unit.js';
import { parseConfigValue, parseFlagValue, type FieldValue, type KubeletField } from './fields.js';
import { detectDistribution, distributionTargets, type Distribution } from '../platform/distribution.js';
import { EXTRA_ARGS_VARIABLE, KUBEADM, SNAP } from './layout.js';
import { HARDENING_DROP_IN, rancherLayout, rancherTargets, resolveRancherView } from './rancher.js';

/**
 * Where a flag occurrence lives. `env`: inside an EnvironmentFile variable; `args`: a snap args line;
 * `unit`: an Environment= or literal ExecStart word in a systemd unit (never edited by the agent).
 */
export type FlagOrigin =
  | { readonly kind: 'env'; readonly path: string; readonly variable: string }
  | { readonly kind: 'args'; readonly path: string }
  | { readonly kind: 'unit'; readonly path: string; readonly variable: string | null }
  /** A `kubelet-arg` entry (or `protect-kernel-defaults`) in a k3s/RKE2 config file, under `key` as written. */
  | { readonly kind: 'rancher'; readonly path: string; readonly key: string };

export interface FlagOccurrence {
  readonly name: string;
  readonly value: string;
  readonly origin: FlagOrigin;
}

/** A parsed KubeletConfiguration file (config.yaml or a `--config-dir` drop-in). */
export interface ConfigSource {
  readonly path: string;
  readonly parsed: ParsedKubeletConfig;
}

/** An input the agent could not parse: rules that depend on it report `unknown`, nothing is written. */
export interface InputError {
  readonly path: string;
  readonly message: string;
}

export type KubeletLayout = 'kubeadm' | 'k8s-snap' | 'k3s' | 'rke2' | 'unknown';

/** A file its owner rewrites (at service start or boot): kube-harden never edits it. */
export interface RegeneratedFile {
  readonly path: string;
  /** Who rewrites it and where the setting belongs instead. */
  readonly by: string;
}

/** Everything about the kubelet's configuration, resolved from the observation (pure). */
export interface KubeletView {
  readonly layout: KubeletLayout;
  readonly distribution: Distribution;
  /**
   * kube-harden's own drop-in in the kubelet's `--config-dir`, where settings are written on layouts
   * whose other files belong to someone else (k3s, RKE2, EKS AL2023); null: write where the value lives.
   */
  readonly hardeningDropIn: { readonly path: string; readonly json: boolean } | null;
  /** Why no kubelet setting can be written on this layout, or null. */
  readonly writeBlock: string | null;
  readonly regenerated: readonly RegeneratedFile[];
  readonly service: string | null;
  /** Flags in command-line order (later wins; list flags append). */
  readonly flags: readonly FlagOccurrence[];
  /** The `--config` path, and the parsed file when it exists. */
  readonly configPath: string | null;
  readonly config: ConfigSource | null;
  readonly dropIns: readonly ConfigSource[];
  /** Where a new flag goes when the kubelet has no config file. */
  readonly primaryFlagFile: FlagOrigin | null;
  /** Files that hold kubelet flags (EnvironmentFiles that exist, the snap args file), parsed or not. */
  readonly flagFiles: readonly string[];
  /** systemd unit files (base unit and drop-ins) that start the kubelet. */
  readonly unitFiles: readonly string[];
  readonly kubeconfigPath: string | null;
  readonly errors: readonly InputError[];
}

/** Effective value of one field and where it comes from. */
export interface EffectiveValue {
  readonly value: FieldValue | null;
  /** Raw text as written (for messages). */
  readonly raw: string;
  readonly origin: 'flag' | 'drop-in' | 'config' | 'default';
  /** Host path that decides the value; for defaults the config file (or null without one). */
  readonly path: string | null;
}

function describeError(path: string, error: unknown): InputError {
  const line = error instanceof FormatError && error.line !== null ? `:${error.line}` : '';
  return { path, message: `${path}${line}: ${error instanceof Error ? error.message : String(error)}` };
}

function content(state: FileState | undefined): string | null {
  return state?.kind === 'file' ? state.content : null;
}

/** The unit files the kubelet service is made of, in systemd's merge order. */
function unitFilesOf(obs: Observation): string[] {
  const base = KUBEADM.unitFiles.find((path) => obs.files.get(path)?.kind === 'file');
  const dropIns = new Map<string, string>();
  for (const dir of KUBEADM.dropInDirs)
    for (const name of dirEntries(obs, dir)) if (name.endsWith('.conf') && !dropIns.has(name)) dropIns.set(name, `${dir}/${name}`);
  const ordered = [...dropIns.keys()].sort().map((name) => dropIns.get(name)!);
  return base ? [base, ...ordered] : ordered;
}

function isSnap(obs: Observation): boolean {
  return obs.files.get(SNAP.args)?.kind === 'file';
}

/** The flags of the kubelet, read from the snap args file or from systemd units + env files. */
function readFlags(
  obs: Observation,
  errors: InputError[],
): { flags: FlagOccurrence[]; units: string[]; envFiles: string[]; section: UnitServiceSection | null } {
  if (isSnap(obs)) {
    const text = content(obs.files.get(SNAP.args))!;
    try {
      const flags = parseArgsFile(text).args.map((arg): FlagOccurrence => ({
        name: arg.name,
        value: arg.value,
        origin: { kind: 'args', path: SNAP.args },
      }));
      return { flags, units: [], envFiles: [], section: null };
    } catch (error) {
      errors.push(describeError(SNAP.args, error));
      return { flags: [], units: [], envFiles: [], section: null };
    }
  }
  const units = unitFilesOf(obs);
  const sections: UnitServiceSection[] = [];
  for (const path of units) {
    try {
      sections.push(parseUnitService(content(obs.files.get(path)) ?? '', path));
    } catch (error) {
      errors.push(describeError(path, error));
    }
  }
  if (sections.length === 0) return { flags: [], units, envFiles: [], section: null };
  const section = mergeServiceSections(sections);
  // Variables: Environment= first, then EnvironmentFile= in order (later definitions win).
  const variables = new Map<string, { value: string; origin: FlagOrigin }>();
  for (const env of section.environment) variables.set(env.name, { value: env.value, origin: { kind: 'unit', path: env.file, variable: env.name } });
  const envFiles: string[] = [];
  for (const entry of section.environmentFiles) {
    envFiles.push(entry.path);
    const state = obs.files.get(entry.path);
    if (state?.kind === 'error') errors.push({ path: entry.path, message: `${entry.path}: ${state.error}` });
    const text = content(state);
    if (text === null) {
      if (!entry.optional && state?.kind === 'missing')
        errors.push({ path: entry.path, message: `${entry.path}: required EnvironmentFile is missing` });
      continue;
    }
    try {
      for (const assignment of parseEnvFile(text).assignments)
        variables.set(assignment.name, { value: assignment.value, origin: { kind: 'env', path: entry.path, variable: assignment.name } });
    } catch (error) {
      errors.push(describeError(entry.path, error));
    }
  }
  const execStart = section.execStart[section.execStart.length - 1];
  if (!execStart) return { flags: [], units, envFiles, section };
  const flags: FlagOccurrence[] = [];
  const unitOfExec = units[units.length - 1] ?? '';
  // Expand variable by variable so every flag knows the file that holds it.
  const words = expandExecStart(execStart, (name) => variables.get(name)?.value);
  const byVariable = new Map<string | null, string[]>();
  for (const word of words.slice(1)) byVariable.set(word.variable, [...(byVariable.get(word.variable) ?? []), word.text]);
  const seen = new Set<string | null>();
  for (const word of words.slice(1)) {
    if (seen.has(word.variable)) continue;
    seen.add(word.variable);
    const text = (byVariable.get(word.variable) ?? []).join(' ');
    const origin: FlagOrigin =
      word.variable === null
        ? { kind: 'unit', path: unitOfExec, variable: null }
        : (variables.get(word.variable)?.origin ?? { kind: 'unit', path: unitOfExec, variable: word.variable });
    for (const token of parseFlags(text).flags) flags.push({ name: token.name, value: token.value, origin });
  }
  return { flags, units, envFiles, section };
}

function lastFlag(flags: readonly FlagOccurrence[], name: string): FlagOccurrence | undefined {
  return [...flags].reverse().find((flag) => flag.name === name);
}

/** Resolves the kubelet's configuration sources from an observation. */
export function resolveKubeletView(obs: Observation): KubeletView {
  const errors: InputError[] = [];
  const distribution = detectDistribution(obs);
  const rancher = rancherLayout(distribution);
  if (rancher) {
    const view = resolveRancherView(obs, rancher, distribution, errors);
    const name = rancher.name === 'k3s' ? 'k3s' : 'RKE2';
    return {
      layout: rancher.name,
      distribution,
      hardeningDropIn: { path: `${rancher.kubeletConfDir}/${HARDENING_DROP_IN}`, json: false },
      writeBlock: !view.service
        ? `no ${name} service unit found (${[...rancher.units.server, ...rancher.units.agent].join(', ')})`
        : view.dropInDirExists
          ? null
          : `${rancher.kubeletConfDir} does not exist (${name} before v1.32, or ${name} has not started): set kubelet-arg in ${rancher.config}`,
      regenerated: [{ path: `${rancher.kubeletConfDir}/${rancher.defaultsDropIn}`, by: `${name} at every start (its built-in defaults)` }],
      service: view.service,
      flags: view.flags,
      configPath: null,
      config: null,
      dropIns: view.dropIns,
      primaryFlagFile: null,
      flagFiles: view.configFiles,
      unitFiles: view.unitFiles,
      kubeconfigPath: view.kubeconfigPath,
      errors,
    };
  }
  const { flags, units, envFiles } = readFlags(obs, errors);
  const snap = isSnap(obs);
  const layout: KubeletLayout = snap ? 'k8s-snap' : units.length > 0 || obs.files.get(KUBEADM.config)?.kind === 'file' ? 'kubeadm' : 'unknown';

  const configPath = lastFlag(flags, 'config')?.value ?? null;
  let config: ConfigSource | null = null;
  if (configPath) {
    const state = obs.files.get(configPath);
    if (state?.kind === 'file') {
      try {
        config = { path: configPath, parsed: parseKubeletConfig(state.content) };
      } catch (error) {
        errors.push(describeError(configPath, error));
      }
    } else if (state?.kind === 'error') errors.push({ path: configPath, message: `${configPath}: ${state.error}` });
    // A --config that names a missing file stops the kubelet; the rules say so through `unknown`.
    else errors.push({ path: configPath, message: `${configPath}: the kubelet's --config file does not exist` });
  }

  const dropIns: ConfigSource[] = [];
  const configDir = lastFlag(flags, 'config-dir')?.value;
  // The kubelet reads its drop-ins in name order: later files win.
  if (configDir)
    for (const name of [...dirEntries(obs, configDir)].filter((entry) => entry.endsWith('.conf')).sort()) {
      const path = `${configDir}/${name}`;
      const state = obs.files.get(path);
      if (state?.kind !== 'file') continue;
      try {
        dropIns.push({ path, parsed: parseKubeletConfig(state.content) });
      } catch (error) {
        errors.push(describeError(path, error));
      }
    }

  let primaryFlagFile: FlagOrigin | null = null;
  if (snap) primaryFlagFile = { kind: 'args', path: SNAP.args };
  else {
    const extra = envFiles.find((path) => (KUBEADM.extraArgsFiles as readonly string[]).includes(path) && obs.files.get(path)?.kind === 'file');
    if (extra) primaryFlagFile = { kind: 'env', path: extra, variable: EXTRA_ARGS_VARIABLE };
  }

  // EKS AL2023: nodeadm rewrites config.json, its own drop-in and the flags file at every boot, so the
  // hardened values go to kube-harden's drop-in, which nodeadm leaves alone.
  const nodeadm = distribution.id === 'eks-al2023' && configDir !== undefined;
  const byNodeadm = 'nodeadm at every boot from the NodeConfig (set spec.kubelet.config or spec.kubelet.flags in the user data)';
  return {
    layout,
    distribution,
    hardeningDropIn: nodeadm ? { path: `${configDir}/${HARDENING_DROP_IN}`, json: true } : null,
    writeBlock: null,
    regenerated: nodeadm
      ? [
          ...envFiles.filter((path) => path.startsWith('/etc/eks/')).map((path) => ({ path, by: byNodeadm })),
          ...(configPath ? [{ path: configPath, by: byNodeadm }] : []),
          ...dropIns.filter((source) => source.path.endsWith('-nodeadm.conf')).map((source) => ({ path: source.path, by: byNodeadm })),
        ]
      : [],
    service: layout === 'k8s-snap' ? SNAP.service : layout === 'kubeadm' ? KUBEADM.service : null,
    flags,
    configPath,
    config,
    dropIns,
    primaryFlagFile,
    flagFiles: snap ? [SNAP.args] : envFiles.filter((path) => obs.files.get(path)?.kind !== 'missing'),
    unitFiles: units,
    kubeconfigPath: lastFlag(flags, 'kubeconfig')?.value ?? (layout === 'unknown' ? null : KUBEADM.kubeconfig),
    errors,
  };
}

/** The files and dirs to read next, given what has been read so far (observe iterates to a fixpoint). */
export function kubeletTargets(obs: Observation): Targets {
  const files: string[] = [KUBEADM.config, KUBEADM.kubeconfig, SNAP.args, ...KUBEADM.unitFiles, ...(distributionTargets().files ?? [])];
  const dirs: string[] = [...KUBEADM.dropInDirs];
  const rancher = rancherLayout(detectDistribution(obs));
  if (rancher) {
    const more = rancherTargets(obs, rancher);
    files.push(...(more.files ?? []));
    dirs.push(...(more.dirs ?? []));
  }
  files.push(...unitFilesOf(obs));
  const view = resolveKubeletView(obs);
  for (const unit of view.unitFiles) {
    const text = content(obs.files.get(unit));
    if (text === null) continue;
    try {
      files.push(...parseUnitService(text, unit).environmentFiles.map((entry) => entry.path));
    } catch {
      // reported by resolveKubeletView
    }
  }
  if (view.configPath) files.push(view.configPath);
  if (view.kubeconfigPath) files.push(view.kubeconfigPath);
  const configDir = lastFlag(view.flags, 'config-dir')?.value;
  if (configDir) {
    dirs.push(configDir);
    files.push(
      ...dirEntries(obs, configDir)
        .filter((name) => name.endsWith('.conf'))
        .map((name) => `${configDir}/${name}`),
    );
  }
  return { files, dirs };
}

/** The effective value of `field`: flags beat drop-ins beat the config file beat the defaults. */
export function effectiveValue(view: KubeletView, field: KubeletField): EffectiveValue {
  const occurrences = view.flags.filter((flag) => flag.name === field.flag);
  const last = occurrences[occurrences.length - 1];
  if (last) {
    // pflag string slices append on repeated flags; scalars keep the last occurrence.
    const raw = field.kind === 'list' ? occurrences.map((flag) => flag.value).join(',') : last.value;
    return { value: parseFlagValue(field.kind, raw), raw: `--${field.flag}=${raw}`, origin: 'flag', path: last.origin.path };
  }
  for (const dropIn of [...view.dropIns].reverse()) {
    const value = getConfigValue(dropIn.parsed, field.configPath);
    if (value !== undefined) return { value: parseConfigValue(field.kind, value), raw: JSON.stringify(value), origin: 'drop-in', path: dropIn.path };
  }
  if (view.config) {
    const value = getConfigValue(view.config.parsed, field.configPath);
    if (value !== undefined)
      return { value: parseConfigValue(field.kind, value), raw: JSON.stringify(value), origin: 'config', path: view.config.path };
    return { value: field.configDefault, raw: '(not set)', origin: 'default', path: view.config.path };
  }
  return { value: field.legacyDefault, raw: '(not set)', origin: 'default', path: view.primaryFlagFile?.path ?? null };
}
