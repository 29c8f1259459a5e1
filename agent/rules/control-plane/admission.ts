import { compareText } from '../../core/order.js';
import { Document, isMap, isSeq, parseDocument } from 'yaml';
import type { Observation, Targets } from '../../core/observation.js';
import { ruleValue } from '../../core/policy.js';
import type { Evaluation, FileEdit, Rule, RuleMeta } from '../../core/rule.js';
import { FormatError } from '../../formats/env-file.js';
import { parseArgsFile, setArg } from '../../formats/args-file.js';
import { hasMountPath, mountConfigFile, parseStaticPod, setPodAnnotation, setPodFlag } from '../../formats/static-pod.js';
import { deepFreeze, memoizeParse } from '../../formats/parse-memo.js';
import { shortDigest } from '../../core/digest.js';
import { atLeast, formatVersion } from '../../core/version.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView, controlPlaneTargets, type ComponentView } from './components.js';
import { componentFlagRule, componentUnavailable, type FlagDesire, restartFor } from './flag-rule.js';
import { yamlErrorText } from '../../formats/yaml-read.js';

const API = COMPONENTS.apiserver;

/** The agent's AdmissionConfiguration when the apiserver has none (an existing one is merged instead). */
export const ADMISSION_CONFIG_FILE = '/etc/kubernetes/admission-control.yaml';

/** One EventRateLimit limit (plugin/pkg/admission/eventratelimit/apis). */
export interface EventLimit {
  readonly type: 'Server' | 'Namespace' | 'User' | 'SourceAndObject';
  readonly qps: number;
  readonly burst: number;
  readonly cacheSize?: number;
}

export const DEFAULT_EVENT_LIMITS: readonly EventLimit[] = [
  { type: 'Server', qps: 50, burst: 100 },
  { type: 'Namespace', qps: 50, burst: 100, cacheSize: 2000 },
  { type: 'User', qps: 10, burst: 50, cacheSize: 2000 },
];

function validateLimits(value: unknown): string | null {
  const limits = (value as { limits?: unknown })?.limits;
  if (!Array.isArray(limits) || limits.length === 0) return 'limits must be a non-empty list (an empty list stops the apiserver)';
  for (const limit of limits as Array<Record<string, unknown>>) {
    if (!['Server', 'Namespace', 'User', 'SourceAndObject'].includes(String(limit?.type)))
      return 'type must be Server, Namespace, User or SourceAndObject';
    if (!(Number(limit.qps) > 0) || !(Number(limit.burst) > 0)) return 'qps and burst must be greater than 0';
    if (limit.cacheSize !== undefined && (limit.type === 'Server' || !(Number(limit.cacheSize) >= 0)))
      return 'cacheSize must be >= 0, and not on a Server limit';
  }
  return null;
}

/** The EventRateLimit entry of an AdmissionConfiguration, with the limits inline. */
function eventRateLimitPlugin(limits: readonly EventLimit[]) {
  return {
    name: 'EventRateLimit',
    configuration: { apiVersion: 'eventratelimit.admission.k8s.io/v1alpha1', kind: 'Configuration', limits: limits.map((limit) => ({ ...limit })) },
  };
}

