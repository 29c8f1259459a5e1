import { Document, isMap, isSeq, parseDocument } from 'yaml';
import type { Finding } from '../../core/finding.js';
import type { Observation, Targets } from '../../core/observation.js';
import type { Evaluation, FileEdit, Rule, RuleMeta } from '../../core/rule.js';
import { atLeast, compareVersions, formatVersion } from '../../core/version.js';
import { removeArg, setArg } from '../../formats/args-file.js';
import { FormatError } from '../../formats/env-file.js';
import { mountConfigFile, removePodFlag, setPodFlag } from '../../formats/static-pod.js';
import type { NodeContext } from '../context.js';
import { componentUnavailable, restartFor } from './flag-rule.js';
import { COMPONENTS, componentView, controlPlaneTargets } from './components.js';
import { yamlErrorText } from '../../formats/yaml-read.js';

const API = COMPONENTS.apiserver;
export const AUTHENTICATION_CONFIG_FILE = '/etc/kubernetes/authentication-config.yaml';

/**
 * Anonymous requests stay possible only where something needs them: the probes kubeadm puts on the
 * apiserver (/livez, /readyz; /healthz for load balancers) and `kubeadm join` discovery, which reads the
 * kube-public cluster-info ConfigMap anonymously (KUBERNETES-FACTS.md §7a, §12).
 */
export const ANONYMOUS_PATHS: readonly string[] = ['/livez', '/readyz', '/healthz', '/api/v1/namespaces/kube-public/configmaps/cluster-info'];

/** Versions whose AuthenticationConfiguration (v1beta1, since 1.30) takes anonymous conditions by default (KEP-4633 beta in 1.32). */
const FIRST = { major: 1, minor: 32, patch: 0 };
const LAST_KNOWN = { major: 1, minor: 35, patch: 99 };

/** The OIDC flags the structured configuration can express (anything else holds the rule back). */
export const MAPPED_OIDC: ReadonlySet<string> = new Set([
  'oidc-issuer-url',
  'oidc-client-id',
  'oidc-username-claim',
  'oidc-username-prefix',
  'oidc-groups-claim',
  'oidc-groups-prefix',
  'oidc-ca-file',
  'oidc-required-claim',
]);

/**
 * The JWT authenticator equivalent to the legacy --oidc-* flags (they cannot be combined with
 * --authentication-config). Legacy semantics kept: without --oidc-username-prefix a claim other than
 * `email` is prefixed with the issuer URL and '#'; '-' means no prefix.
 */
export function oidcToJwt(flags: ReadonlyMap<string, string>, caPem: string | null): { jwt: Record<string, unknown> } | { error: string } {
  const unmapped = [...flags.keys()].filter((name) => name.startsWith('oidc-') && !MAPPED_OIDC.has(name));
  if (unmapped.length > 0) return { error: `--${unmapped.join(', --')} has no equivalent kube-harden maps into an AuthenticationConfiguration` };
  const url = flags.get('oidc-issuer-url');
  const clientId = flags.get('oidc-client-id');
  if (!url || !clientId) return { error: '--oidc-issuer-url and --oidc-client-id are both needed to move OIDC into the file' };
  if (flags.has('oidc-ca-file') && caPem === null) return { error: `--oidc-ca-file ${flags.get('oidc-ca-file')} cannot be read` };
  const usernameClaim = flags.get('oidc-username-claim') ?? 'sub';
  const rawPrefix = flags.get('oidc-username-prefix');
  const usernamePrefix = rawPrefix === '-' ? '' : (rawPrefix ?? (usernameClaim === 'email' ? '' : `${url}#`));
  const groupsClaim = flags.get('oidc-groups-claim');
  const required = flags.get('oidc-required-claim');
  return {
    jwt: {
      issuer: { url, audiences: [clientId], ...(caPem !== null ? { certificateAuthority: caPem } : {}) },
      claimMappings: {
        username: { claim: usernameClaim, prefix: usernamePrefix },
        ...(groupsClaim ? { groups: { claim: groupsClaim, prefix: flags.get('oidc-groups-prefix') ?? '' } } : {}),
      },
      ...(required
        ? {
            claimValidationRules: required
              .split(',')
              .map((pair) => ({ claim: pair.split('=')[0], requiredValue: pair.split('=').slice(1).join('=') })),
          }
        : {}),
    },
  };
}

/** The agent's AuthenticationConfiguration: anonymous conditions, plus the JWT issuer of moved OIDC flags. */
export function authenticationConfiguration(jwt: Record<string, unknown> | null = null): string {
  const body = new Document({
    apiVersion: 'apiserver.config.k8s.io/v1beta1',
    kind: 'AuthenticationConfiguration',
    ...(jwt ? { jwt: [jwt] } : {}),
    anonymous: { enabled: true, conditions: ANONYMOUS_PATHS.map((path) => ({ path })) },
  });
  const origin = jwt ? '; the JWT issuer came from the --oidc-* flags it replaces' : '';
  return `# Managed by kube-harden (apiserver.anonymous-auth): anonymous requests only for health checks and\n# kubeadm join discovery${origin}.\n${body.toString({ indentSeq: false, lineWidth: 0 })}`;
}

/** Adds the anonymous section to an operator's AuthenticationConfiguration (their JWT issuers kept). */
export function mergeAnonymous(text: string): string {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) throw new FormatError(yamlErrorText(error), error.linePos?.[0]?.line ?? null);
  if (doc.get('kind') !== 'AuthenticationConfiguration') throw new FormatError('not an AuthenticationConfiguration');
  if (doc.has('anonymous')) return text;
  doc.set('anonymous', doc.createNode({ enabled: true, conditions: ANONYMOUS_PATHS.map((path) => ({ path })) }));
  return doc.toString({ indentSeq: false });
}

