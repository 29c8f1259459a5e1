import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLSeq } from 'yaml';
import { FormatError } from './env-file.js';
import { deepFreeze, memoizeParse } from './parse-memo.js';
import { isPlainMap, readPlainYaml } from './plain-yaml.js';
import { yamlErrorText, plainValue } from './yaml-read.js';

/**
 * Static pod manifests (kubeadm's /etc/kubernetes/manifests/*.yaml). Flags live in the component
 * container's `command` list as `--name=value` items; edits change those items in place through the
 * yaml Document API, so probes, volumes, annotations and comments stay as they were.
 */

/** A manifest read for judging: plain, frozen values, shared by every rule that reads it. */
export interface StaticPod {
  /** The whole Pod as plain values. */
  readonly pod: Readonly<Record<string, unknown>>;
  readonly container: number;
  /** `--name=value` flags of the container command, in order (a bare `--flag` has value `true`). */
  readonly flags: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** The image tag's version, e.g. `v1.31.4` from `registry.k8s.io/kube-apiserver:v1.31.4`. */
  readonly imageTag: string | null;
}

/** A manifest's Document for an edit, and the index of the component's container. */
interface EditablePod {
  readonly doc: Document;
  readonly container: number;
}

function commandSeq(doc: Document, container: number): YAMLSeq {
  const seq = doc.getIn(['spec', 'containers', container, 'command'], true);
  if (!isSeq(seq)) throw new FormatError(`spec.containers[${container}].command is not a list`);
  return seq;
}

function parsePodDocument(text: string): Document {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) throw new FormatError(yamlErrorText(error), error.linePos?.[0]?.line ?? null);
  if (!isMap(doc.contents) || doc.get('kind') !== 'Pod') throw new FormatError('not a Pod manifest (kind: Pod)', 1);
  return doc;
}

/** The index of the container named `containerName` among `names`, else of the only container. */
function pickContainer(names: readonly string[], containerName: string): number {
  if (names.length === 0) throw new FormatError('spec.containers is missing or empty');
  const container = names.includes(containerName) ? names.indexOf(containerName) : names.length === 1 ? 0 : -1;
  if (container < 0) throw new FormatError(`no container named ${containerName}`);
  return container;
}

/** The container named `containerName` (else the only container) among the Pod's plain containers. */
function containerIndex(containers: unknown, containerName: string): number {
  if (!Array.isArray(containers)) throw new FormatError('spec.containers is missing or empty');
  return pickContainer(
    containers.map((item: unknown) => (item !== null && typeof item === 'object' ? String((item as { name?: unknown }).name) : '')),
    containerName,
  );
}

/** The whole manifest as plain values, parsed once per distinct text (FormatError when it is not a Pod). */
export const readPod = memoizeParse((text: string): Record<string, unknown> => {
  const fast = readPlainYaml(text);
  if (isPlainMap(fast) && fast.kind === 'Pod') return deepFreeze(fast);
  // Beyond the plain reader, or not a Pod: the yaml package decides, with its errors.
  return deepFreeze(plainValue(parsePodDocument(text)) as Record<string, unknown>);
});

