import { isMap, isNode, isScalar, isSeq, parseDocument, Scalar, type Document, type Node, type ToStringOptions, type YAMLMap } from 'yaml';
import { FormatError } from './env-file.js';
import { deepFreeze, memoizeParse } from './parse-memo.js';
import { isPlainMap, readPlainYaml } from './plain-yaml.js';
import { yamlErrorText, plainValue } from './yaml-read.js';

/**
 * KubeletConfiguration files (config.yaml and `--config-dir` drop-ins), edited through the `yaml`
 * Document API so comments, key order and fields the agent does not own survive an edit. A file
 * written as JSON (EKS node images, `kubelet-config.json`) is JSON: YAML parses it, and it is written
 * back as JSON with its own indentation, key order and line endings (new keys appended), so `jq` and
 * configuration management keep working.
 */

export const KUBELET_CONFIG_KIND = 'KubeletConfiguration';

/** A kubelet config read for judging: plain, frozen values (shared by every rule that reads the file). */
export interface ParsedKubeletConfig {
  readonly value: Readonly<Record<string, unknown>>;
}

/**
 * The Document of a kubelet config, for an edit. Duplicate keys are an error (the kubelet's strict
 * decoder rejects them and its lenient fallback keeps an arbitrary one), as is anything but a mapping
 * or another `kind`.
 */
function parseKubeletDocument(text: string): Document {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, keepSourceTokens: false });
  const error = doc.errors[0];
  if (error) throw new FormatError(yamlErrorText(error), error.linePos?.[0]?.line ?? null);
  if (doc.contents !== null && !isMap(doc.contents)) throw new FormatError('a KubeletConfiguration must be a YAML mapping', 1);
  const kind = doc.get('kind');
  if (kind !== undefined && kind !== KUBELET_CONFIG_KIND) throw new FormatError(`kind is "${String(kind)}", expected ${KUBELET_CONFIG_KIND}`);
  return doc;
}

/**
 * Parses a kubelet config for reading, with the same checks as an edit. Each distinct text is parsed
 * once per process (judging builds no Document per rule; see parse-memo.ts).
 */
export const parseKubeletConfig = memoizeParse((text: string): ParsedKubeletConfig => {
  const fast = readPlainYaml(text);
  if (fast === null) return { value: deepFreeze({}) };
  if (isPlainMap(fast) && (fast.kind === undefined || fast.kind === KUBELET_CONFIG_KIND)) return { value: deepFreeze(fast) };
  // Beyond the plain reader, or something to report: the yaml package decides, with its errors.
  const doc = parseKubeletDocument(text);
  return { value: deepFreeze(plainValue(doc) ?? {}) as Record<string, unknown> };
});

