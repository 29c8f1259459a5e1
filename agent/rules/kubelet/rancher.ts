import { dirEntries, type Observation, type Targets } from '../../core/observation.js';
import { FormatError } from '../../formats/env-file.js';
import { parseKubeletConfig } from '../../formats/kubelet-yaml.js';
import { mergeRancherConfig, splitArg } from '../../formats/rancher-config.js';
import { expandExecStart, parseUnitService } from '../../formats/systemd-unit.js';
import type { Distribution } from '../platform/distribution.js';
import type { ConfigSource, FlagOccurrence, InputError } from './settings.js';

/**
 * k3s and RKE2 (docs.k3s.io "Configuration File", docs.rke2.io "Configuration Options"): settings live
 * in `/etc/rancher/<name>/config.yaml` plus `config.yaml.d/*.yaml` in name order (the last value of a
 * key wins; `key+` appends); command-line flags in the service unit beat the files and replace a
 * repeatable flag's whole list. Each `kubelet-arg` entry becomes a kubelet flag; `protect-kernel-defaults:
 * true` becomes `--protect-kernel-defaults=true`. From v1.32 both run the kubelet with
 * `--config-dir=<data-dir>/agent/etc/kubelet.conf.d`, where they write their own defaults
 * (`00-<name>-defaults.conf`, rewritten at every start) and document a drop-in as the recommended way to
 * change a kubelet setting: kube-harden writes its own, `90-kube-harden.conf`.
 */
export interface RancherLayout {
  readonly name: 'k3s' | 'rke2';
  readonly config: string;
  readonly configDir: string;
  readonly kubeletConfDir: string;
  readonly defaultsDropIn: string;
  /** CNI config directory (docs: `<data-dir>/agent/etc/cni/net.d`). */
  readonly cniConfDir: string;
  readonly units: { readonly server: readonly string[]; readonly agent: readonly string[] };
  readonly services: { readonly server: string; readonly agent: string };
  readonly binary: string;
  readonly kubeconfig: string;
}

export const K3S: RancherLayout = {
  name: 'k3s',
  config: '/etc/rancher/k3s/config.yaml',
  configDir: '/etc/rancher/k3s/config.yaml.d',
  kubeletConfDir: '/var/lib/rancher/k3s/agent/etc/kubelet.conf.d',
  defaultsDropIn: '00-k3s-defaults.conf',
  cniConfDir: '/var/lib/rancher/k3s/agent/etc/cni/net.d',
  // install.sh writes the unit to /etc/systemd/system (INSTALL_K3S_SYSTEMD_DIR's default).
  units: { server: ['/etc/systemd/system/k3s.service'], agent: ['/etc/systemd/system/k3s-agent.service'] },
  services: { server: 'k3s', agent: 'k3s-agent' },
  binary: '/usr/local/bin/k3s',
  kubeconfig: '/var/lib/rancher/k3s/agent/kubelet.kubeconfig',
};

export const RKE2: RancherLayout = {
  name: 'rke2',
  config: '/etc/rancher/rke2/config.yaml',
  configDir: '/etc/rancher/rke2/config.yaml.d',
  kubeletConfDir: '/var/lib/rancher/rke2/agent/etc/kubelet.conf.d',
  defaultsDropIn: '00-rke2-defaults.conf',
  cniConfDir: '/var/lib/rancher/rke2/agent/etc/cni/net.d',
  // tarball: <prefix>/lib/systemd/system (/usr/local or /opt/rke2); RPM: /usr/lib/systemd/system.
  units: {
    server: [
      '/etc/systemd/system/rke2-server.service',
      '/usr/local/lib/systemd/system/rke2-server.service',
      '/opt/rke2/lib/systemd/system/rke2-server.service',
      '/usr/lib/systemd/system/rke2-server.service',
    ],
    agent: [
      '/etc/systemd/system/rke2-agent.service',
      '/usr/local/lib/systemd/system/rke2-agent.service',
      '/opt/rke2/lib/systemd/system/rke2-agent.service',
      '/usr/lib/systemd/system/rke2-agent.service',
    ],
  },
  services: { server: 'rke2-server', agent: 'rke2-agent' },
  binary: '/var/lib/rancher/rke2/bin/kubelet',
  kubeconfig: '/var/lib/rancher/rke2/agent/kubelet.kubeconfig',
};

/** kube-harden's own kubelet drop-in: after the distribution's `00-` defaults and its `10-`/`20-` copies. */
export const HARDENING_DROP_IN = '90-kube-harden.conf';

export function rancherLayout(distribution: Distribution): RancherLayout | null {
  return distribution.id === 'k3s' ? K3S : distribution.id === 'rke2' ? RKE2 : null;
}

function configFiles(obs: Observation, layout: RancherLayout): string[] {
  const dropIns = dirEntries(obs, layout.configDir)
    .filter((name) => name.endsWith('.yaml') || name.endsWith('.yml'))
    .sort()
    .map((name) => `${layout.configDir}/${name}`);
  return [layout.config, ...dropIns];
}

function kubeletDropIns(obs: Observation, layout: RancherLayout): string[] {
  return dirEntries(obs, layout.kubeletConfDir)
    .filter((name) => name.endsWith('.conf'))
    .map((name) => `${layout.kubeletConfDir}/${name}`);
}

function roleOf(obs: Observation, layout: RancherLayout, distribution: Distribution): 'server' | 'agent' | null {
  if (distribution.role) return distribution.role;
  if (layout.units.server.some((path) => obs.files.get(path)?.kind === 'file')) return 'server';
  if (layout.units.agent.some((path) => obs.files.get(path)?.kind === 'file')) return 'agent';
  return null;
}

