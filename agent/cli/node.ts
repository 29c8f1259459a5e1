import { readFile, stat } from 'node:fs/promises';
import { collectTargets, evaluateRules } from '../core/evaluate.js';
import type { Observation } from '../core/observation.js';
import type { EvaluatedRule } from '../core/planner.js';
import { defaultPolicy, parsePolicy, type Policy } from '../core/policy.js';
import { ExecPluginProber, type PluginProber } from '../host/cni-plugin.js';
import type { CommandRunner } from '../host/commands.js';
import { HostFs } from '../host/host-fs.js';
import { HostRoot } from '../host/host-root.js';
import type { HealthProbe } from '../host/health.js';
import { observeNode } from '../host/observe.js';
import type { ServiceManager } from '../host/service-manager.js';
import { buildContext, type NodeContext } from '../rules/context.js';
import { RULE_VALUE_SPECS, RULES } from '../rules/index.js';
import { KUBEADM, SNAP } from '../rules/kubelet/layout.js';
import type { Logger } from '../telemetry/logger.js';
import { InputError, type CommonOptions, type Env } from './common.js';

/** The adapters a command runs with; main.ts builds the real ones, tests pass fakes. */
export interface CliDeps {
  readonly env: Env;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly runner: CommandRunner;
  readonly services: (hostRoot: string) => ServiceManager;
  readonly health: (service: string) => HealthProbe;
  readonly logger: Logger;
  readonly now: () => Date;
}

/** A node read and judged: what audit, plan and apply share. */
export interface LoadedNode {
  readonly fs: HostFs;
  readonly plugins: PluginProber;
  readonly policy: Policy;
  readonly obs: Observation;
  readonly ctx: NodeContext;
  readonly evaluated: readonly EvaluatedRule[];
}

/** Reads the policy file (the agent's own filesystem: it is a mounted ConfigMap, not a host file). */
export async function loadPolicy(file: string | null): Promise<Policy> {
  if (!file) return defaultPolicy(RULE_VALUE_SPECS);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(
      `cannot read policy ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(error)}`,
    );
  }
  const result = parsePolicy(text, file, RULE_VALUE_SPECS);
  if (!result.ok) throw new InputError(`invalid policy, nothing was changed:\n  ${result.errors.join('\n  ')}`);
  return result.policy;
}

async function openHostRoot(dir: string): Promise<HostRoot> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new InputError(`--host-root ${dir} is not a directory`);
    return await HostRoot.open(dir);
  } catch (error) {
    if (error instanceof InputError) throw error;
    throw new InputError(
      `--host-root ${dir} cannot be opened: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : String(error)}`,
    );
  }
}

/** Opens the host root, observes the node and evaluates every rule. */
export async function loadNode(common: CommonOptions, deps: CliDeps): Promise<LoadedNode> {
  const policy = await loadPolicy(common.policyFile);
  const fs = new HostFs(await openHostRoot(common.hostRoot));
  const plugins = new ExecPluginProber(fs, deps.runner, common.pluginDir);
  const obs = await observeNode({
    fs,
    runner: deps.runner,
    input: {
      nodeName: common.nodeName,
      nodeIp: common.nodeIp,
      nodeIpSource: common.nodeIpSource,
      kubeletVersion: common.kubeletVersion,
      pluginDir: common.pluginDir,
    },
    targets: (partial) => collectTargets(RULES, partial),
    kubeletBinaries: [KUBEADM.binary, SNAP.binary],
    plugins,
  });
  const ctx = buildContext(obs, policy);
  return { fs, plugins, policy, obs, ctx, evaluated: evaluateRules(RULES, ctx) };
}
