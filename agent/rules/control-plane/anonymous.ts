import { isMap, isSeq, parseDocument } from 'yaml';
import type { Finding } from '../../core/finding.js';
import type { Observation, Targets } from '../../core/observation.js';
import type { Evaluation, FileEdit, Rule, RuleMeta } from '../../core/rule.js';
import { atLeast, compareVersions, formatVersion } from '../../core/version.js';
import { removeArg, setArg } from '../../formats/args-file.js';
import { FormatError } from '../../formats/env-file.js';
import { ensureHostPathMount, removePodFlag, setPodFlag } from '../../formats/static-pod.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView, controlPlaneTargets, staticPodService } from './components.js';

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

export function authenticationConfiguration(): string {
  const conditions = ANONYMOUS_PATHS.map((path) => `  - path: ${path}`).join('\n');
  return `# Managed by kube-harden (apiserver.anonymous-auth): anonymous requests only for health checks and
# kubeadm join discovery.
apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
anonymous:
  enabled: true
  conditions:
${conditions}
`;
}

/** Adds the anonymous section to an operator's AuthenticationConfiguration (their JWT issuers kept). */
export function mergeAnonymous(text: string): string {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) throw new FormatError(error.message.split('\n')[0] ?? 'invalid YAML', error.linePos?.[0]?.line ?? null);
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
  disruption: 'restart',
  versions: `${API.name} 1.32 to 1.35 (anonymous endpoint conditions on by default)`,
};

function targets(obs: Observation): Targets {
  const view = componentView(obs, API);
  const configured = view.kind === 'static-pod' || view.kind === 'snap' ? view.flags.get('authentication-config') : undefined;
  return { files: [...(controlPlaneTargets().files ?? []), configured ?? AUTHENTICATION_CONFIG_FILE] };
}

export const apiserverAnonymousAuth: Rule<NodeContext> = {
  meta: META,
  targets,
  evaluate(ctx): Evaluation {
    const base = { id: META.id, title: META.title, cis: META.cis, expected: `anonymous only for ${ANONYMOUS_PATHS.join(', ')}` };
    const view = componentView(ctx.obs, API);
    if (view.kind === 'absent')
      return { finding: { ...base, status: 'skip', actual: '-', source: null, remediable: false, message: `no ${API.name} on this node` } };
    if (view.kind === 'error')
      return { finding: { ...base, status: 'unknown', actual: 'unknown', source: view.path, remediable: false, message: view.message } };
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
    if (oidc.length > 0 && !configured)
      return hold(
        `--${oidc.join(', --')} cannot be combined with --authentication-config: move the OIDC settings into an AuthenticationConfiguration (jwt issuers) first`,
      );
    if (state?.kind === 'error') return hold(`${configPath}: ${state.error}`);
    if (configured && state?.kind !== 'file') return hold(`--authentication-config ${configPath} does not exist`);
    const edits: FileEdit[] = [
      { path: configPath, createMode: 0o600, transform: (current) => (configured ? mergeAnonymous(current ?? '') : authenticationConfiguration()) },
    ];
    // --anonymous-auth and an anonymous section in the file are mutually exclusive: the flag goes.
    if (view.kind === 'static-pod')
      edits.push({
        path: view.path,
        restartsComponent: true,
        transform: (text) => {
          let next = removePodFlag(text ?? '', API.name, 'anonymous-auth');
          if (!configured) next = setPodFlag(next, API.name, 'authentication-config', configPath);
          return ensureHostPathMount(next, API.name, {
            name: 'kube-harden-authentication-config',
            hostPath: configPath,
            type: 'File',
            mountPath: configPath,
            readOnly: true,
          });
        },
      });
    else
      edits.push({
        path: view.path,
        transform: (text) =>
          configured ? removeArg(text ?? '', 'anonymous-auth') : setArg(removeArg(text ?? '', 'anonymous-auth'), 'authentication-config', configPath),
      });
    const restart =
      view.kind === 'static-pod'
        ? {
            service: staticPodService(API),
            disruption: 'reload' as const,
            reason: `the kubelet recreates ${API.name} when its manifest changes; it must become healthy again`,
          }
        : { service: API.snapService, disruption: 'restart' as const, reason: `${API.name} reads its flags only at start` };
    const finding: Finding = {
      ...base,
      status: 'fail',
      actual,
      source: view.path,
      remediable: true,
      message: configured ? `adding the anonymous section to ${configPath}` : '',
    };
    return { finding, remedy: { edits, restart } };
  },
};
