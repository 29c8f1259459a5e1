import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { MAX_CONFIG_BYTES } from '../host/host-fs.js';
import { collectTargets, evaluateRules } from '../core/evaluate.js';
import type { Observation, OperatorInput } from '../core/observation.js';
import type { EvaluatedRule } from '../core/planner.js';
import { defaultPolicy, parsePolicy, type Policy, type PolicyParseResult } from '../core/policy.js';
import type { PluginProber } from '../host/cni-plugin.js';
import type { CommandRunner } from '../host/commands.js';
import type { HostFs } from '../host/host-fs.js';
import { observeNode } from '../host/observe.js';
import { buildContext, type NodeContext } from '../rules/context.js';
import { RULE_VALUE_SPECS, RULES } from '../rules/index.js';
import { KUBELET_BINARIES } from '../rules/kubelet/layout.js';

/** A node read and judged: what audit, plan, apply and the daemon share. */
export interface InspectedNode {
  readonly obs: Observation;
  readonly ctx: NodeContext;
  readonly evaluated: readonly EvaluatedRule[];
}

/** Observes the node through the host adapters and evaluates every rule of the catalogue. */
export async function inspectNode(
  fs: HostFs,
  runner: CommandRunner,
  plugins: PluginProber,
  input: OperatorInput,
  policy: Policy,
): Promise<InspectedNode> {
  const obs = await observeNode({
    fs,
    runner,
    input,
    targets: (partial) => collectTargets(RULES, partial),
    kubeletBinaries: KUBELET_BINARIES, // issue 16 hook: k3s and RKE2 binaries added
    plugins,
  });
  const ctx = buildContext(obs, policy);
  return { obs, ctx, evaluated: evaluateRules(RULES, ctx) };
}

/**
 * Reads a policy file from the agent's filesystem (a mounted ConfigMap, not a host file); null file
 * means the built-in policy. Problems come back as a list, never as a throw.
 */
export async function readPolicyFile(file: string | null): Promise<PolicyParseResult> {
  if (!file) return { ok: true, policy: defaultPolicy(RULE_VALUE_SPECS) };
  let text: string;
  let handle: FileHandle | undefined;
  try {
    // Non-blocking open and a type check first: a FIFO where the policy should be must not hang the agent.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile())
      return { ok: false, errors: [`cannot read policy ${file}: ${info.isDirectory() ? 'is a directory' : 'is not a regular file'}`] };
    if (info.size > MAX_CONFIG_BYTES) return { ok: false, errors: [`cannot read policy ${file}: larger than ${MAX_CONFIG_BYTES} bytes`] };
    const bytes = await handle.readFile();
    text = bytes.toString('utf8');
    if (bytes.includes(0) || !Buffer.from(text, 'utf8').equals(bytes))
      return { ok: false, errors: [`cannot read policy ${file}: not a UTF-8 text file`] };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : code === 'ELOOP'
              ? 'a symbolic link loop'
              : String(error);
    return { ok: false, errors: [`cannot read policy ${file}: ${why}`] };
  } finally {
    await handle?.close();
  }
  return parsePolicy(text, file, RULE_VALUE_SPECS);
}
