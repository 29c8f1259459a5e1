import { parse } from 'yaml';
import { shortDigest } from '../../core/digest.js';
import type { Finding } from '../../core/finding.js';
import type { FileState, Observation, Targets } from '../../core/observation.js';
import type { Policy } from '../../core/policy.js';
import type { Evaluation, FileEdit, FilePermissionFix, Rule, RuleMeta } from '../../core/rule.js';
import { atLeast, formatVersion } from '../../core/version.js';
import { newEncryptionConfiguration, placeKey, secretsProviders, type EncryptionKey, type KeyRole } from '../../formats/encryption-config.js';
import { ensureHostPathMount, hostFileVisibility, mountConfigFile, parseStaticPod, setPodAnnotation, setPodFlag } from '../../formats/static-pod.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView, controlPlaneTargets, type ComponentView } from './components.js';
import { ENCRYPTION_RULE, ENCRYPTION_VALUE, encryptionSettings, readKey, type EncryptionAtRestSettings } from './encryption-key.js';
import { componentUnavailable, restartFor } from './flag-rule.js';

const API = COMPONENTS.apiserver;
/** Providers CIS 1.2.28 accepts as the first (writing) provider. */
export const STRONG_PROVIDERS = ['kms', 'secretbox', 'aescbc'] as const;

/** Where kube-harden writes the configuration when the API server has none: a directory of its own, mounted whole. */
export const ENCRYPTION_CONFIG = {
  dir: '/etc/kubernetes/enc',
  file: '/etc/kubernetes/enc/encryption-config.yaml',
  mountName: 'kube-harden-encryption-config',
} as const;

/**
 * On the static pod: a digest of the providers and key names (never the keys) in force. The API server
 * reads the file only at start, so a new key or a new order must recreate the pod (and its health gate).
 */
export const ENCRYPTION_ANNOTATION = 'kube-harden.io/encryption-config';

const HEADER =
  '# Written by kube-harden (apiserver.encryption-at-rest) from the key file the policy names. Keys are\n# only ever added: one that may still decrypt stored Secrets is removed by a person, after re-encryption.\n';

const WHY_NOT_FIXED =
  'keys must be identical on every control-plane node and are needed to read Secrets back, so one node cannot create them: follow docs/rules.md "Encryption at rest" (write the configuration with a key from your secret store on every control-plane node, set --encryption-provider-config, then re-encrypt existing Secrets), or put that key on every control-plane node and name its file in the policy (apiserver.encryption-at-rest: { value: { keyFile } })';

const SNAP_HELD =
  'the k8s snap does not document where an encryption configuration belongs or whether it keeps one in its args file: kube-harden writes none there; follow docs/rules.md "Encryption at rest"';

const META: RuleMeta = {
  id: ENCRYPTION_RULE,
  title: 'API server encrypts Secrets at rest with a strong provider',
  cis: ['1.2.27', '1.2.28'],
  component: API.name,
  remediable: true,
  disruption: 'reload',
  versions: `${API.name} >= 1.13 (apiserver.config.k8s.io/v1), kubeadm static pods, only with a key file the policy names; otherwise (and on the k8s snap) audit only`,
};

function configuredPath(view: ComponentView): string | null {
  return view.kind === 'static-pod' || view.kind === 'snap' ? (view.flags.get('encryption-provider-config') ?? null) : null;
}

type ResourceEntry = { resources?: unknown; providers?: unknown };