/** The value at `path` as plain JS (undefined when absent). */
export function getConfigValue(config: ParsedKubeletConfig, path: readonly string[]): unknown {
  let value: unknown = config.value;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** Serialization options that reproduce the file's own list style (kubeadm writes `- x` unindented). */
function styleOf(text: string): ToStringOptions {
  const unindentedSeq = /^([ \t]*)[A-Za-z0-9_"']+:[ \t]*\r?\n\1- /m.test(text);
  const indentedSeq = /^([ \t]*)[A-Za-z0-9_"']+:[ \t]*\r?\n\1[ \t]+- /m.test(text);
  // Without evidence, follow kubeadm, the usual writer of these files: `- item` at the key's indent.
  return { indentSeq: indentedSeq && !unindentedSeq, lineWidth: 0, minContentWidth: 0 };
}

/** True when the file is a JSON object (the first non-blank character is `{`). */
export function isJsonConfig(text: string): boolean {
  return text.trimStart().startsWith('{');
}

/** The indentation unit of a JSON file: the whitespace before its first key; '' for a one-line file. */
function jsonIndent(text: string): string {
  return /^\s*\{[ \t]*\r?\n([ \t]+)\S/.exec(text)?.[1] ?? '';
}

function render(doc: Document, original: string): string {
  const out = isJsonConfig(original)
    ? `${JSON.stringify(doc.toJSON(), null, jsonIndent(original))}${/\n\s*$/.test(original) ? '\n' : ''}`
    : doc.toString(styleOf(original));
  return original.includes('\r\n') ? out.replace(/\r?\n/g, '\r\n') : out;
}

/**
 * Gives `next` what belonged to the node it replaces: the comments (an inline `# why` after a value,
 * the comment line under a key) and, for lists, the item nodes whose values stay, with their comments.
 */
function carryOver(existing: unknown, next: Node): void {
  if (!isNode(existing)) return;
  const old = existing;
  if (old.comment && !next.comment) next.comment = old.comment;
  if (old.commentBefore && !next.commentBefore) next.commentBefore = old.commentBefore;
  if (old.spaceBefore) next.spaceBefore = old.spaceBefore;
  if (isSeq(old) && isSeq(next))
    next.items = next.items.map((item) => {
      const value = isScalar(item) ? item.value : undefined;
      const kept = old.items.find((candidate) => isScalar(candidate) && candidate.value === value);
      return kept ?? item;
    });
  // A scalar keeps its quoting when the new value has the same type ("VersionTLS11" stays quoted).
  if (isScalar(old) && isScalar(next) && typeof old.value === typeof next.value && old.type) next.type = old.type;
}

/** Returns `text` with `path` set to `value` (intermediate mappings are created). */
export function setConfigValue(text: string, path: readonly string[], value: unknown): string {
  const doc = parseKubeletDocument(text);
  if (doc.contents === null) doc.contents = doc.createNode({});
  for (let depth = 1; depth < path.length; depth++) {
    const parent = doc.getIn(path.slice(0, depth), true);
    if (parent !== undefined && parent !== null && !isMap(parent)) throw new FormatError(`${path.slice(0, depth).join('.')} is not a mapping`);
  }
  const existing = doc.getIn(path, true);
  const node = doc.createNode(value);
  // A list written where a flow list stood keeps the flow style ([a, b]) so the diff stays small.
  if (isSeq(existing) && isSeq(node) && existing.flow) node.flow = true;
  carryOver(existing, node);
  // Remember which maps along the path were sorted, so a key added to them lands in sorted position
  // (kubeadm writes config.yaml with sorted keys; an appended key would make a noisy diff).
  // JSON files get new keys appended (no sorted placement: JSON writers rarely sort).
  const json = isJsonConfig(text);
  const sortedBefore = path.map((_key, depth) => {
    const map = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    return !json && isMap(map) && isSortedMap(map);
  });
  doc.setIn(path, node);
  path.forEach((key, depth) => {
    const map = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
    if (sortedBefore[depth] && isMap(map)) placeSorted(map, key, depth === 0);
  });
  return render(doc, text);
}

function keyText(item: YAMLMap['items'][number]): string {
  return isScalar(item.key) ? String(item.key.value) : String(item.key);
}

/** Mostly sorted: an admin may have added a key out of order to kubeadm's sorted file. */
function isSortedMap(map: YAMLMap): boolean {
  const keys = map.items.map(keyText);
  if (keys.length < 2) return false;
  const ordered = keys.filter((key, index) => index > 0 && keys[index - 1]! <= key).length;
  return ordered >= 0.8 * (keys.length - 1);
}

/**
 * Moves `key` to its sorted position when it is the last item (i.e. was just appended). A key that
 * becomes the first of the file's top mapping takes over the comment right above the old first key:
 * at the top of a file that is the file's header ("# Managed by Ansible"), which must stay on top.
 */
function placeSorted(map: YAMLMap, key: string, top: boolean): void {
  const last = map.items[map.items.length - 1];
  if (!last || keyText(last) !== key) return;
  map.items.pop();
  const index = map.items.findIndex((item) => keyText(item) > key);
  const first = map.items[0];
  if (top && index === 0 && isScalar(first?.key) && first.key.commentBefore) {
    // setIn made the new key a plain string: a comment needs a node to hang on.
    const newKey = isScalar(last.key) ? last.key : new Scalar(last.key);
    if (!newKey.commentBefore) {
      newKey.commentBefore = first.key.commentBefore;
      first.key.commentBefore = undefined;
      last.key = newKey;
    }
  }
  map.items.splice(index === -1 ? map.items.length : index, 0, last);
}

/** Returns `text` without `path`; unchanged when absent. Empty parent mappings are left in place. */
export function deleteConfigValue(text: string, path: readonly string[]): string {
  const doc = parseKubeletDocument(text);
  if (!doc.hasIn(path)) return text;
  doc.deleteIn(path);
  return render(doc, text);
}
