import { isMap, isScalar, isSeq, parseDocument, Scalar, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { yamlErrorText } from '../../formats/yaml-read.js';

/** The ClusterConfiguration sections whose extraArgs (and extraVolumes) kubeadm turns into each static pod. */
export type KubeadmSection = 'apiServer' | 'controllerManager' | 'scheduler' | 'etcd';

/** A kubeadm `HostPathMount` (extraVolumes entry): the same fields in v1beta3 and v1beta4. */
export interface ExtraVolume {
  readonly name: string;
  readonly hostPath: string;
  readonly mountPath: string;
  readonly readOnly: boolean;
  /** The hostPath type (`File`, `DirectoryOrCreate`, ...); null = none (kubeadm then checks nothing). */
  readonly pathType: string | null;
}

/** What one section must hold: flags with their values, flags that must not be there, and host mounts. */
export interface SectionArgs {
  readonly set: Readonly<Record<string, string>>;
  readonly unset: readonly string[];
  /** extraVolumes the flags need (not for etcd: `etcd.local` has no extraVolumes in v1beta3 or v1beta4). */
  readonly volumes?: readonly ExtraVolume[];
}

export type KubeadmWanted = Partial<Record<KubeadmSection, SectionArgs>>;

export type KubeadmConfigPlan =
  | {
      readonly ok: true;
      readonly text: string;
      readonly changed: boolean;
      /** What differed, e.g. `apiServer.extraArgs profiling` or `apiServer.extraVolumes kube-harden-audit-log` (names, no values). */
      readonly changes: readonly string[];
      /** The ClusterConfiguration's `kubernetesVersion` (the version `kubeadm upgrade` generates manifests for). */
      readonly kubernetesVersion: string | null;
      readonly notes: readonly string[];
    }
  | { readonly ok: false; readonly error: string };

export const KUBEADM_API_VERSIONS = ['kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta4'] as const;

/**
 * Flags that differ from one control-plane node to the next (its address, etcd's member name and URLs).
 * One ClusterConfiguration feeds every node: such a flag there would give every node the same address.
 * The planner refuses to write them, whatever asks.
 */
export const PER_NODE_FLAGS: Readonly<Record<KubeadmSection, readonly string[]>> = {
  apiServer: ['advertise-address', 'bind-address'],
  controllerManager: [],
  scheduler: [],
  etcd: [
    'name',
    'advertise-client-urls',
    'initial-advertise-peer-urls',
    'initial-cluster',
    'initial-cluster-state',
    'listen-client-urls',
    'listen-peer-urls',
    'listen-metrics-urls',
  ],
};

function extraArgsPath(section: KubeadmSection): string[] {
  return section === 'etcd' ? ['etcd', 'local', 'extraArgs'] : [section, 'extraArgs'];
}

function extraVolumesPath(section: KubeadmSection): string[] {
  return [section, 'extraVolumes'];
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

/** The extraVolumes list (a list of HostPathMount in both versions). */
function readVolumes(node: unknown): ExtraVolume[] | string {
  if (node === undefined || node === null) return [];
  if (!isSeq(node)) return 'extraVolumes must be a list of { name, hostPath, mountPath }';
  const volumes: ExtraVolume[] = [];
  for (const item of (node as YAMLSeq).items) {
    if (!isMap(item)) return 'every extraVolumes entry must be a mapping';
    const entry = item as YAMLMap;
    const [name, hostPath, mountPath, readOnly, pathType] = ['name', 'hostPath', 'mountPath', 'readOnly', 'pathType'].map((key) => entry.get(key));
    if (typeof name !== 'string' || typeof hostPath !== 'string' || typeof mountPath !== 'string')
      return `extraVolumes entry ${String(name)}: name, hostPath and mountPath must be strings`;
    if (readOnly !== undefined && typeof readOnly !== 'boolean') return `extraVolumes entry ${name}: readOnly must be true or false`;
    if (pathType !== undefined && pathType !== null && typeof pathType !== 'string') return `extraVolumes entry ${name}: pathType must be a string`;
    volumes.push({
      name,
      hostPath,
      mountPath,
      readOnly: readOnly === true,
      pathType: typeof pathType === 'string' && pathType !== '' ? pathType : null,
    });
  }
  return volumes;
}

/** Two entries with one name or one mount path make an invalid pod: what is doubled, or null. */
function duplicateOf(volumes: readonly ExtraVolume[]): string | null {
  for (const [index, volume] of volumes.entries()) {
    const other = volumes.slice(index + 1);
    if (other.some((candidate) => candidate.name === volume.name)) return `two entries are named ${volume.name}`;
    if (other.some((candidate) => candidate.mountPath === volume.mountPath)) return `two entries mount ${volume.mountPath}`;
  }
  return null;
}

function sameVolume(a: ExtraVolume, b: ExtraVolume): boolean {
  return a.name === b.name && a.hostPath === b.hostPath && a.mountPath === b.mountPath && a.readOnly === b.readOnly && a.pathType === b.pathType;
}

/**
 * Whether `want` is already there: the same entry, or another entry mounting the same host path at the
 * same place. A different host path at that mount path is a conflict (two mounts at one path make the
 * pod invalid, and replacing the operator's would change what the component reads).
 */
function volumeState(current: readonly ExtraVolume[], want: ExtraVolume): 'present' | 'missing' | { conflict: string } {
  if (current.some((volume) => sameVolume(volume, want))) return 'present';
  const atPath = current.find((volume) => volume.mountPath === want.mountPath && volume.name !== want.name);
  if (atPath && atPath.hostPath === want.hostPath) return 'present';
  if (atPath) return { conflict: `${atPath.name} mounts ${atPath.hostPath} at ${want.mountPath}, where this node mounts ${want.hostPath}` };
  return 'missing';
}

function volumeNode(volume: ExtraVolume): Record<string, unknown> {
  return {
    name: volume.name,
    hostPath: volume.hostPath,
    mountPath: volume.mountPath,
    ...(volume.readOnly ? { readOnly: true } : {}),
    ...(volume.pathType ? { pathType: volume.pathType } : {}),
  };
}

function writeVolumes(doc: Document, section: KubeadmSection, missing: readonly ExtraVolume[]): void {
  const path = extraVolumesPath(section);
  openSections(doc, path);
  const node = doc.getIn(path);
  const seq = isSeq(node) ? (node as YAMLSeq) : (doc.createNode([]) as YAMLSeq);
  for (const volume of missing) {
    const entry = doc.createNode(volumeNode(volume));
    // An entry of the same name is this node's mount with other settings: replaced in place.
    const at = seq.items.findIndex((item) => isMap(item) && (item as YAMLMap).get('name') === volume.name);
    if (at >= 0) seq.items.splice(at, 1, entry);
    else seq.items.push(entry);
  }
  if (!isSeq(node)) doc.setIn(path, seq);
}

/** What is wrong with the mappings on the way to `path` (`apiServer: x`), or null. Absent or empty is fine. */
function sectionShape(doc: Document, path: readonly string[]): string | null {
  for (let depth = 1; depth < path.length; depth += 1) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (node === undefined || isMap(node) || (isScalar(node) && node.value === null)) continue;
    return `${path.slice(0, depth).join('.')} must be a mapping`;
  }
  return null;
}

/**
 * kubeadm stores an unused section as `controllerManager: {}` (or leaves it empty): one that gets
 * content becomes a block mapping, as kubeadm would write it (a flow map the operator filled stays).
 */
function openSections(doc: Document, path: readonly string[]): void {
  for (let depth = 1; depth < path.length; depth += 1) {
    const node = doc.getIn(path.slice(0, depth), true);
    if (isScalar(node) && node.value === null) doc.setIn(path.slice(0, depth), doc.createNode({}));
    else if (isMap(node) && node.flow && node.items.length === 0) node.flow = false;
  }
}

/**
 * A flag value, always double-quoted: kubeadm reads the ClusterConfiguration as YAML 1.1, where an
 * unquoted `on`, `no` or `1:30` would not be the string the flag needs (and the whole file would fail).
 */
function quoted(value: string): Scalar {
  const scalar = new Scalar(value);
  scalar.type = Scalar.QUOTE_DOUBLE;
  return scalar;
}

function writeArgs(doc: Document, path: string[], listForm: boolean, want: SectionArgs): void {
  openSections(doc, path);
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
      const entry = doc.createNode({ name, value: quoted(value) });
      const at = firstIndex.get(name);
      if (at === undefined) placed.push(entry);
      else placed.splice(Math.min(at, placed.length), 0, entry);
    }
    seq.items = placed;
    if (!isSeq(node)) doc.setIn(path, seq);
    return;
  }
  for (const name of want.unset) if (doc.hasIn([...path, name])) doc.deleteIn([...path, name]);
  for (const [name, value] of Object.entries(want.set)) doc.setIn([...path, name], quoted(value));
}