/** What is wrong with an EncryptionConfiguration's treatment of Secrets, or null when a strong provider writes them. */
export function judgeEncryptionConfig(text: string): { problem: string | null; first: string | null } {
  const doc = parse(text) as { kind?: unknown; resources?: unknown } | null;
  if (!doc || typeof doc !== 'object' || doc.kind !== 'EncryptionConfiguration')
    return { problem: 'not an EncryptionConfiguration (kind must be EncryptionConfiguration)', first: null };
  const entries = Array.isArray(doc.resources) ? (doc.resources as ResourceEntry[]) : [];
  // The first entry naming secrets (or a wildcard covering them) decides, as in the API server.
  const entry = entries.find(
    (candidate) =>
      Array.isArray(candidate?.resources) && (candidate.resources as unknown[]).some((name) => name === 'secrets' || name === '*.*' || name === '*.'),
  );
  if (!entry) return { problem: 'no resources entry covers secrets', first: null };
  const providers = Array.isArray(entry.providers) ? (entry.providers as Record<string, unknown>[]) : [];
  const first = providers[0] && typeof providers[0] === 'object' ? (Object.keys(providers[0])[0] ?? null) : null;
  if (!first) return { problem: 'the secrets entry lists no provider', first: null };
  if (first === 'identity') return { problem: 'identity is the first provider: Secrets are written unencrypted', first };
  if (!(STRONG_PROVIDERS as readonly string[]).includes(first))
    return { problem: `${first} writes Secrets; CIS 1.2.28 wants ${STRONG_PROVIDERS.join(', ')} first`, first };
  return { problem: null, first };
}

function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
}

/** The verdict on one configuration file: problems (empty = pass), or why it cannot be judged. */
type Verdict =
  { readonly kind: 'judged'; readonly actual: string; readonly problems: readonly string[] } | { readonly kind: 'unknown'; readonly message: string };

function judgeFile(path: string, file: Extract<FileState, { kind: 'file' }>): Verdict {
  let verdict: ReturnType<typeof judgeEncryptionConfig>;
  try {
    verdict = judgeEncryptionConfig(file.content);
  } catch (error) {
    return { kind: 'unknown', message: `${path}: ${firstLine(error)}` };
  }
  const mode = file.mode & 0o777;
  const problems = [
    verdict.problem,
    (mode & ~0o600) !== 0 ? `${path} is mode ${mode.toString(8)} (it holds the keys: 600 or stricter)` : null,
  ].filter((problem): problem is string => problem !== null);
  return { kind: 'judged', actual: `first provider ${verdict.first ?? 'none'}, mode ${mode.toString(8).padStart(3, '0')}`, problems };
}

type Base = Pick<Finding, 'id' | 'title' | 'cis' | 'expected'>;

function unknown(base: Base, source: string, message: string): Evaluation {
  return { finding: { ...base, status: 'unknown', actual: 'unknown', source, remediable: false, message } };
}

function held(base: Base, actual: string, source: string, problem: string, reason: string): Evaluation {
  return {
    finding: { ...base, status: 'fail', actual, source, remediable: false, message: `${problem}; not remediated: ${reason}` },
    blocked: reason,
  };
}

/** The audit-only verdict: what the node has, judged, never changed. */
function judgeOnly(base: Base, view: ComponentView & { kind: 'static-pod' | 'snap' }, obs: Observation, reason: string): Evaluation {
  const path = configuredPath(view);
  if (!path) return held(base, '(not set)', view.path, 'Secrets are stored unencrypted in etcd', reason);
  const file = obs.files.get(path);
  if (!file || file.kind === 'missing') return held(base, `--encryption-provider-config=${path}`, path, `${path} does not exist`, reason);
  if (file.kind === 'error') return unknown(base, path, `cannot read ${path}: ${file.error}`);
  const verdict = judgeFile(path, file);
  if (verdict.kind === 'unknown') return unknown(base, path, verdict.message);
  if (verdict.problems.length > 0) return held(base, verdict.actual, path, verdict.problems.join('; '), reason);
  return { finding: { ...base, status: 'pass', actual: verdict.actual, source: path, remediable: false, message: '' } };
}