/** Whether a configuration restricts anonymous access: off, or on with conditions. */
function restrictsAnonymous(text: string): boolean {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || doc.get('kind') !== 'AuthenticationConfiguration') return false;
  const anonymous = doc.get('anonymous');
  if (!isMap(anonymous)) return false;
  const conditions = anonymous.get('conditions');
  return anonymous.get('enabled') === false || (isSeq(conditions) && conditions.items.length > 0);
}

const META: RuleMeta = {
  id: 'apiserver.anonymous-auth',
  title: 'API server limits anonymous requests to health checks and join discovery',
  cis: ['1.2.1'],
  component: API.name,
  remediable: true,
  disruption: 'reload',
  versions: `${API.name} 1.32 to 1.35 (anonymous endpoint conditions on by default)`,
};

function targets(obs: Observation): Targets {
  const view = componentView(obs, API);
  const configured = view.kind === 'static-pod' || view.kind === 'snap' ? view.flags.get('authentication-config') : undefined;
  const caFile = view.kind === 'static-pod' || view.kind === 'snap' ? view.flags.get('oidc-ca-file') : undefined;
  return { files: [...(controlPlaneTargets().files ?? []), configured ?? AUTHENTICATION_CONFIG_FILE, ...(caFile ? [caFile] : [])] };
}

export const apiserverAnonymousAuth: Rule<NodeContext> = {
  meta: META,
  targets,
  evaluate(ctx): Evaluation {
    const base = { id: META.id, title: META.title, cis: META.cis, expected: `anonymous only for ${ANONYMOUS_PATHS.join(', ')}` };
    const view = componentView(ctx.obs, API);
    if (view.kind === 'absent' || view.kind === 'error') return componentUnavailable(view, API, base, ctx.kubelet);
    const flag = view.flags.get('anonymous-auth');
    const configured = view.flags.get('authentication-config');
    const configPath = configured ?? AUTHENTICATION_CONFIG_FILE;
    const state = ctx.obs.files.get(configPath);
    const actual =
      flag !== undefined ? `--anonymous-auth=${flag}` : configured ? `--authentication-config=${configured}` : '(not set; default true: every path)';
    const pass = (message: string) => ({
      finding: { ...base, status: 'pass' as const, actual, source: configured ?? view.path, remediable: false, message },
    });
    // Already off: whoever set it has dealt with the probes (a crash-looping apiserver would not be read here).
    if (flag === 'false') return pass('');
    if (configured && state?.kind === 'file' && restrictsAnonymous(state.content)) return pass('');
    const hold = (reason: string): Evaluation => {
      const finding: Finding = { ...base, status: 'fail', actual, source: view.path, remediable: false, message: `held back: ${reason}` };
      return { finding, blocked: reason };
    };
    const version = view.version;
    if (!version) return hold(`${API.name} version unknown`);
    if (!atLeast(version, FIRST.major, FIRST.minor))
      return hold(
        `${API.name} ${formatVersion(version)}: anonymous endpoint conditions need 1.32+ (on by default there); --anonymous-auth=false alone would fail kubeadm's probes and join discovery`,
      );
    if (compareVersions(version, LAST_KNOWN) > 0)
      return hold(`${API.name} ${formatVersion(version)} is newer than the AuthenticationConfiguration versions kube-harden knows (up to 1.35)`);
    if (/AnonymousAuthConfigurableEndpoints=false/.test(view.flags.get('feature-gates') ?? ''))
      return hold('the AnonymousAuthConfigurableEndpoints feature gate is off');
    const oidc = [...view.flags.keys()].filter((name) => name.startsWith('oidc-'));
    if (oidc.length > 0 && configured)
      return hold(`--${oidc.join(', --')} and --authentication-config cannot be combined; the apiserver would not start`);
    const caFile = view.flags.get('oidc-ca-file');
    const caState = caFile ? ctx.obs.files.get(caFile) : undefined;
    const moved = oidc.length > 0 ? oidcToJwt(view.flags, caState?.kind === 'file' ? caState.content : null) : null;
    if (moved && 'error' in moved) return hold(moved.error);
    const jwt = moved && 'jwt' in moved ? moved.jwt : null;
    if (state?.kind === 'error') return hold(`${configPath}: ${state.error}`);
    if (configured && state?.kind !== 'file') return hold(`--authentication-config ${configPath} does not exist`);
    const edits: FileEdit[] = [
      {
        path: configPath,
        createMode: 0o600,
        transform: (current) => (configured ? mergeAnonymous(current ?? '') : authenticationConfiguration(jwt)),
      },
    ];
    // --anonymous-auth and the --oidc-* flags cannot stand next to --authentication-config: they go.
    const dropped = [...oidc, 'anonymous-auth'];
    if (view.kind === 'static-pod')
      edits.push({
        path: view.path,
        restartsComponent: true,
        transform: (text) => {
          let next = dropped.reduce((acc, name) => removePodFlag(acc, API.name, name), text ?? '');
          if (!configured) next = setPodFlag(next, API.name, 'authentication-config', configPath);
          return mountConfigFile(next, API.name, 'kube-harden-authentication-config', configPath);
        },
      });
    else
      edits.push({
        path: view.path,
        transform: (text) => {
          const next = dropped.reduce((acc, name) => removeArg(acc, name), text ?? '');
          return configured ? next : setArg(next, 'authentication-config', configPath);
        },
      });
    const restart = restartFor(API, view.kind);
    const note = configured ? `adding the anonymous section to ${configPath}` : jwt ? `moving --${oidc.join(', --')} into ${configPath}` : '';
    const finding: Finding = { ...base, status: 'fail', actual, source: view.path, remediable: true, message: note };
    return { finding, remedy: { edits, restart } };
  },
};