/** A request the planner never writes: a per-node flag, or a volume for etcd. Null when fine. */
function refused(section: KubeadmSection, want: SectionArgs): string | null {
  const perNode = [...Object.keys(want.set), ...want.unset].filter((name) => PER_NODE_FLAGS[section].includes(name));
  if (perNode.length > 0) return `${section}.extraArgs ${perNode.join(', ')} differ per node and never go into the shared ClusterConfiguration`;
  if (section === 'etcd' && (want.volumes?.length ?? 0) > 0) return 'etcd.local has no extraVolumes';
  return null;
}

/**
 * Keeps kubeadm's ClusterConfiguration (the `ClusterConfiguration` text of ConfigMap
 * kube-system/kubeadm-config) in step with the hardened flags, so `kubeadm upgrade` regenerates the
 * manifests with them and with the host mounts the files they name need. Pure: text in, text out.
 * Comments and every setting it does not own are kept; the result is parsed again and checked whole
 * (kind, apiVersion, the extraArgs and extraVolumes forms, every wanted value and mount, no mount path
 * twice) before it is returned. etcd.local only: an external etcd is not kubeadm's to configure.
 */
export function planKubeadmConfig(text: string, wanted: KubeadmWanted): KubeadmConfigPlan {
  try {
    return plan(text, wanted);
  } catch (error) {
    // The YAML library refuses a shape the checks below did not foresee: the file is not understood.
    return { ok: false, error: `ClusterConfiguration: ${error instanceof Error ? error.message : String(error)}` };
  }
}

