import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLSeq } from 'yaml';
import { FormatError } from './env-file.js';

/**
 * Static pod manifests (kubeadm's /etc/kubernetes/manifests/*.yaml). Flags live in the component
 * container's `command` list as `--name=value` items; edits change those items in place through the
 * yaml Document API, so probes, volumes, annotations and comments stay as they were.
 */

/** A parsed manifest and the index of the component's container. */
export interface StaticPod {
  readonly doc: Document;
  readonly container: number;
  /** `--name=value` flags of the container command, in order (a bare `--flag` has value `true`). */
  readonly flags: ReadonlyArray<{ readonly name: string; readonly value: string }>;
  /** The image tag's version, e.g. `v1.31.4` from `registry.k8s.io/kube-apiserver:v1.31.4`. */
  readonly imageTag: string | null;
}

function commandSeq(doc: Document, container: number): YAMLSeq {
  const seq = doc.getIn(['spec', 'containers', container, 'command'], true);
  if (!isSeq(seq)) throw new FormatError(`spec.containers[${container}].command is not a list`);
  return seq;
}

/** Parses a manifest and finds the container named `containerName` (else the only container). */
export function parseStaticPod(text: string, containerName: string): StaticPod {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) throw new FormatError(error.message.split('\n')[0] ?? 'invalid YAML', error.linePos?.[0]?.line ?? null);
  if (!isMap(doc.contents) || doc.get('kind') !== 'Pod') throw new FormatError('not a Pod manifest (kind: Pod)', 1);
  const containers = doc.getIn(['spec', 'containers'], true);
  if (!isSeq(containers) || containers.items.length === 0) throw new FormatError('spec.containers is missing or empty');
  const names = containers.items.map((item) => (isMap(item) ? String(item.get('name')) : ''));
  const container = names.includes(containerName) ? names.indexOf(containerName) : names.length === 1 ? 0 : -1;
  if (container < 0) throw new FormatError(`no container named ${containerName}`);
  const flags = commandSeq(doc, container).items.flatMap((item) => {
    const word = isScalar(item) ? String(item.value) : '';
    const match = /^--([A-Za-z0-9][A-Za-z0-9_.-]*)(?:=(.*))?$/s.exec(word);
    return match ? [{ name: match[1]!, value: match[2] ?? 'true' }] : [];
  });
  const image = doc.getIn(['spec', 'containers', container, 'image']);
  const tag = typeof image === 'string' && image.includes(':') ? image.slice(image.lastIndexOf(':') + 1) : null;
  return { doc, container, flags, imageTag: tag };
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
  const pod = parseStaticPod(text, containerName);
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
  const pod = parseStaticPod(text, containerName);
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
  const mounts = pod.doc.getIn(['spec', 'containers', pod.container, 'volumeMounts']);
  return isSeq(mounts) && mounts.items.some((item) => isMap(item) && item.get('mountPath') === mountPath);
}

/**
 * Adds a hostPath volume and its mount unless the container already mounts that path (a second mount
 * at one path is invalid). Volumes and mounts are kept in name order, as kubeadm writes them.
 */
export function ensureHostPathMount(text: string, containerName: string, mount: HostPathMount): string {
  const pod = parseStaticPod(text, containerName);
  if (hasMountPath(pod, mount.mountPath)) return text;
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
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) throw new FormatError(error.message.split('\n')[0] ?? 'invalid YAML', error.linePos?.[0]?.line ?? null);
  if (doc.getIn(['metadata', 'annotations', key]) === value) return text;
  if (!isMap(doc.getIn(['metadata', 'annotations'], true))) doc.setIn(['metadata', 'annotations'], doc.createNode({}));
  doc.setIn(['metadata', 'annotations', key], value);
  return render(doc);
}
