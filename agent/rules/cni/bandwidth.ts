import type { Finding } from '../../core/finding.js';
import type { Observation, PluginProbe, Targets } from '../../core/observation.js';
import { ruleValue } from '../../core/policy.js';
import type { Evaluation, FileEdit, Rule, RuleMeta } from '../../core/rule.js';
import { chainBandwidth, chainsBandwidth, confToConflist, parseCniConfig, type CniConfig } from '../../formats/cni-conflist.js';
import { FormatError } from '../../formats/env-file.js';
import type { NodeContext } from '../context.js';
import { rancherLayout } from '../kubelet/rancher.js';
import { detectDistribution } from '../platform/distribution.js';
import { BANDWIDTH_BINARY, CNI, cniConfigFiles } from './layout.js';
import { detectOwner, type CniOwner } from './owners.js';

const PLUGIN_META: RuleMeta = {
  id: 'cni.bandwidth-plugin',
  title: 'The CNI bandwidth plugin is installed and runs on the host',
  cis: [],
  component: 'cni',
  remediable: true,
  disruption: 'none',
  versions: 'all (CNI spec 0.3.0 and later)',
};

const CHAIN_META: RuleMeta = {
  id: 'cni.bandwidth-chain',
  title: 'The active pod network chains the bandwidth plugin',
  cis: [],
  component: 'cni',
  remediable: true,
  // Runtimes watch the directory and use the new chain for new pod sandboxes; nothing restarts.
  disruption: 'none',
  requires: ['cni.bandwidth-plugin'],
  versions: 'all (CNI spec 0.3.0 and later)',
};

/** The config to patch: the active one, or Multus's delegate (the next one), with its parse result. */
interface ChainTarget {
  readonly path: string;
  readonly config: CniConfig;
  readonly owner: CniOwner | null;
  readonly note: string;
}

type TargetResult = { readonly target: ChainTarget } | { readonly skip: string } | { readonly unknown: string; readonly source: string };