/** The manifest edit: the flag (unless the operator's own is kept), the mount, the digest annotation. */
function manifestEdit(configured: string | null, path: string, digest: string): (text: string) => string {
  return (text) => {
    let next = configured ? text : setPodFlag(text, API.name, 'encryption-provider-config', path);
    const visible = hostFileVisibility(parseStaticPod(next, API.name), path);
    if (visible === 'other') throw new Error(`${path} is mounted into ${API.name} from another host path; not changed`);
    if (visible === 'none')
      next =
        path === ENCRYPTION_CONFIG.file
          ? // The directory, not the file: a file mount keeps the inode it started with, and writes replace it.
            ensureHostPathMount(next, API.name, {
              name: ENCRYPTION_CONFIG.mountName,
              hostPath: ENCRYPTION_CONFIG.dir,
              type: 'DirectoryOrCreate',
              mountPath: ENCRYPTION_CONFIG.dir,
              readOnly: true,
            })
          : mountConfigFile(next, API.name, ENCRYPTION_CONFIG.mountName, path);
    return setPodAnnotation(next, ENCRYPTION_ANNOTATION, digest);
  };
}

const READ_ONLY =
  'the key is in place for reading only (encrypt: false); once every control-plane node has it, set encrypt: true (or leave it out) so the API servers write with it';

