import { parse } from 'yaml';
import type { Finding } from '../../core/finding.js';
import type { Observation, Targets } from '../../core/observation.js';
import type { Evaluation, Rule, RuleMeta } from '../../core/rule.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView, controlPlaneTargets } from './components.js';
import { componentUnavailable } from './flag-rule.js';

const API = COMPONENTS.apiserver;
/** Providers CIS 1.2.28 accepts as the first (writing) provider. */
export const STRONG_PROVIDERS = ['kms', 'secretbox', 'aescbc'] as const;

const WHY_NOT_FIXED =
  'keys must be identical on every control-plane node and are needed to read Secrets back, so one node cannot create them: follow docs/rules.md "Encryption at rest" (write the configuration with a key from your secret store on every control-plane node, set --encryption-provider-config, then re-encrypt existing Secrets)';

const META: RuleMeta = {
  id: 'apiserver.encryption-at-rest',
  title: 'API server encrypts Secrets at rest with a strong provider',
  cis: ['1.2.27', '1.2.28'],
  component: API.name,
  remediable: false,
  disruption: 'none',
  versions: 'all (audit only; apiserver.config.k8s.io/v1 EncryptionConfiguration)',
};

function configPath(obs: Observation): string | null {
  const view = componentView(obs, API);
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

/**
 * CIS 1.2.27/1.2.28: --encryption-provider-config names an EncryptionConfiguration whose first provider
 * for Secrets is strong, and the file (it holds the keys) is mode 600 or stricter. Audit only.
 */
export const apiserverEncryptionAtRest: Rule<NodeContext> = {
  meta: META,
  targets: (obs): Targets => {
    const path = configPath(obs);
    return { ...controlPlaneTargets(), files: [...(controlPlaneTargets().files ?? []), ...(path ? [path] : [])] };
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
    const fail = (actual: string, source: string, problem: string): Evaluation => {
      const finding: Finding = {
        ...base,
        status: 'fail',
        actual,
        source,
        remediable: false,
        message: `${problem}; not remediated: ${WHY_NOT_FIXED}`,
      };
      return { finding, blocked: WHY_NOT_FIXED };
    };
    const path = configPath(ctx.obs);
    if (!path) return fail('(not set)', view.path, 'Secrets are stored unencrypted in etcd');
    const file = ctx.obs.files.get(path);
    if (!file || file.kind === 'missing') return fail(`--encryption-provider-config=${path}`, path, `${path} does not exist`);
    if (file.kind === 'error')
      return {
        finding: { ...base, status: 'unknown', actual: 'unknown', source: path, remediable: false, message: `cannot read ${path}: ${file.error}` },
      };
    let verdict: ReturnType<typeof judgeEncryptionConfig>;
    try {
      verdict = judgeEncryptionConfig(file.content);
    } catch (error) {
      return {
        finding: {
          ...base,
          status: 'unknown',
          actual: 'unknown',
          source: path,
          remediable: false,
          message: `${path}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
        },
      };
    }
    const mode = file.mode & 0o777;
    const problems = [
      verdict.problem,
      (mode & ~0o600) !== 0 ? `${path} is mode ${mode.toString(8)} (it holds the keys: 600 or stricter)` : null,
    ].filter((problem): problem is string => problem !== null);
    const actual = `first provider ${verdict.first ?? 'none'}, mode ${mode.toString(8).padStart(3, '0')}`;
    if (problems.length > 0) return fail(actual, path, problems.join('; '));
    return { finding: { ...base, status: 'pass', actual, source: path, remediable: false, message: '' } };
  },
};