function parse(obs: Observation, path: string): { config: CniConfig } | { error: string } {
  const state = obs.files.get(path);
  if (state?.kind !== 'file') return { error: `${path}: ${state?.kind === 'error' ? state.error : 'not readable'}` };
  try {
    return { config: parseCniConfig(state.content) };
  } catch (error) {
    const line = error instanceof FormatError && error.line ? `:${error.line}` : '';
    return { error: `${path}${line}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** Finds the config runtimes use as the pod network (Multus: the network it delegates to). */
export function chainTarget(obs: Observation): TargetResult {
  // k3s and RKE2 keep the CNI config and plugins in their own data dir (k3s's flannel is built in).
  const rancher = rancherLayout(detectDistribution(obs));
  if (rancher)
    return {
      unknown: `${rancher.name === 'k3s' ? 'k3s' : 'RKE2'} keeps its CNI config in ${rancher.cniConfDir} and its plugins in its data dir's bin${rancher.name === 'k3s' ? ' (flannel is built into k3s)' : ''}: kube-harden does not judge the bandwidth chain there yet`,
      source: rancher.cniConfDir,
    };
  const listing = obs.dirs.get(CNI.confDir);
  if (listing?.kind === 'error') return { unknown: `${CNI.confDir}: ${listing.error}`, source: CNI.confDir };
  const files = cniConfigFiles(obs);
  if (files.length === 0) return { skip: `no network config in ${CNI.confDir} (no CNI installed yet)` };
  const active = files[0]!;
  const parsed = parse(obs, active);
  if ('error' in parsed) return { unknown: parsed.error, source: active };
  const owner = detectOwner(active, parsed.config);
  if (owner?.name !== 'Multus') return { target: { path: active, config: parsed.config, owner, note: '' } };
  const delegate = files[1];
  if (!delegate) return { unknown: `${active} is Multus and no delegate network config follows it in ${CNI.confDir}`, source: active };
  const delegateParsed = parse(obs, delegate);
  if ('error' in delegateParsed) return { unknown: delegateParsed.error, source: delegate };
  return {
    target: {
      path: delegate,
      config: delegateParsed.config,
      owner: detectOwner(delegate, delegateParsed.config),
      note: `${active} is Multus; it delegates to ${delegate}`,
    },
  };
}

function supports(probe: PluginProbe | undefined, version: string | null): boolean {
  return probe?.kind === 'present' && probe.versions !== null && (version === null || probe.versions.includes(version));
}

function cniTargets(obs: Observation): Targets {
  return { dirs: [CNI.confDir], files: cniConfigFiles(obs).slice(0, 2), hostPlugins: [BANDWIDTH_BINARY], shippedPlugins: [CNI.plugin] };
}

export const cniBandwidthPlugin: Rule<NodeContext> & {
  valueSpec: { id: string; value: { default: unknown; describe: string; validate: (v: unknown) => string | null } };
} = {
  meta: PLUGIN_META,
  valueSpec: {
    id: PLUGIN_META.id,
    value: {
      default: { existing: 'keep' },
      describe: '{ existing: keep | replace } (a different bandwidth binary on the node: keep it when it works, or replace it with the shipped one)',
      validate: (value) =>
        typeof value === 'object' && value !== null && ['keep', 'replace'].includes(String((value as { existing?: unknown }).existing))
          ? null
          : 'existing must be keep or replace',
    },
  },
  targets: cniTargets,
  evaluate(ctx): Evaluation {
    const { obs } = ctx;
    const located = chainTarget(obs);
    // No network config at all: no CNI is installed yet and nothing would use the plugin.
    if ('skip' in located)
      return {
        finding: {
          id: PLUGIN_META.id,
          title: PLUGIN_META.title,
          cis: PLUGIN_META.cis,
          expected: BANDWIDTH_BINARY,
          source: CNI.confDir,
          status: 'skip',
          actual: '-',
          remediable: false,
          message: located.skip,
        },
      };
    const host = obs.hostPlugins.get(BANDWIDTH_BINARY);
    const shipped = obs.shippedPlugins.get(CNI.plugin);
    const version = 'target' in located ? located.target.config.cniVersion : null;
    const policy = ruleValue<{ existing: 'keep' | 'replace' }>(ctx.policy, PLUGIN_META.id);
    const base = {
      id: PLUGIN_META.id,
      title: PLUGIN_META.title,
      cis: PLUGIN_META.cis,
      expected: `${BANDWIDTH_BINARY}, runs on the host${version ? `, supports CNI ${version}` : ''}`,
      source: BANDWIDTH_BINARY,
    };
    // k3s/RKE2: the plugins live in the distribution's own data dir, which is not judged yet.
    if ('unknown' in located && rancherLayout(detectDistribution(obs)))
      return { finding: { ...base, source: located.source, status: 'unknown', actual: 'unknown', remediable: false, message: located.unknown } };
    if (!host || host.kind === 'error')
      return {
        finding: {
          ...base,
          status: 'unknown',
          actual: 'unknown',
          remediable: false,
          message: `cannot check ${BANDWIDTH_BINARY}: ${host?.kind === 'error' ? host.error : 'not observed'}`,
        },
      };
    const actual =
      host.kind === 'missing'
        ? 'absent'
        : `sha256 ${host.sha256.slice(0, 12)}…, ${host.versions ? `supports ${host.versions.join(', ')}` : `does not run here (${host.runError})`}`;
    const identical = host.kind === 'present' && shipped?.kind === 'present' && host.sha256 === shipped.sha256;
    if (identical && supports(host, version))
      return { finding: { ...base, status: 'pass', actual, remediable: false, message: 'identical to the shipped static build' } };
    if (!identical && supports(host, version) && policy.existing === 'keep')
      return {
        finding: {
          ...base,
          status: 'pass',
          actual,
          remediable: false,
          message: 'a different bandwidth build is installed and works; kept (policy existing: keep)',
        },
      };
    const problem =
      host.kind === 'missing'
        ? 'not installed'
        : !host.versions
          ? `installed but does not run on the host (${host.runError})`
          : !supports(host, version)
            ? `installed but does not support CNI ${version}`
            : 'a different build is installed (policy existing: replace)';
    let blocked: string | null = null;
    if (!shipped || shipped.kind !== 'present')
      blocked = `no shipped plugin at ${obs.input.pluginDir}/${CNI.plugin} (set --plugin-dir or $KUBE_HARDEN_PLUGIN_DIR)`;
    else if (!shipped.versions) blocked = `the shipped plugin ${shipped.path} does not answer CNI_COMMAND=VERSION (${shipped.runError})`;
    else if (version && !shipped.versions.includes(version))
      blocked = `the shipped plugin supports CNI ${shipped.versions.join(', ')}, not ${version}`;
    const finding: Finding = {
      ...base,
      status: 'fail',
      actual,
      remediable: blocked === null,
      message: blocked ? `${problem}; not remediated: ${blocked}` : problem,
    };
    if (blocked || shipped?.kind !== 'present') return { finding, blocked: blocked ?? 'no shipped plugin' };
    return { finding, remedy: { installs: [{ path: BANDWIDTH_BINARY, plugin: CNI.plugin, sha256: shipped.sha256 }] } };
  },
};

function chainText(config: CniConfig): string {
  return config.plugins.map((plugin) => String(plugin.type)).join(' -> ');
}

/** The plugin that will be on the host after this plan: the shipped one when it is going in, else the host's. */
function pluginAfterPlan(obs: Observation): PluginProbe | undefined {
  const host = obs.hostPlugins.get(BANDWIDTH_BINARY);
  return host?.kind === 'present' && host.versions ? host : obs.shippedPlugins.get(CNI.plugin);
}

export const cniBandwidthChain: Rule<NodeContext> = {
  meta: CHAIN_META,
  targets: cniTargets,
  evaluate(ctx): Evaluation {
    const { obs } = ctx;
    const base = {
      id: CHAIN_META.id,
      title: CHAIN_META.title,
      cis: CHAIN_META.cis,
      expected: 'bandwidth chained once, after the interface plugin, with capabilities.bandwidth',
    };
    const located = chainTarget(obs);
    if ('skip' in located)
      return { finding: { ...base, status: 'skip', actual: 'no network config', source: CNI.confDir, remediable: false, message: located.skip } };
    if ('unknown' in located)
      return {
        finding: {
          ...base,
          status: 'unknown',
          actual: 'unknown',
          source: located.source,
          remediable: false,
          message: `cannot read the active network config: ${located.unknown}`,
        },
      };
    const { target } = located;
    const actual = `${target.path}: ${chainText(target.config)}`;
    const notes = [target.note, target.owner && !chainsBandwidth(target.config) ? target.owner.durableFix : ''].filter(Boolean);
    if (chainsBandwidth(target.config))
      return { finding: { ...base, status: 'pass', actual, source: target.path, remediable: false, message: target.note } };
    const fail = (remediable: boolean, extra: string): Finding => ({
      ...base,
      status: 'fail',
      actual,
      source: target.path,
      remediable,
      message: [...notes, extra].filter(Boolean).join('; '),
    });
    if (target.owner && !target.owner.patchable)
      return { finding: fail(false, `not patched: ${target.owner.name} owns it`), blocked: `${target.owner.name} owns ${target.path}` };
    const plugin = pluginAfterPlan(obs);
    const version = target.config.cniVersion;
    if (!supports(plugin, version)) {
      const why =
        plugin?.kind === 'present' && plugin.versions
          ? `the bandwidth plugin supports CNI ${plugin.versions.join(', ')}, not ${version ?? '(no cniVersion)'}`
          : 'no working bandwidth plugin to chain';
      return { finding: fail(false, `not chained: ${why}`), blocked: why };
    }
    if (target.config.kind === 'conflist') {
      const edit: FileEdit = { path: target.path, transform: (current) => chainBandwidth(current ?? '') };
      return { finding: fail(true, 'runtimes reload the directory; new pod sandboxes get the chain'), remedy: { edits: [edit] } };
    }
    // A single-plugin .conf/.json becomes a .conflist of the same base name; the old file goes to the
    // backup area so two configs never compete.
    const converted = target.path.replace(/\.(conf|json)$/, '.conflist');
    const files = cniConfigFiles(obs);
    if (files.includes(converted))
      return { finding: fail(false, `not converted: ${converted} already exists`), blocked: `${converted} already exists` };
    // The converted file must keep the original's place: first, or right after Multus for a delegate.
    const place = files.indexOf(target.path);
    const after = [...files.filter((file) => file !== target.path), converted].sort();
    if (after[place] !== converted)
      return {
        finding: fail(false, `not converted: ${after[place]} would take its place in the order`),
        blocked: `${after[place]} would sort first`,
      };
    const original = obs.files.get(target.path) as { content: string; mode: number };
    return {
      finding: fail(true, `${target.path} becomes ${converted} (the old file moves to the backup)`),
      remedy: { edits: [{ path: converted, transform: () => confToConflist(original.content), createMode: original.mode }], removals: [target.path] },
    };
  },
};
