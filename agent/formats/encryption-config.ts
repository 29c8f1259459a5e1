import { isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { FormatError } from './env-file.js';
import { yamlErrorText } from './yaml-read.js';

/**
 * The API server's EncryptionConfiguration (apiserver.config.k8s.io/v1). Keys are added through the
 * yaml Document API so other entries, providers and comments stay as they were, and no key that may
 * still decrypt stored data is ever dropped. Error messages never quote the file: it holds keys.
 */

export const ENCRYPTION_API_VERSION = 'apiserver.config.k8s.io/v1';

/** Providers whose key lives in the file (kms keeps it outside the node; aesgcm needs automated rotation). */
export const LOCAL_PROVIDERS = ['secretbox', 'aescbc'] as const;
export type LocalProvider = (typeof LOCAL_PROVIDERS)[number];

/** One key: its provider, its name (written into every value it encrypts) and the base64 secret. */
export interface EncryptionKey {
  readonly provider: LocalProvider;
  readonly name: string;
  readonly secret: string;
}

/**
 * `write`: the key's provider goes first, so new and updated Secrets are encrypted with it.
 * `read`: the key is added after the provider that writes now, so this API server can read what others
 * write with it (step one of a rollout on several control-plane nodes).
 */
export type KeyRole = 'write' | 'read';

/** What replaces a secret in anything shown to a person. */
export const REDACTED = '<redacted>';

const COVERS_SECRETS = new Set(['secrets', '*.', '*.*']);

function parse(text: string): Document {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  // Only the first line: the rest of a pretty error quotes the source, which holds keys.
  if (error) throw new FormatError(yamlErrorText(error), error.linePos?.[0]?.line ?? null);
  if (!isMap(doc.contents) || doc.get('kind') !== 'EncryptionConfiguration') throw new FormatError('not an EncryptionConfiguration');
  if (doc.get('apiVersion') !== ENCRYPTION_API_VERSION)
    throw new FormatError(`apiVersion is ${String(doc.get('apiVersion'))}; kube-harden edits only ${ENCRYPTION_API_VERSION}`);
  return doc;
}

/** The entry of `resources` that decides for Secrets (the first one covering them), or null. */
function secretsEntry(doc: Document): YAMLMap | null {
  const resources = doc.get('resources', true);
  if (resources === undefined || resources === null) return null;
  if (!isSeq(resources)) throw new FormatError('resources is not a list');
  for (const entry of resources.items) {
    if (!isMap(entry)) throw new FormatError('every resources entry must be a mapping');
    const names = entry.get('resources', true);
    const list = isSeq(names) ? names.items.map((item) => (isScalar(item) ? String(item.value) : '')) : [];
    if (!list.some((name) => COVERS_SECRETS.has(name))) continue;
    // Adding a key here would change how every other resource of the entry is written: left to a person.
    if (list.length !== 1 || list[0] !== 'secrets')
      throw new FormatError(`the entry that covers secrets lists ${list.join(', ')}; kube-harden adds keys only to an entry for secrets alone`);
    return entry;
  }
  return null;
}

function providersOf(entry: YAMLMap): YAMLSeq {
  const providers = entry.get('providers', true);
  if (!isSeq(providers)) throw new FormatError('the providers of the secrets entry are not a list');
  return providers;
}

function providerType(item: unknown): string | null {
  if (!isMap(item)) return null;
  const first = item.items[0];
  return first && isScalar(first.key) ? String(first.key.value) : null;
}

function keysOf(item: unknown, type: string): YAMLSeq {
  const keys = isMap(item) ? item.getIn([type, 'keys'], true) : undefined;
  if (!isSeq(keys)) throw new FormatError(`a ${type} provider has no list of keys`);
  return keys;
}

function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a.trim(), 'base64');
  return left.length > 0 && left.equals(Buffer.from(b.trim(), 'base64'));
}

/** Where `key` already is among the providers, or null; a different key under its name is refused. */
function locate(providers: YAMLSeq, key: EncryptionKey): { provider: number; key: number } | null {
  let found: { provider: number; key: number } | null = null;
  providers.items.forEach((item, p) => {
    if (providerType(item) !== key.provider) return;
    keysOf(item, key.provider).items.forEach((node, k) => {
      if (!isMap(node)) throw new FormatError(`a ${key.provider} key is not a mapping`);
      const secret = String(node.get('secret') ?? '');
      const name = String(node.get('name') ?? '');
      if (sameSecret(secret, key.secret)) found ??= { provider: p, key: k };
      // Two keys with one name: the API server could not tell which one encrypted a value.
      else if (name === key.name)
        throw new FormatError(`a different ${key.provider} key is already named ${key.name}; give the new key another name`);
    });
  });
  return found;
}

function keyNode(doc: Document, key: EncryptionKey) {
  return doc.createNode({ name: key.name, secret: key.secret });
}

function providerNode(doc: Document, key: EncryptionKey) {
  return doc.createNode({ [key.provider]: { keys: [{ name: key.name, secret: key.secret }] } });
}

/** `identity` last (and present), so Secrets stored before encryption stay readable. */
function identityLast(doc: Document, providers: YAMLSeq): void {
  const identities = providers.items.filter((item) => providerType(item) === 'identity');
  providers.items = providers.items.filter((item) => providerType(item) !== 'identity');
  providers.items.push(identities[0] ?? doc.createNode({ identity: {} }));
}