function plan(text: string, wanted: KubeadmWanted): KubeadmConfigPlan {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, error: `ClusterConfiguration: ${yamlErrorText(doc.errors[0]!)}` };
  const apiVersion = doc.get('apiVersion');
  if (doc.get('kind') !== 'ClusterConfiguration') return { ok: false, error: 'ClusterConfiguration: kind must be ClusterConfiguration' };
  if (!(KUBEADM_API_VERSIONS as readonly unknown[]).includes(apiVersion))
    return {
      ok: false,
      error: `ClusterConfiguration: apiVersion ${String(apiVersion)} is not one kube-harden writes (${KUBEADM_API_VERSIONS.join(', ')})`,
    };
  const version = doc.get('kubernetesVersion');
  const kubernetesVersion = typeof version === 'string' ? version : null;
  const listForm = apiVersion === 'kubeadm.k8s.io/v1beta4';
  const notes: string[] = [];
  const changes: string[] = [];
  const sections = Object.entries(wanted) as [KubeadmSection, SectionArgs][];
  for (const [section, want] of sections) {
    const refusal = refused(section, want);
    if (refusal) return { ok: false, error: `internal: ${refusal}` };
    if (section === 'etcd' && doc.hasIn(['etcd', 'external'])) {
      notes.push('etcd is external: its flags are set where it runs, not in the ClusterConfiguration');
      continue;
    }
    const path = extraArgsPath(section);
    const shape = sectionShape(doc, path);
    if (shape) return { ok: false, error: `ClusterConfiguration: ${shape}` };
    const current = readArgs(doc.getIn(path), listForm);
    if (typeof current === 'string') return { ok: false, error: `ClusterConfiguration ${path.join('.')}: ${current}` };
    const differs = [
      ...Object.entries(want.set)
        .filter(([name, value]) => current.get(name) !== value)
        .map(([name]) => name),
      ...want.unset.filter((name) => current.has(name)),
    ];
    if (differs.length > 0) {
      writeArgs(doc, path, listForm, want);
      changes.push(...differs.map((name) => `${section}.extraArgs ${name}`));
    }
    if (section === 'etcd') continue;
    const volumes = readVolumes(doc.getIn(extraVolumesPath(section)));
    if (typeof volumes === 'string') return { ok: false, error: `ClusterConfiguration ${section}.extraVolumes: ${volumes}` };
    const duplicate = duplicateOf(volumes);
    if (duplicate) return { ok: false, error: `ClusterConfiguration ${section}.extraVolumes: ${duplicate}` };
    const missing: ExtraVolume[] = [];
    for (const volume of want.volumes ?? []) {
      const state = volumeState(volumes, volume);
      if (typeof state === 'object') return { ok: false, error: `ClusterConfiguration ${section}.extraVolumes: ${state.conflict}` };
      if (state === 'missing') missing.push(volume);
    }
    if (missing.length > 0) {
      writeVolumes(doc, section, missing);
      changes.push(...missing.map((volume) => `${section}.extraVolumes ${volume.name}`));
    }
  }
  // Untouched text is returned as it was (re-serializing would restyle what the operator wrote);
  // sequences unindented as kubeadm writes them.
  const next = changes.length > 0 ? doc.toString({ lineWidth: 0, indentSeq: false }) : text;
  const problem = readBack(next, apiVersion as string, wanted, listForm);
  if (problem) return { ok: false, error: `internal: ${problem}` };
  const changed = next !== text;
  return { ok: true, text: changed ? next : text, changed, changes, kubernetesVersion, notes };
}