/** Parses a manifest (once per distinct text) and finds the container named `containerName` (else the only container). */
export function parseStaticPod(text: string, containerName: string): StaticPod {
  const pod = readPod(text);
  const spec = (pod.spec ?? null) as { containers?: unknown } | null;
  const containers = spec?.containers;
  const container = containerIndex(containers, containerName);
  const entry = (containers as unknown[])[container] as { command?: unknown; image?: unknown } | null;
  if (!Array.isArray(entry?.command)) throw new FormatError(`spec.containers[${container}].command is not a list`);
  const flags = (entry.command as unknown[]).flatMap((item) => {
    const word = item === null || typeof item === 'object' ? '' : String(item);
    const match = /^--([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?$/s.exec(word);
    return match ? [{ name: match[1]!, value: match[2] ?? 'true' }] : [];
  });
  const image = entry.image;
  const tag = typeof image === 'string' && image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : null;
  return { pod, container, flags, imageTag: tag };
}

/** Parses a manifest for an edit: a fresh Document each time (edits change it in place). */
function editablePod(text: string, containerName: string): EditablePod {
  const doc = parsePodDocument(text);
  const containers = doc.getIn(['spec', 'containers'], true);
  if (!isSeq(containers)) throw new FormatError('spec.containers is missing or empty');
  const container = pickContainer(
    containers.items.map((item) => (isMap(item) ? String(item.get('name')) : '')),
    containerName,
  );
  commandSeq(doc, container);
  return { doc, container };
}

function flagIndexes(seq: YAMLSeq, name: string): number[] {
  return seq.items.flatMap((item, index) => {
    const word = isScalar(item) ? String(item.value) : '';
    return word === `--${name}` || word.startsWith(`--${name}=`) ? [index] : [];
  });
}

/**
 * Sets `--name=value` in the container command: the last occurrence is rewritten in place (earlier
 * duplicates dropped), or the flag is inserted in sorted position after the binary (kubeadm sorts them).
 */
export function setPodFlag(text: string, containerName: string, name: string, value: string): string {
  const pod = editablePod(text, containerName);
  const seq = commandSeq(pod.doc, pod.container);
  const indexes = flagIndexes(seq, name);
  const word = `--${name}=${value}`;
  if (indexes.length > 0) {
    const last = indexes[indexes.length - 1]!;
    const item = seq.items[last];
    if (isScalar(item)) item.value = word;
    for (const index of indexes.slice(0, -1).reverse()) seq.items.splice(index, 1);
  } else {
    const position = seq.items.findIndex(
      (item, index) => index > 0 && isScalar(item) && String(item.value).startsWith('--') && String(item.value) > word,
    );
    seq.items.splice(position === -1 ? seq.items.length : position, 0, pod.doc.createNode(word));
  }
  return render(pod.doc);
}

/** Removes every `--name` from the container command; unchanged text when absent. */
export function removePodFlag(text: string, containerName: string, name: string): string {
  const pod = editablePod(text, containerName);
  const seq = commandSeq(pod.doc, pod.container);
  const indexes = flagIndexes(seq, name);
  if (indexes.length === 0) return text;
  for (const index of indexes.reverse()) seq.items.splice(index, 1);
  return render(pod.doc);
}

/** kubeadm writes sequences unindented (`- item` at the key's column); keep that. */
function render(doc: Document): string {
  return doc.toString({ indentSeq: false, lineWidth: 0, minContentWidth: 0 });
}

/** A hostPath volume and its mount in the component container. */
export interface HostPathMount {
  readonly name: string;
  readonly hostPath: string;
  readonly type: 'File' | 'FileOrCreate' | 'Directory' | 'DirectoryOrCreate';
  readonly mountPath: string;
  readonly readOnly: boolean;
}

/** True when the container already mounts something at `mountPath`. */
export function hasMountPath(pod: StaticPod, mountPath: string): boolean {
  const containers = (pod.pod.spec as { containers?: unknown[] } | undefined)?.containers;
  const mounts = (containers?.[pod.container] as { volumeMounts?: unknown } | undefined)?.volumeMounts;
  return Array.isArray(mounts) && mounts.some((item: unknown) => (item as { mountPath?: unknown } | null)?.mountPath === mountPath);
}

/**
 * How the container sees host file `hostFile`: `same` when a mount at the file or one of its parent
 * directories comes from the same host path (kubeadm mounts `/etc/kubernetes/pki` that way), `other`
 * when such a mount comes from elsewhere (the file the flag names is then not the host's), else `none`.
 */
export function hostFileVisibility(pod: StaticPod, hostFile: string): 'same' | 'other' | 'none' {
  type Mount = { name?: unknown; mountPath?: unknown; subPath?: unknown } | null;
  type Volume = { name?: unknown; hostPath?: { path?: unknown } | null } | null;
  const spec = pod.pod.spec as { containers?: unknown[]; volumes?: unknown } | undefined;
  const mounts = (spec?.containers?.[pod.container] as { volumeMounts?: unknown } | undefined)?.volumeMounts;
  const volumes = Array.isArray(spec?.volumes) ? (spec.volumes as Volume[]) : [];
  if (!Array.isArray(mounts)) return 'none';
  // The deepest mount decides, as in the container's mount table.
  let best: { depth: number; same: boolean } | null = null;
  for (const mount of mounts as Mount[]) {
    const mountPath = typeof mount?.mountPath === 'string' ? mount.mountPath.replace(/\/+$/, '') : '';
    if (mountPath === '' || (hostFile !== mountPath && !hostFile.startsWith(`${mountPath}/`))) continue;
    const hostPath = volumes.find((volume) => volume?.name === mount?.name)?.hostPath?.path;
    const same = typeof hostPath === 'string' && hostPath.replace(/\/+$/, '') === mountPath && !mount?.subPath;
    if (!best || mountPath.length > best.depth) best = { depth: mountPath.length, same };
  }
  return best === null ? 'none' : best.same ? 'same' : 'other';
}

/**
 * Adds a hostPath volume and its mount unless the container already mounts that path (a second mount
 * at one path is invalid). Volumes and mounts are kept in name order, as kubeadm writes them.
 */
export function ensureHostPathMount(text: string, containerName: string, mount: HostPathMount): string {
  if (hasMountPath(parseStaticPod(text, containerName), mount.mountPath)) return text;
  const pod = editablePod(text, containerName);
  const { doc } = pod;
  const mountNode = doc.createNode({ mountPath: mount.mountPath, name: mount.name, ...(mount.readOnly ? { readOnly: true } : {}) });
  const volumeNode = doc.createNode({ hostPath: { path: mount.hostPath, type: mount.type }, name: mount.name });
  const mounts = doc.getIn(['spec', 'containers', pod.container, 'volumeMounts'], true);
  if (isSeq(mounts)) {
    const at = mounts.items.findIndex((item) => isMap(item) && String(item.get('name')) > mount.name);
    mounts.items.splice(at === -1 ? mounts.items.length : at, 0, mountNode);
  } else doc.setIn(['spec', 'containers', pod.container, 'volumeMounts'], doc.createNode([mountNode]));
  const volumes = doc.getIn(['spec', 'volumes'], true);
  const existing = isSeq(volumes) ? volumes.items.find((item) => isMap(item) && item.get('name') === mount.name) : undefined;
  if (existing) throw new FormatError(`a volume named ${mount.name} already exists with another mount path`);
  if (isSeq(volumes)) {
    const at = volumes.items.findIndex((item) => isMap(item) && String(item.get('name')) > mount.name);
    volumes.items.splice(at === -1 ? volumes.items.length : at, 0, volumeNode);
  } else doc.setIn(['spec', 'volumes'], doc.createNode([volumeNode]));
  return render(doc);
}

/** Mounts one host file read-only at the same path (a config file the component's flags name). */
export function mountConfigFile(text: string, containerName: string, name: string, hostPath: string): string {
  return ensureHostPathMount(text, containerName, { name, hostPath, type: 'File', mountPath: hostPath, readOnly: true });
}

/**
 * Sets one annotation of the pod. The kubelet recreates a static pod whose manifest changed, so an
 * annotation that carries a digest of a configuration file the component reads only at start makes
 * a change of that file reach the running component (and its health gate).
 */
export function setPodAnnotation(text: string, key: string, value: string): string {
  const annotations = (readPod(text).metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations;
  if (annotations?.[key] === value) return text;
  const doc = parsePodDocument(text);
  if (!isMap(doc.getIn(['metadata', 'annotations'], true))) doc.setIn(['metadata', 'annotations'], doc.createNode({}));
  doc.setIn(['metadata', 'annotations', key], value);
  return render(doc);
}

/** A hostPath volume as the component container mounts it (`type` as written, null when absent). */
export interface MountedHostPath {
  readonly name: string;
  readonly hostPath: string;
  readonly type: string | null;
  readonly mountPath: string;
  readonly readOnly: boolean;
}

/** The component container's mounts of hostPath volumes (other volume kinds are left out). */
export function hostPathMounts(pod: StaticPod): MountedHostPath[] {
  const spec = (pod.pod.spec ?? null) as { containers?: unknown[]; volumes?: unknown } | null;
  const volumes = Array.isArray(spec?.volumes) ? (spec.volumes as unknown[]) : [];
  const mounts = (spec?.containers?.[pod.container] as { volumeMounts?: unknown } | undefined)?.volumeMounts;
  if (!Array.isArray(mounts)) return [];
  return mounts.flatMap((item: unknown) => {
    const mount = (item ?? {}) as { name?: unknown; mountPath?: unknown; readOnly?: unknown };
    const volume = volumes.find((candidate) => (candidate as { name?: unknown } | null)?.name === mount.name) as
      { hostPath?: { path?: unknown; type?: unknown } | null } | undefined;
    const path = volume?.hostPath?.path;
    const type = volume?.hostPath?.type;
    if (typeof mount.name !== 'string' || typeof mount.mountPath !== 'string' || typeof path !== 'string') return [];
    return [
      {
        name: mount.name,
        hostPath: path,
        type: typeof type === 'string' && type !== '' ? type : null,
        mountPath: mount.mountPath,
        readOnly: mount.readOnly === true,
      },
    ];
  });
}