/** A new AdmissionConfiguration holding only EventRateLimit. */
export function admissionConfiguration(limits: readonly EventLimit[]): string {
  const doc = new Document({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AdmissionConfiguration', plugins: [eventRateLimitPlugin(limits)] });
  return `# Managed by kube-harden (apiserver.event-rate-limit).\n${doc.toString({ indentSeq: false })}`;
}

/** On the static pod: a digest of the limits in force, so a change of them restarts the apiserver. */
export const LIMITS_ANNOTATION = 'kube-harden.io/event-rate-limits';

/** What an AdmissionConfiguration says about EventRateLimit. */
export type EventRateLimitConfig =
  | { readonly kind: 'absent' }
  | { readonly kind: 'inline'; readonly limits: readonly EventLimit[] }
  /** Configured in a file of its own (`path:`): not read by this rule, so its values are not judged. */
  | { readonly kind: 'path'; readonly path: string };

/** Reads the EventRateLimit entry of an AdmissionConfiguration text. */
export const eventRateLimitConfig = memoizeParse((text: string): EventRateLimitConfig => {
  const doc = parseDocument(text);
  if (doc.errors.length > 0 || doc.get('kind') !== 'AdmissionConfiguration') return { kind: 'absent' };
  const plugins = doc.get('plugins');
  const entry = isSeq(plugins) ? plugins.items.find((item) => isMap(item) && item.get('name') === 'EventRateLimit') : undefined;
  if (!isMap(entry)) return { kind: 'absent' };
  if (entry.has('path')) return { kind: 'path', path: String(entry.get('path')) };
  const configuration = entry.get('configuration');
  const limits = isMap(configuration) ? (configuration.toJSON() as { limits?: unknown }).limits : undefined;
  return Array.isArray(limits) ? deepFreeze({ kind: 'inline', limits: limits as EventLimit[] }) : { kind: 'absent' };
});

/** The limits as a comparable text: order of limits and of keys does not matter. */
function limitsKey(limits: readonly EventLimit[]): string {
  return JSON.stringify(
    limits
      .map((limit) => ({
        type: limit.type,
        qps: Number(limit.qps),
        burst: Number(limit.burst),
        cacheSize: limit.cacheSize === undefined ? null : Number(limit.cacheSize),
      }))
      .sort((a, b) => compareText(a.type, b.type)),
  );
}

export function sameLimits(a: readonly EventLimit[], b: readonly EventLimit[]): boolean {
  return limitsKey(a) === limitsKey(b);
}

/** Sets the EventRateLimit entry of an existing AdmissionConfiguration to `limits`, keeping every other plugin. */
export function mergeEventRateLimit(text: string, limits: readonly EventLimit[]): string {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) throw new FormatError(yamlErrorText(error), error.linePos?.[0]?.line ?? null);
  if (doc.get('kind') !== 'AdmissionConfiguration') throw new FormatError('not an AdmissionConfiguration');
  const current = eventRateLimitConfig(text);
  if (current.kind === 'path') throw new FormatError(`EventRateLimit is configured in ${current.path}; not rewritten here`);
  if (current.kind === 'inline' && sameLimits(current.limits, limits)) return text;
  const plugins = doc.get('plugins', true);
  if (isSeq(plugins)) {
    const existing = plugins.items.findIndex((item) => isMap(item) && item.get('name') === 'EventRateLimit');
    if (existing >= 0) plugins.items.splice(existing, 1, doc.createNode(eventRateLimitPlugin(limits)));
    else plugins.items.push(doc.createNode(eventRateLimitPlugin(limits)));
  } else doc.set('plugins', doc.createNode([eventRateLimitPlugin(limits)]));
  return doc.toString({ indentSeq: false });
}

function enabledPlugins(view: ComponentView): string[] {
  return view.kind === 'static-pod' || view.kind === 'snap' ? (view.flags.get('enable-admission-plugins') ?? '').split(',').filter(Boolean) : [];
}

/**
 * Admission plugins a release removed: an apiserver of that release or newer that names one in
 * --enable-admission-plugins exits at start (KUBERNETES-FACTS §7e). Pod Security Admission replaces both.
 */
const REMOVED_PLUGINS = [
  { name: 'PodSecurityPolicy', removedIn: { major: 1, minor: 25 } },
  { name: 'SecurityContextDeny', removedIn: { major: 1, minor: 30 } },
] as const;

/**
 * Why --enable-admission-plugins must not be rewritten: it names a plugin the apiserver's release
 * removed, or may have (version unknown). Rewriting the list would write that plugin again into a
 * manifest the apiserver rejects; taking it out is the operator's step, after the namespaces carry Pod
 * Security Admission labels (apiserver.security-context-deny says so). Null when the list may be rewritten.
 */
export function removedPluginHold(view: ComponentView): string | null {
  if (view.kind !== 'static-pod' && view.kind !== 'snap') return null;
  const plugins = enabledPlugins(view);
  for (const plugin of REMOVED_PLUGINS) {
    if (!plugins.includes(plugin.name)) continue;
    const removed = `${plugin.name} (removed in ${plugin.removedIn.major}.${plugin.removedIn.minor})`;
    const fix = `remove it by hand once the namespaces carry pod-security.kubernetes.io/enforce labels (Pod Security Admission replaces it)`;
    if (!view.version)
      return `--enable-admission-plugins names ${removed} and the ${API.name} version is unknown (${view.versionSource}): the list is not rewritten; ${fix}`;
    if (atLeast(view.version, plugin.removedIn.major, plugin.removedIn.minor))
      return `--enable-admission-plugins names ${removed}, which ${API.name} ${formatVersion(view.version)} rejects: the list is not rewritten with it; ${fix}`;
  }
  return null;
}

function withPlugin(list: string, plugin: string): string {
  const plugins = list.split(',').filter(Boolean);
  return plugins.includes(plugin) ? list : [...plugins, plugin].join(',');
}

/** True when the manifest mounts the admission configuration and carries the digest of `limits`. */
function manifestCarries(obs: Observation, path: string, configPath: string, limits: readonly EventLimit[]): boolean {
  const state = obs.files.get(path);
  if (state?.kind !== 'file') return false;
  const pod = parseStaticPod(state.content, API.name);
  const annotations = (pod.pod.metadata as { annotations?: Record<string, unknown> } | undefined)?.annotations;
  return hasMountPath(pod, configPath) && annotations?.[LIMITS_ANNOTATION] === shortDigest(limitsKey(limits));
}

const ERL = 'apiserver.event-rate-limit';

const ERL_META: RuleMeta = {
  id: ERL,
  title: 'API server limits the rate of Events (EventRateLimit with its configuration)',
  cis: ['1.2.9'],
  component: API.name,
  remediable: true,
  disruption: 'reload',
  versions: `${API.name} >= 1.19 (AdmissionConfiguration apiserver.config.k8s.io/v1)`,
};

function erlTargets(obs: Observation): Targets {
  const view = componentView(obs, API);
  const configured = view.kind === 'static-pod' || view.kind === 'snap' ? view.flags.get('admission-control-config-file') : undefined;
  return { files: [...(controlPlaneTargets().files ?? []), configured ?? ADMISSION_CONFIG_FILE] };
}

/**
 * EventRateLimit needs its configuration or the apiserver dies at start (`limits: must not be empty`):
 * the plugin, the AdmissionConfiguration (an existing one merged, never replaced), the
 * --admission-control-config-file flag and the file's mount all land in one rule, config file first.
 */
export const apiserverEventRateLimit: Rule<NodeContext> & {
  valueSpec: { id: string; value: { default: unknown; describe: string; validate: (value: unknown) => string | null } };
} = {
  meta: ERL_META,
  valueSpec: {
    id: ERL,
    value: { default: { limits: DEFAULT_EVENT_LIMITS }, describe: '{ limits: [{ type, qps, burst, cacheSize? }] }', validate: validateLimits },
  },
  targets: erlTargets,
  evaluate(ctx): Evaluation {
    const wanted = ruleValue<{ limits: EventLimit[] }>(ctx.policy, ERL).limits;
    const base = {
      id: ERL,
      title: ERL_META.title,
      cis: ERL_META.cis,
      expected: `EventRateLimit enabled and mounted, limits ${wanted.map((limit) => `${limit.type} qps ${limit.qps} burst ${limit.burst}`).join(', ')}`,
    };
    const view = componentView(ctx.obs, API);
    if (view.kind === 'absent' || view.kind === 'error') return componentUnavailable(view, API, base, ctx.kubelet);
    const configured = view.flags.get('admission-control-config-file');
    const configPath = configured ?? ADMISSION_CONFIG_FILE;
    const state = ctx.obs.files.get(configPath);
    if (state?.kind === 'error')
      return {
        finding: { ...base, status: 'unknown', actual: 'unknown', source: configPath, remediable: false, message: `${configPath}: ${state.error}` },
      };
    const limits = ruleValue<{ limits: EventLimit[] }>(ctx.policy, ERL).limits;
    const enabled = enabledPlugins(view).includes('EventRateLimit');
    const config = state?.kind === 'file' ? eventRateLimitConfig(state.content) : ({ kind: 'absent' } as const);
    if (config.kind === 'path') {
      const why = `EventRateLimit is configured in ${config.path}, which this rule does not read: its limits cannot be judged`;
      return { finding: { ...base, status: 'unknown', actual: why, source: configPath, remediable: false, message: why } };
    }
    // The policy's limits are the value judged, not only that some configuration exists.
    const configOk = config.kind === 'inline' && sameLimits(config.limits, limits);
    const edits: FileEdit[] = [];
    if (!configOk) {
      if (configured && state?.kind !== 'file') {
        const reason = `--admission-control-config-file ${configPath} does not exist`;
        return { finding: { ...base, status: 'fail', actual: reason, source: view.path, remediable: false, message: reason }, blocked: reason };
      }
      edits.push({
        path: configPath,
        createMode: 0o600,
        transform: (current) =>
          configured || (current !== null && eventRateLimitConfig(current).kind !== 'absent')
            ? mergeEventRateLimit(current ?? '', limits)
            : admissionConfiguration(limits),
      });
    }
    const manifestEdit = (text: string): string => {
      let next = text;
      if (view.kind === 'static-pod') {
        // Read the list from the text being edited: another rule may have changed it in this plan.
        const list = parseStaticPod(next, API.name).flags.find((flag) => flag.name === 'enable-admission-plugins')?.value ?? '';
        next = setPodFlag(next, API.name, 'enable-admission-plugins', withPlugin(list, 'EventRateLimit'));
        if (!configured) next = setPodFlag(next, API.name, 'admission-control-config-file', configPath);
        next = mountConfigFile(next, API.name, 'kube-harden-admission-control', configPath);
        // The apiserver reads the limits only at start: the digest makes a change of them recreate the pod.
        return setPodAnnotation(next, LIMITS_ANNOTATION, shortDigest(limitsKey(limits)));
      }
      const list = parseArgsFile(next).args.find((arg) => arg.name === 'enable-admission-plugins')?.value ?? '';
      next = setArg(next, 'enable-admission-plugins', withPlugin(list, 'EventRateLimit'));
      return configured ? next : setArg(next, 'admission-control-config-file', configPath);
    };
    // Judged on the parsed manifest (what the edit would change); the edit itself runs only in a plan.
    const manifestChanges = !enabled || !configured || (view.kind === 'static-pod' && !manifestCarries(ctx.obs, view.path, configPath, limits));
    const configuredLimits =
      config.kind === 'inline'
        ? `limits ${config.limits.map((limit) => `${limit.type} qps ${limit.qps} burst ${limit.burst}`).join(', ')} in ${configPath}`
        : 'not configured';
    const actual = `${enabled ? 'EventRateLimit enabled' : 'EventRateLimit not enabled'}; ${configuredLimits}`;
    if (configOk && !manifestChanges) return { finding: { ...base, status: 'pass', actual, source: configPath, remediable: false, message: '' } };
    const hold = manifestChanges ? removedPluginHold(view) : null;
    if (hold)
      return {
        finding: { ...base, status: 'fail', actual, source: view.path, remediable: false, message: `not remediated: ${hold}` },
        blocked: hold,
      };
    edits.push({ path: view.path, restartsComponent: view.kind === 'static-pod', transform: (text) => manifestEdit(text ?? '') });
    const restart = restartFor(API, view.kind);
    return {
      finding: {
        ...base,
        status: 'fail',
        actual,
        source: view.path,
        remediable: true,
        message: configured ? `merging EventRateLimit into ${configPath}` : '',
      },
      remedy: { edits, restart },
    };
  },
};

const PLUGINS = 'apiserver.admission-plugins';

/**
 * NodeRestriction on, AlwaysAdmit off, AlwaysPullImages only when the policy opts in (it breaks
 * air-gapped and sideloaded nodes). Plugins removed by a release (SecurityContextDeny, PodSecurityPolicy)
 * are never added, and a list that names one is not rewritten where the apiserver rejects it.
 */
export const apiserverAdmissionPlugins = componentFlagRule({
  id: PLUGINS,
  title: 'API server admission plugins: NodeRestriction on, AlwaysAdmit off',
  cis: ['1.2.10', '1.2.11', '1.2.14'],
  component: API,
  flag: 'enable-admission-plugins',
  defaultValue: null,
  value: {
    default: { alwaysPullImages: false },
    describe: '{ alwaysPullImages: true | false }',
    validate: (value) =>
      typeof (value as { alwaysPullImages?: unknown })?.alwaysPullImages === 'boolean' ? null : 'alwaysPullImages must be true or false',
  },
  desired: (ctx): FlagDesire => {
    const current = enabledPlugins(componentView(ctx.obs, API)).filter((plugin) => plugin !== 'AlwaysAdmit');
    const wanted = [
      'NodeRestriction',
      ...(ruleValue<{ alwaysPullImages: boolean }>(ctx.policy, PLUGINS).alwaysPullImages ? ['AlwaysPullImages'] : []),
    ];
    return { kind: 'set', value: [...current, ...wanted.filter((plugin) => !current.includes(plugin))].join(',') };
  },
  judge: (effective, desired) => {
    const plugins = (effective ?? '').split(',');
    const wanted = desired.kind === 'set' ? desired.value.split(',') : [];
    return (
      !plugins.includes('AlwaysAdmit') &&
      wanted.filter((plugin) => plugin === 'NodeRestriction' || plugin === 'AlwaysPullImages').every((plugin) => plugins.includes(plugin))
    );
  },
  minVersion: { major: 1, minor: 19 },
  hold: (ctx) => removedPluginHold(componentView(ctx.obs, API)),
});

/**
 * Order matters: both edit --enable-admission-plugins. The plugins rule writes its computed list first;
 * EventRateLimit then adds itself to whatever the text holds.
 */
export const ADMISSION_RULES: readonly Rule<NodeContext>[] = [apiserverAdmissionPlugins, apiserverEventRateLimit];
