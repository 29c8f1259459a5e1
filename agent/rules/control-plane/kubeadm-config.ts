import { isMap, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import type { Observation } from '../../core/observation.js';
import { COMPONENTS, componentView, type Component } from './components.js';

/** The ClusterConfiguration sections whose extraArgs kubeadm turns into each static pod's flags. */
export type KubeadmSection = 'apiServer' | 'controllerManager' | 'scheduler' | 'etcd';

/** What one section's extraArgs must hold: flags with their values, and flags that must not be there. */
export interface SectionArgs {
  readonly set: Readonly<Record<string, string>>;
  readonly unset: readonly string[];
}

export type KubeadmWanted = Partial<Record<KubeadmSection, SectionArgs>>;

export type KubeadmConfigPlan =
  | { readonly ok: true; readonly text: string; readonly changed: boolean; readonly notes: readonly string[] }
  | { readonly ok: false; readonly error: string };

const API_VERSIONS = ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'] as const;

function extraArgsPath(section: KubeadmSection): string[] {
  return section === 'etcd' ? ['etcd', 'local', 'extraArgs'] : [section, 'extraArgs'];
}

/** The extraArgs as a name→value view, whichever form (v1beta3 map, v1beta4 list of {name, value}). */
function readArgs(node: unknown, listForm: boolean): Map<string, string> | string {
  const args = new Map<string, string>();
  if (node === undefined || node === null) return args;
  if (listForm) {
    if (!isSeq(node)) return 'extraArgs must be a list of { name, value } in v1beta4';
    for (const item of (node as YAMLSeq).items) {
      if (!isMap(item)) return 'every extraArgs entry must be a { name, value } mapping';
      const name = (item as YAMLMap).get('name');
      const value = (item as YAMLMap).get('value');
      if (typeof name !== 'string' || typeof value !== 'string') return `extraArgs entry ${String(name)}: name and value must be strings`;
      args.set(name, value);
    }
    return args;
  }
  if (!isMap(node)) return 'extraArgs must be a map of flag: "value" in v1beta3';
  for (const pair of (node as YAMLMap).items) {
    const key = (pair.key as { value?: unknown } | null)?.value ?? pair.key;
    const value = (pair.value as { value?: unknown } | null)?.value ?? pair.value;
    if (typeof key !== 'string' || typeof value !== 'string') return `extraArgs ${String(key)}: values must be strings (quote them)`;
    args.set(key, value);
  }
  return args;
}

function writeArgs(doc: Document, path: string[], listForm: boolean, want: SectionArgs): void {
  const node = doc.getIn(path);
  if (listForm) {
    const seq = isSeq(node) ? (node as YAMLSeq) : (doc.createNode([]) as YAMLSeq);
    const drop = new Set([...want.unset, ...Object.keys(want.set)]);
    const kept = seq.items.filter((item) => !(isMap(item) && drop.has(String((item as YAMLMap).get('name')))));
    const firstIndex = new Map<string, number>();
    seq.items.forEach((item, index) => {
      const name = isMap(item) ? String((item as YAMLMap).get('name')) : '';
      if (!firstIndex.has(name)) firstIndex.set(name, index);
    });
    // Keep the operator's order: a flag that was there stays in place, new ones go last.
    const placed = [...kept];
    for (const [name, value] of Object.entries(want.set)) {
      const entry = doc.createNode({ name, value });
      const at = firstIndex.get(name);
      if (at === undefined) placed.push(entry);
      else placed.splice(Math.min(at, placed.length), 0, entry);
    }
    seq.items = placed;
    if (!isSeq(node)) doc.setIn(path, seq);
    return;
  }
  for (const name of want.unset) if (doc.hasIn([...path, name])) doc.deleteIn([...path, name]);
  for (const [name, value] of Object.entries(want.set)) doc.setIn([...path, name], value);
}

/**
 * Keeps kubeadm's ClusterConfiguration (the `ClusterConfiguration` text of ConfigMap
 * kube-system/kubeadm-config) in step with the hardened flags, so `kubeadm upgrade` regenerates the
 * manifests with them. Pure: text in, text out. Comments and every setting it does not own are kept; the
 * result is parsed again and checked whole (kind, apiVersion, the extraArgs form, every wanted value)
 * before it is returned. etcd.local only: an external etcd is not kubeadm's to configure.
 */
export function planKubeadmConfig(text: string, wanted: KubeadmWanted): KubeadmConfigPlan {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, error: `ClusterConfiguration: ${doc.errors[0]!.message.split('\n')[0]}` };
  const apiVersion = doc.get('apiVersion');
  if (doc.get('kind') !== 'ClusterConfiguration') return { ok: false, error: 'ClusterConfiguration: kind must be ClusterConfiguration' };
  if (!(API_VERSIONS as readonly unknown[]).includes(apiVersion))
    return { ok: false, error: `ClusterConfiguration: apiVersion ${String(apiVersion)} is not one kube-harden writes (${API_VERSIONS.join(', ')})` };
  const listForm = apiVersion === 'kubeadm.k8s.io/v1beta4';
  const notes: string[] = [];
  let touched = false;
  for (const [section, want] of Object.entries(wanted) as [KubeadmSection, SectionArgs][]) {
    if (section === 'etcd' && doc.hasIn(['etcd', 'external'])) {
      notes.push('etcd is external: its flags are set where it runs, not in the ClusterConfiguration');
      continue;
    }
    const path = extraArgsPath(section);
    const current = readArgs(doc.getIn(path), listForm);
    if (typeof current === 'string') return { ok: false, error: `ClusterConfiguration ${path.join('.')}: ${current}` };
    const needed = Object.entries(want.set).some(([name, value]) => current.get(name) !== value) || want.unset.some((name) => current.has(name));
    if (needed) {
      writeArgs(doc, path, listForm, want);
      touched = true;
    }
  }
  // Untouched text is returned as it was (re-serializing would restyle what the operator wrote).
  const next = touched ? doc.toString({ lineWidth: 0 }) : text;
  // Validated whole: the text kubeadm would read back.
  const check = parseDocument(next, { uniqueKeys: true });
  if (check.errors.length > 0 || check.get('kind') !== 'ClusterConfiguration' || check.get('apiVersion') !== apiVersion)
    return { ok: false, error: 'internal: the planned ClusterConfiguration does not read back' };
  for (const [section, want] of Object.entries(wanted) as [KubeadmSection, SectionArgs][]) {
    if (section === 'etcd' && check.hasIn(['etcd', 'external'])) continue;
    const args = readArgs(check.getIn(extraArgsPath(section)), listForm);
    if (typeof args === 'string') return { ok: false, error: `internal: ${args}` };
    for (const [name, value] of Object.entries(want.set))
      if (args.get(name) !== value) return { ok: false, error: `internal: ${section}.extraArgs ${name} did not read back as ${value}` };
    for (const name of want.unset) if (args.has(name)) return { ok: false, error: `internal: ${section}.extraArgs ${name} is still set` };
  }
  const changed = next !== text;
  return { ok: true, text: changed ? next : text, changed, notes };
}