/** With a key from the policy (kubeadm static pod; the snap is held before): the configuration holds it where the policy says, mounted and named by the manifest. */
function remediate(
  ctx: NodeContext,
  base: Base,
  view: ComponentView & { kind: 'static-pod' | 'snap' },
  settings: EncryptionAtRestSettings,
  key: EncryptionKey,
  keyMode: number,
): Evaluation {
  const configured = configuredPath(view);
  const path = configured ?? ENCRYPTION_CONFIG.file;
  const state = ctx.obs.files.get(path);
  if (state?.kind === 'error') return unknown(base, path, `cannot read ${path}: ${state.error}`);
  // The operator's file is theirs to restore; kube-harden's own is written again (the key is at hand).
  if (configured && configured !== ENCRYPTION_CONFIG.file && state?.kind !== 'file')
    return held(
      base,
      `--encryption-provider-config=${path}`,
      view.path,
      `${path} does not exist`,
      `--encryption-provider-config names ${path}, which does not exist`,
    );
  const current = state?.kind === 'file' ? state : null;
  const before = current ? judgeFile(path, current) : null;
  if (before?.kind === 'unknown') return unknown(base, path, before.message);
  const role: KeyRole = settings.encrypt ? 'write' : 'read';
  const actualBefore = before?.kind === 'judged' ? before.actual : 'no configuration';
  // A KMS plugin keeps its key off the node: a local key never goes ahead of it.
  if (role === 'write' && current && judgeEncryptionConfig(current.content).first === 'kms') {
    const kms = 'kms writes Secrets: the policy key is not put ahead of it';
    const problems = before?.kind === 'judged' ? before.problems : [];
    if (problems.length > 0) return held(base, actualBefore, path, problems.join('; '), `${kms}; fix ${path} by hand`);
    return { finding: { ...base, status: 'pass', actual: actualBefore, source: path, remediable: false, message: kms } };
  }
  let desired: string;
  let providers: string[];
  try {
    desired = current ? placeKey(current.content, key, role) : newEncryptionConfiguration(key, role, HEADER);
    providers = secretsProviders(desired);
  } catch (error) {
    const reason = `${path}: ${firstLine(error)}`;
    return held(base, actualBefore, path, reason, reason);
  }
  const digest = shortDigest(providers.join(','));
  // Judged from the parsed manifest (the edit runs only in the plan): the flag, the mount, the digest.
  const pod = parseStaticPod((ctx.obs.files.get(view.path) as { content: string }).content, API.name);
  const visible = hostFileVisibility(pod, path);
  if (visible === 'other') {
    const reason = `${path} is mounted into ${API.name} from another host path; not changed`;
    return held(base, actualBefore, view.path, reason, reason);
  }
  const annotations = (pod.pod.metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations;
  const manifestChanges = configured === null || visible === 'none' || annotations?.[ENCRYPTION_ANNOTATION] !== digest;
  const edit = manifestEdit(configured, path, digest);
  const permissions: FilePermissionFix[] = [];
  if (current && (current.mode & ~0o600 & 0o777) !== 0) permissions.push({ path, mode: 0o600 });
  // The key file is the operator's, but a key readable by others is no key: only tightened.
  if ((keyMode & 0o077) !== 0) permissions.push({ path: settings.keyFile, mode: 0o600 });
  const configChanges = current === null || desired !== current.content;
  const actual = `${actualBefore}; providers for secrets: ${current ? secretsProviders(current.content).join(', ') || 'none' : 'none'}`;
  if (!configChanges && !manifestChanges && permissions.length === 0) {
    if (judgeEncryptionConfig(desired).problem === null)
      return { finding: { ...base, status: 'pass', actual, source: path, remediable: false, message: '' } };
    return held(base, actual, path, 'Secrets are not encrypted yet', READ_ONLY);
  }
  const edits: FileEdit[] = [
    ...(configChanges
      ? [{ path, createMode: 0o600, transform: (text: string | null) => (text === null ? desired : placeKey(text, key, role)) }]
      : []),
    { path: view.path, restartsComponent: true, transform: (text) => edit(text ?? '') },
  ];
  return {
    finding: {
      ...base,
      status: 'fail',
      actual,
      source: current ? path : view.path,
      remediable: true,
      message: `${role === 'write' ? `${key.provider} key ${key.name} first` : `${key.provider} key ${key.name} for reading only`} in ${path}${configured ? '' : ', named by --encryption-provider-config and mounted'}`,
    },
    remedy: { edits, permissions, restart: restartFor(API, 'static-pod') },
  };
}

/**
 * CIS 1.2.27/1.2.28: --encryption-provider-config names an EncryptionConfiguration whose first provider
 * for Secrets is strong, and the file (it holds the keys) is mode 600 or stricter. Audit only unless
 * the policy names a key file (the same key on every control-plane node, from the operator's secret
 * store): then, on a kubeadm control plane, the key is placed in the configuration and the API server
 * pointed at it. The agent never generates a key.
 */
export const apiserverEncryptionAtRest: Rule<NodeContext> & { valueSpec: { id: string; value: typeof ENCRYPTION_VALUE } } = {
  meta: META,
  valueSpec: { id: ENCRYPTION_RULE, value: ENCRYPTION_VALUE },
  targets: (obs: Observation, policy?: Policy): Targets => {
    const view = componentView(obs, API);
    const configured = configuredPath(view);
    // The key only where it can be used: a kubeadm API server whose policy names a key file.
    const settings = policy && view.kind === 'static-pod' ? encryptionSettings(policy) : null;
    const files = [configured ?? (settings ? ENCRYPTION_CONFIG.file : null), settings?.keyFile ?? null].filter(
      (path): path is string => path !== null,
    );
    return { ...controlPlaneTargets(), files: [...(controlPlaneTargets().files ?? []), ...files] };
  },
  evaluate(ctx): Evaluation {
    const base = {
      id: META.id,
      title: META.title,
      cis: META.cis,
      expected: `--encryption-provider-config with ${STRONG_PROVIDERS.join(' | ')} first for secrets, file 600`,
    };
    const view = componentView(ctx.obs, API);
    if (view.kind === 'absent' || view.kind === 'error') return componentUnavailable(view, API, base);
    const settings = encryptionSettings(ctx.policy);
    if (!settings) return judgeOnly(base, view, ctx.obs, WHY_NOT_FIXED);
    if (view.kind === 'snap') return judgeOnly(base, view, ctx.obs, SNAP_HELD);
    const key = readKey(ctx.obs, settings);
    if (!key.ok) {
      const judged = judgeOnly(base, view, ctx.obs, key.reason);
      // A broken key setting is a failure even where the node already passes: the policy cannot be met.
      if (judged.finding.status !== 'pass') return judged;
      return held(base, judged.finding.actual, settings.keyFile, key.reason, key.reason);
    }
    if (!view.version) return judgeOnly(base, view, ctx.obs, `${API.name} version unknown (${view.versionSource}): nothing is changed without it`);
    if (!atLeast(view.version, 1, 13))
      return judgeOnly(base, view, ctx.obs, `${API.name} ${formatVersion(view.version)} predates apiserver.config.k8s.io/v1 (1.13)`);
    return remediate(ctx, base, view, settings, key.key, key.mode);
  },
};