/** Renders with the file's own list style (kubeadm and many operators write `- item` at the key's column). */
function render(doc: Document, original: string): string {
  return doc.toString({ lineWidth: 0, indentSeq: !/^resources:[ \t]*\r?\n-\s/m.test(original) });
}

/**
 * Places `key` in the configuration for Secrets as `role` says, keeping every other key and provider.
 * Returns `text` itself when the key already is where it belongs (a second run changes nothing).
 */
export function placeKey(text: string, key: EncryptionKey, role: KeyRole): string {
  const doc = parse(text);
  let entry = secretsEntry(doc);
  if (!entry) {
    // No entry covers Secrets: they are stored as they come (identity). A new first entry takes them.
    entry = doc.createNode({ resources: ['secrets'], providers: [{ identity: {} }] }) as YAMLMap;
    const resources = doc.get('resources', true);
    if (isSeq(resources)) resources.items.unshift(entry);
    else doc.set('resources', doc.createNode([entry]));
  }
  const providers = providersOf(entry);
  const at = locate(providers, key);
  if (role === 'read') {
    if (at) return text;
    const same = providers.items.findIndex((item) => providerType(item) === key.provider);
    // After the keys that may write now: a key of the first provider other than its first never writes.
    if (same >= 0) keysOf(providers.items[same], key.provider).items.push(keyNode(doc, key));
    else providers.items.splice(Math.min(1, providers.items.length), 0, providerNode(doc, key));
    if (!providers.items.some((item) => providerType(item) === 'identity')) providers.items.push(doc.createNode({ identity: {} }));
    return render(doc, text);
  }
  if (at && at.provider === 0 && at.key === 0) return text;
  if (at) {
    const keys = keysOf(providers.items[at.provider], key.provider);
    keys.items.splice(at.key, 1);
    if (keys.items.length === 0) providers.items.splice(at.provider, 1);
  }
  // A key of the provider that writes now goes first in its list, as upstream rotates keys.
  if (providerType(providers.items[0]) === key.provider) keysOf(providers.items[0], key.provider).items.unshift(keyNode(doc, key));
  else providers.items.unshift(providerNode(doc, key));
  identityLast(doc, providers);
  return render(doc, text);
}

/** A new configuration holding only `key` (and identity, for Secrets stored before encryption). */
export function newEncryptionConfiguration(key: EncryptionKey, role: KeyRole, header: string): string {
  const base = `${header}apiVersion: ${ENCRYPTION_API_VERSION}\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n    providers:\n      - identity: {}\n`;
  return placeKey(base, key, role);
}

/**
 * The providers for Secrets without their secrets, in order (`secretbox:key-2`, `aescbc:key-1`,
 * `identity`, `kms:vault`): what a report may show, and what a digest of the configuration is made of.
 */
export function secretsProviders(text: string): string[] {
  const entry = secretsEntry(parse(text));
  if (!entry) return [];
  return providersOf(entry).items.flatMap((item) => {
    const type = providerType(item);
    if (type === null) return [];
    if (type === 'identity') return [type];
    if (type === 'kms') return [`kms:${String((item as YAMLMap).getIn(['kms', 'name']) ?? '')}`];
    const keys = (item as YAMLMap).getIn([type, 'keys'], true);
    const names = isSeq(keys) ? keys.items.map((node) => (isMap(node) ? String(node.get('name') ?? '') : '')) : [];
    return names.length > 0 ? names.map((name) => `${type}:${name}`) : [type];
  });
}

/** Block scalar indicator after `secret:` (`|`, `>-`, ...): the value is on the following lines. */
const BLOCK_SECRET = /^(\s*(?:-\s+)?)secret\s*:\s*[|>][-+0-9]*\s*$/;
const INLINE_SECRET = /(\bsecret\s*:\s*)("[^"\n]*"|'[^'\n]*'|[^\s,}\]#]+)/g;

/**
 * `text` with every key secret replaced by <redacted>, for diffs and reports. Applies to anything that
 * names EncryptionConfiguration, parsable or not: every `secret:` value the parser finds is removed
 * wherever it appears, then every `secret:` line (inline, quoted, flow or block scalar).
 */
export function redactSecrets(text: string): string {
  if (!text.includes('EncryptionConfiguration')) return text;
  const secrets = new Set<string>();
  try {
    visit(parseDocument(text), {
      Pair: (_key, pair) => {
        if (isPair(pair) && isScalar(pair.key) && pair.key.value === 'secret' && isScalar(pair.value)) secrets.add(String(pair.value.value));
      },
    });
  } catch {
    // Unparsable: the line rules below still apply.
  }
  let out = text;
  // Longest first, and never a value so short it could match ordinary words.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) if (secret.trim().length >= 8) out = out.split(secret).join(REDACTED);
  const lines = out.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const block = BLOCK_SECRET.exec(lines[index]!);
    if (block) {
      const indent = block[1]!.length;
      while (index + 1 < lines.length && (lines[index + 1]!.trim() === '' || /^\s*/.exec(lines[index + 1]!)![0].length > indent)) {
        if (lines[index + 1]!.trim() !== '') lines[index + 1] = `${' '.repeat(indent + 2)}${REDACTED}`;
        index++;
      }
      continue;
    }
    lines[index] = lines[index]!.replace(INLINE_SECRET, `$1${REDACTED}`);
  }
  return lines.join('\n');
}
