import { isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { FormatError } from './env-file.js';
import { yamlErrorText } from './yaml-read.js';

/**
 * The k3s/RKE2 configuration file (`/etc/rancher/{k3s,rke2}/config.yaml` and `config.yaml.d/*.yaml`): a
 * YAML mapping of command-line flag names to values, lists for repeatable flags. Edited through the
 * `yaml` Document API so comments and every key the agent does not own survive.
 */

/** One entry of a merged list key (`kubelet-arg`), with the file that holds it. */
export interface RancherListItem {
  readonly value: string;
  readonly path: string;
  /** The key as written in that file (`kubelet-arg` or `kubelet-arg+`). */
  readonly key: string;
}

/** A key's merged value: the last file that sets it wins; a `key+` in a later file appends (k3s docs). */
export type RancherValue =
  | { readonly kind: 'list'; readonly items: readonly RancherListItem[] }
  | { readonly kind: 'scalar'; readonly value: string; readonly path: string; readonly key: string };

function parse(text: string): Document {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) throw new FormatError(yamlErrorText(error), error.linePos?.[0]?.line ?? null);
  if (doc.contents !== null && !isMap(doc.contents)) throw new FormatError('a k3s/RKE2 configuration file must be a YAML mapping', 1);
  return doc;
}

function scalarText(value: unknown): string {
  return value === null || value === undefined ? '' : String(value);
}

/**
 * Merges the files in order (config.yaml first, then the drop-ins sorted by name). Throws FormatError
 * (the caller names the file) on a file that is not a YAML mapping.
 */
export function mergeRancherConfig(files: readonly { path: string; text: string }[]): Map<string, RancherValue> {
  const merged = new Map<string, RancherValue>();
  for (const file of files) {
    let doc: Document;
    try {
      doc = parse(file.text);
    } catch (error) {
      if (error instanceof FormatError) throw new FormatError(`${file.path}: ${error.message}`, error.line);
      throw error;
    }
    if (!isMap(doc.contents)) continue;
    for (const pair of doc.contents.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const append = key.endsWith('+');
      const name = append ? key.slice(0, -1) : key;
      const node = pair.value;
      const values = isSeq(node) ? node.items.map((item) => scalarText(isScalar(item) ? item.value : item)) : null;
      if (values) {
        const items = values.map((value): RancherListItem => ({ value, path: file.path, key }));
        const before = merged.get(name);
        merged.set(name, { kind: 'list', items: append && before?.kind === 'list' ? [...before.items, ...items] : items });
        continue;
      }
      const value = scalarText(isScalar(node) ? node.value : node);
      const before = merged.get(name);
      if (append && before?.kind === 'list') merged.set(name, { kind: 'list', items: [...before.items, { value, path: file.path, key }] });
      else if (append && before?.kind === 'scalar') merged.set(name, { kind: 'scalar', value: before.value + value, path: file.path, key });
      else merged.set(name, { kind: 'scalar', value, path: file.path, key });
    }
  }
  return merged;
}

/**
 * Removes from `key` (a list or a single string) every entry `drop` selects. A key left with nothing
 * stays as an empty list: deleting it would bring back what this file's value replaced in earlier files
 * (the last file that sets a key wins). Unchanged text when nothing matches.
 */
export function removeRancherListEntries(text: string, key: string, drop: (value: string) => boolean): string {
  const doc = parse(text);
  if (!isMap(doc.contents)) return text;
  const node = doc.get(key, true);
  if (isSeq(node)) {
    const kept = node.items.filter((item) => !drop(scalarText(isScalar(item) ? item.value : item)));
    if (kept.length === node.items.length) return text;
    node.items = kept;
    if (kept.length === 0) node.flow = true;
  } else if (isScalar(node) && drop(scalarText(node.value))) {
    const empty = doc.createNode([]);
    empty.flow = true;
    doc.set(key, empty);
  } else return text;
  // Rancher writes its drop-ins as JSON (valid YAML): JSON in, JSON out, with the file's indentation.
  const out = text.trimStart().startsWith('{')
    ? `${JSON.stringify(doc.toJSON(), null, /^\s*\{[ \t]*\r?\n([ \t]+)\S/.exec(text)?.[1] ?? '')}${/\n\s*$/.test(text) ? '\n' : ''}`
    : doc.toString({ lineWidth: 0, minContentWidth: 0, indentSeq: !/^[A-Za-z0-9_+-]+:[ \t]*\r?\n- /m.test(text) });
  return text.includes('\r\n') ? out.replace(/\r?\n/g, '\r\n') : out;
}

/** `name=value` (leading dashes allowed) of a `kubelet-arg` entry; a bare name means `true`. */
export function splitArg(entry: string): { name: string; value: string } {
  const body = entry.trim().replace(/^-+/, '');
  const eq = body.indexOf('=');
  return eq === -1 ? { name: body, value: 'true' } : { name: body.slice(0, eq), value: body.slice(eq + 1) };
}