/** Flags kube-harden's rules own, per component (set or removed by a rule); others are the operator's. */
export const OWNED_FLAGS: Readonly<Record<KubeadmSection, readonly string[]>> = {
  apiServer: [
    'profiling',
    'tls-min-version',
    'tls-cipher-suites',
    'service-account-lookup',
    'service-account-extend-token-expiration',
    'authorization-mode',
    'kubelet-certificate-authority',
    'anonymous-auth',
    'authentication-config',
    'enable-admission-plugins',
    'disable-admission-plugins',
    'admission-control-config-file',
    'audit-policy-file',
    'audit-log-path',
    'audit-log-maxage',
    'audit-log-maxbackup',
    'audit-log-maxsize',
    'kubelet-client-certificate',
    'kubelet-client-key',
    'etcd-certfile',
    'etcd-keyfile',
    'token-auth-file',
  ],
  controllerManager: [
    'profiling',
    'bind-address',
    'terminated-pod-gc-threshold',
    'controllers',
    'use-service-account-credentials',
    'root-ca-file',
    'feature-gates',
  ],
  scheduler: ['profiling', 'bind-address'],
  etcd: [
    'cert-file',
    'key-file',
    'peer-cert-file',
    'peer-key-file',
    'trusted-ca-file',
    'peer-trusted-ca-file',
    'client-cert-auth',
    'peer-client-cert-auth',
    'auto-tls',
    'peer-auto-tls',
  ],
};

const SECTION_COMPONENT: Readonly<Record<KubeadmSection, Component>> = {
  apiServer: COMPONENTS.apiserver,
  controllerManager: COMPONENTS.controllerManager,
  scheduler: COMPONENTS.scheduler,
  etcd: COMPONENTS.etcd,
};

/**
 * What the ClusterConfiguration should carry, read from this control-plane node's (hardened) static pod
 * manifests: each owned flag with its value, and each owned flag the manifest no longer has as unset.
 */
export function wantedFromManifests(obs: Observation): KubeadmWanted {
  const wanted: Partial<Record<KubeadmSection, SectionArgs>> = {};
  for (const [section, component] of Object.entries(SECTION_COMPONENT) as [KubeadmSection, Component][]) {
    const view = componentView(obs, component);
    if (view.kind !== 'static-pod') continue;
    const set: Record<string, string> = {};
    const unset: string[] = [];
    for (const flag of OWNED_FLAGS[section]) {
      const value = view.flags.get(flag);
      if (value === undefined) unset.push(flag);
      else set[flag] = value;
    }
    wanted[section] = { set, unset };
  }
  return wanted;
}