/** Everything the k3s/RKE2 view reads, given what has been read so far. */
export function rancherTargets(obs: Observation, layout: RancherLayout): Targets {
  return {
    files: [...configFiles(obs, layout), ...kubeletDropIns(obs, layout), ...layout.units.server, ...layout.units.agent, layout.kubeconfig],
    dirs: [layout.configDir, layout.kubeletConfDir],
  };
}

/** What resolveKubeletView needs from a k3s/RKE2 node. */
export interface RancherView {
  readonly service: string | null;
  readonly flags: readonly FlagOccurrence[];
  readonly dropIns: readonly ConfigSource[];
  readonly configFiles: readonly string[];
  readonly unitFiles: readonly string[];
  readonly kubeconfigPath: string;
  readonly dropInDirExists: boolean;
}

/** Command-line `--kubelet-arg`/`--protect-kernel-defaults` words of the service's ExecStart. */
function commandLineFlags(obs: Observation, unit: string, errors: InputError[]): FlagOccurrence[] {
  const state = obs.files.get(unit);
  if (state?.kind !== 'file') return [];
  try {
    const exec = parseUnitService(state.content, unit).execStart.at(-1);
    if (!exec) return [];
    const words = expandExecStart(exec, () => undefined).map((word) => word.text);
    const flags: FlagOccurrence[] = [];
    const origin = { kind: 'unit', path: unit, variable: null } as const;
    for (let index = 0; index < words.length; index++) {
      const word = words[index]!;
      if (word === '--kubelet-arg' && words[index + 1] !== undefined) flags.push({ ...splitArg(words[++index]!), origin });
      else if (word.startsWith('--kubelet-arg=')) flags.push({ ...splitArg(word.slice('--kubelet-arg='.length)), origin });
      else if (word === '--protect-kernel-defaults' || word === '--protect-kernel-defaults=true')
        flags.push({ name: 'protect-kernel-defaults', value: 'true', origin });
    }
    return flags;
  } catch (error) {
    errors.push({ path: unit, message: `${unit}: ${error instanceof Error ? error.message : String(error)}` });
    return [];
  }
}

export function resolveRancherView(obs: Observation, layout: RancherLayout, distribution: Distribution, errors: InputError[]): RancherView {
  const role = roleOf(obs, layout, distribution);
  const unitFiles = role ? layout.units[role].filter((path) => obs.files.get(path)?.kind === 'file').slice(0, 1) : [];
  const files: { path: string; text: string }[] = [];
  const paths = configFiles(obs, layout);
  for (const path of paths) {
    const state = obs.files.get(path);
    if (state?.kind === 'file') files.push({ path, text: state.content });
    else if (state?.kind === 'error') errors.push({ path, message: `${path}: ${state.error}` });
  }
  const flags: FlagOccurrence[] = [];
  try {
    const merged = mergeRancherConfig(files);
    const args = merged.get('kubelet-arg');
    const entries = args?.kind === 'list' ? args.items : args ? [{ value: args.value, path: args.path, key: args.key }] : [];
    for (const entry of entries)
      if (entry.value.trim() !== '') flags.push({ ...splitArg(entry.value), origin: { kind: 'rancher', path: entry.path, key: entry.key } });
    const protect = merged.get('protect-kernel-defaults');
    if (protect?.kind === 'scalar' && protect.value === 'true')
      flags.push({ name: 'protect-kernel-defaults', value: 'true', origin: { kind: 'rancher', path: protect.path, key: protect.key } });
    // RKE2's CIS profile sets the kubelet's protect-kernel-defaults itself (RKE2 hardening guide).
    const profile = merged.get('profile');
    if (layout.name === 'rke2' && profile?.kind === 'scalar' && profile.value.startsWith('cis'))
      flags.push({ name: 'protect-kernel-defaults', value: 'true', origin: { kind: 'rancher', path: profile.path, key: profile.key } });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const path = files.find((file) => message.startsWith(`${file.path}:`))?.path ?? layout.config;
    const line = error instanceof FormatError && error.line !== null ? ` (line ${error.line})` : '';
    errors.push({ path, message: `${message}${line}` });
  }
  // Flags on the command line beat the files; a repeated flag given there replaces the files' whole list.
  const cli = unitFiles.flatMap((unit) => commandLineFlags(obs, unit, errors));
  const fromCli = new Set(cli.map((flag) => (flag.name === 'protect-kernel-defaults' ? 'protect-kernel-defaults' : 'kubelet-arg')));
  const kept = flags.filter((flag) => !fromCli.has(flag.name === 'protect-kernel-defaults' ? 'protect-kernel-defaults' : 'kubelet-arg'));

  const dropIns: ConfigSource[] = [];
  for (const path of kubeletDropIns(obs, layout)) {
    const state = obs.files.get(path);
    if (state?.kind !== 'file') {
      if (state?.kind === 'error') errors.push({ path, message: `${path}: ${state.error}` });
      continue;
    }
    try {
      dropIns.push({ path, parsed: parseKubeletConfig(state.content) });
    } catch (error) {
      const line = error instanceof FormatError && error.line !== null ? `:${error.line}` : '';
      errors.push({ path, message: `${path}${line}: ${error instanceof Error ? error.message : String(error)}` });
    }
  }
  return {
    service: role ? layout.services[role] : null,
    flags: [...kept, ...cli],
    dropIns,
    configFiles: files.map((file) => file.path),
    unitFiles,
    kubeconfigPath: layout.kubeconfig,
    dropInDirExists: obs.dirs.get(layout.kubeletConfDir)?.kind === 'dir',
  };
}
