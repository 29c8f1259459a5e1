import { shortDigest } from '../../core/digest.js';
import type { Observation } from '../../core/observation.js';
import { ruleValue, type Policy, type RuleValueSpec } from '../../core/policy.js';
import { LOCAL_PROVIDERS, type EncryptionKey, type LocalProvider } from '../../formats/encryption-config.js';

export const ENCRYPTION_RULE = 'apiserver.encryption-at-rest';

/**
 * secretbox by default: the upstream encryption task rates it strong (XSalsa20-Poly1305) and aescbc
 * weak (CBC, padding oracles), and CIS 1.2.28 accepts both. aescbc stays available for environments
 * that require reviewed (FIPS) primitives, where upstream says secretbox may not be acceptable.
 */
export const DEFAULT_PROVIDER: LocalProvider = 'secretbox';

/** The policy's `apiserver.encryption-at-rest` value: the key every control-plane node shares. */
export interface EncryptionAtRestSettings {
  /** Absolute host path of the key file (32 random bytes, base64), the same on every control-plane node. */
  readonly keyFile: string;
  readonly provider: LocalProvider;
  /** Key name in the configuration; null: derived from the key, so every node picks the same one. */
  readonly keyName: string | null;
  /** false: add the key for reading only (step one on a control plane of several nodes). */
  readonly encrypt: boolean;
}

const FIELDS = ['keyFile', 'provider', 'keyName', 'encrypt'];
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Every problem of the value at once, each naming its field. */
function validate(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return 'must be a mapping such as { keyFile: /etc/kubernetes/enc/key }';
  const record = value as Record<string, unknown>;
  const problems: string[] = [];
  for (const field of Object.keys(record)) if (!FIELDS.includes(field)) problems.push(`unknown field "${field}"`);
  const keyFile = record.keyFile;
  if (typeof keyFile !== 'string' || !keyFile.startsWith('/') || keyFile.split('/').some((part) => part === '..') || keyFile.includes('\0'))
    problems.push('keyFile must be an absolute host path (without ..)');
  if (record.provider !== undefined && !(LOCAL_PROVIDERS as readonly unknown[]).includes(record.provider))
    problems.push(`provider must be ${LOCAL_PROVIDERS.join(' or ')}`);
  if (record.keyName !== undefined && (typeof record.keyName !== 'string' || !KEY_NAME.test(record.keyName)))
    problems.push('keyName must be 1-63 letters, digits, ".", "_" or "-", starting with a letter or digit');
  if (record.encrypt !== undefined && typeof record.encrypt !== 'boolean') problems.push('encrypt must be true or false');
  return problems.length > 0 ? problems.join('; ') : null;
}

export const ENCRYPTION_VALUE: NonNullable<RuleValueSpec['value']> = {
  default: null,
  describe: `{ keyFile: /absolute/host/path, provider?: ${LOCAL_PROVIDERS.join(' | ')} (default ${DEFAULT_PROVIDER}), keyName?: name, encrypt?: true | false (default true) }; null: audit only`,
  validate,
};

/** The policy's key settings, or null when the policy names no key (audit only). */
export function encryptionSettings(policy: Policy): EncryptionAtRestSettings | null {
  const value = ruleValue<Partial<EncryptionAtRestSettings> | null | undefined>(policy, ENCRYPTION_RULE);
  if (!value || typeof value.keyFile !== 'string') return null;
  return {
    keyFile: value.keyFile,
    provider: value.provider ?? DEFAULT_PROVIDER,
    keyName: value.keyName ?? null,
    encrypt: value.encrypt ?? true,
  };
}

/** The key file's key and the file's mode, or why it cannot be used. */
export type KeyRead = { readonly ok: true; readonly key: EncryptionKey; readonly mode: number } | { readonly ok: false; readonly reason: string };

const HOW = 'it must hold 32 random bytes, base64-encoded (head -c 32 /dev/urandom | base64), taken from your secret store';

/**
 * Reads and checks the key from the observation. Messages name the file and never its content. The
 * default name is a digest of the key (not the key): the same on every node, new with every new key.
 */
export function readKey(obs: Observation, settings: EncryptionAtRestSettings): KeyRead {
  const path = settings.keyFile;
  const state = obs.files.get(path);
  if (!state || state.kind === 'missing')
    return { ok: false, reason: `key file ${path} does not exist: put the key from your secret store on every control-plane node` };
  if (state.kind === 'error') return { ok: false, reason: `cannot read key file ${path}: ${state.error}` };
  const text = state.content.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return { ok: false, reason: `key file ${path} is not base64: ${HOW}` };
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== text)
    return { ok: false, reason: `key file ${path} decodes to ${bytes.length} bytes, not 32: ${HOW}` };
  const name = settings.keyName ?? `kube-harden-${shortDigest(`kube-harden encryption key name\n${text}`).slice(0, 12)}`;
  return { ok: true, key: { provider: settings.provider, name, secret: text }, mode: state.mode & 0o7777 };
}
