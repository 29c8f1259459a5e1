import { stat } from 'node:fs/promises';
import type { OperatorInput } from '../core/observation.js';
import type { Policy } from '../core/policy.js';
import { resolveForNode } from '../core/node-pool.js';
import { restartGate, type RestartGate } from '../node/health-gate.js';
import { inspectNode, readKubeletView, type InspectedNode } from '../node/inspect.js';
import { readPolicyFile } from '../node/policy-file.js';
import { ExecPluginProber, type PluginProber } from '../host/cni-plugin.js';
import type { CommandRunner } from '../host/commands.js';
import { HostFs } from '../host/host-fs.js';
import { HostRoot } from '../host/host-root.js';
import type { ServiceProbes } from '../host/health.js';
import type { ServiceManager } from '../host/service-manager.js';
import type { Logger } from '../telemetry/logger.js';
import { InputError, type CommonOptions, type Env } from './common.js';
import type { Terminal } from './report-facts.js';

/** The adapters a command runs with; main.ts builds the real ones, tests pass fakes. */
export interface CliDeps {
  readonly env: Env;
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly runner: CommandRunner;
  readonly services: (hostRoot: string) => ServiceManager;
  readonly health: ServiceProbes;
  readonly logger: Logger;
  readonly now: () => Date;
  /** The terminal stdout goes to (width, colour of the audit table); absent = not a terminal. */
  readonly terminal?: Terminal;
}

/** A node read and judged, with the adapters the commands go on with. */
export interface LoadedNode extends InspectedNode {
  readonly fs: HostFs;
  readonly plugins: PluginProber;
  readonly policy: Policy;
  readonly input: OperatorInput;
  /** The policy's node-pool overrides that matched this node's labels, in order. */
  readonly appliedOverrides: readonly string[];
}

/** Reads the policy (built-in without a file); any problem stops the command with every error listed. */
export async function loadPolicy(file: string | null): Promise<Policy> {
  const result = await readPolicyFile(file);
  if (result.ok) return result.policy;
  if (result.errors.length === 1 && result.errors[0]!.startsWith('cannot read policy')) throw new InputError(result.errors[0]!);
  throw new InputError(`invalid policy, nothing was changed:\n  ${result.errors.join('\n  ')}`);
}

export async function openHostRoot(dir: string): Promise<HostRoot> {
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
  const resolved = resolveForNode(await loadPolicy(common.policyFile), common.nodeLabels);
  if (!resolved.ok)
    throw new InputError(
      `${resolved.error}: give them with --node-labels k=v,... (audit also reads them from the Node with --kubeconfig); nothing was changed`,
    );
  const { policy, applied: appliedOverrides } = resolved;
  const fs = new HostFs(await openHostRoot(common.hostRoot));
  const plugins = new ExecPluginProber(fs, deps.runner, common.pluginDir);
  const input = {
    nodeName: common.nodeName,
    nodeIp: common.nodeIp,
    nodeIpSource: common.nodeIpSource,
    kubeletVersion: common.kubeletVersion,
    pluginDir: common.pluginDir,
  };
  const inspected = await inspectNode(fs, deps.runner, plugins, input, policy);
  return { fs, plugins, policy, input, appliedOverrides, ...inspected };
}

/**
 * The health gate of a CLI apply: the service's endpoint and, for the kubelet when its process is
 * visible, a new process running with the flags on disk. (The daemon adds the cluster's view.)
 */
export function hostRestartGate(node: LoadedNode, deps: CliDeps): RestartGate {
  return restartGate({
    http: deps.health,
    fs: node.fs,
    kubeletService: node.ctx.kubelet.service,
    kubeletVisible: node.obs.kubeletProcess !== null,
    kubeletView: () => readKubeletView(node.fs, deps.runner, node.plugins, node.input),
    node: null,
    intervalMs: 1000,
    nodeIp: node.ctx.nodeIp.value,
  });
}