/** The text kubeadm would read back, checked whole; null when it holds everything wanted. */
function readBack(text: string, apiVersion: string, wanted: KubeadmWanted, listForm: boolean): string | null {
  const check = parseDocument(text, { uniqueKeys: true });
  if (check.errors.length > 0 || check.get('kind') !== 'ClusterConfiguration' || check.get('apiVersion') !== apiVersion)
    return 'the planned ClusterConfiguration does not read back';
  for (const [section, want] of Object.entries(wanted) as [KubeadmSection, SectionArgs][]) {
    if (section === 'etcd' && check.hasIn(['etcd', 'external'])) continue;
    const args = readArgs(check.getIn(extraArgsPath(section)), listForm);
    if (typeof args === 'string') return args;
    for (const [name, value] of Object.entries(want.set))
      if (args.get(name) !== value) return `${section}.extraArgs ${name} did not read back as ${value}`;
    for (const name of want.unset) if (args.has(name)) return `${section}.extraArgs ${name} is still set`;
    if (section === 'etcd') continue;
    const volumes = readVolumes(check.getIn(extraVolumesPath(section)));
    if (typeof volumes === 'string') return volumes;
    for (const volume of want.volumes ?? [])
      if (volumeState(volumes, volume) !== 'present') return `${section}.extraVolumes ${volume.name} did not read back`;
    const duplicate = duplicateOf(volumes);
    if (duplicate) return `${section}.extraVolumes: ${duplicate}`;
  }
  return null;
}
