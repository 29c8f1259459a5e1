import { hostname } from 'node:os';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseLabelList } from '../core/node-pool.js';
import { parseVersion } from '../core/version.js';

/** A mistake in how the command was called (exit 2, no stack trace). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Input that stops the command: bad policy, unreadable host root (exit 2). */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export const EXIT = { ok: 0, findings: 1, usage: 2 } as const;

/** Options every node command takes (DESIGN §3 "common"). */
export interface CommonOptions {
  readonly hostRoot: string;
  readonly policyFile: string | null;
  readonly nodeIp: string | null;
  readonly nodeIpSource: string | null;
  readonly nodeName: string;
  readonly kubeletVersion: string | null;
  readonly pluginDir: string;
  /**
   * The node's labels, for a policy with node-pool overrides: from --node-labels, or read from the Node
   * by a command with cluster access. Null when unknown.
   */
  readonly nodeLabels: Readonly<Record<string, string>> | null;
}

export const COMMON_OPTIONS = {
  'host-root': { type: 'string' },
  policy: { type: 'string' },
  'node-ip': { type: 'string' },
  'node-name': { type: 'string' },
  'kubelet-version': { type: 'string' },
  'plugin-dir': { type: 'string' },
  'node-labels': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const COMMON_HELP = `Common options:
  --host-root DIR        the node's filesystem (default $KUBE_HARDEN_HOST_ROOT, else /); every path,
                         symlinks included, is resolved inside it. Binaries in it are run (the
                         kubelet's --version, CNI plugins chrooted): not for an untrusted tree as root
  --policy FILE          HardeningPolicy YAML (default: the built-in policy, mode enforce)
  --node-ip IP           address the kubelet must listen on (default $NODE_IP, else the kubelet's own
                         --node-ip; without one kubelet.address is reported unknown)
  --node-name NAME       (default $NODE_NAME, else the hostname)
  --kubelet-version V    e.g. v1.31.4; overrides detection (running kubelet, /usr/bin/kubelet, the
                         k8s snap's kubelet). Without a known version no kubelet setting is changed
  --plugin-dir DIR       where CNI plugins to install come from (default $KUBE_HARDEN_PLUGIN_DIR,
                         else /usr/lib/kube-harden/cni)
  --node-labels K=V,...  audit, plan, apply: the node's labels, for a policy with node-pool overrides
                         on a host without cluster access (such a policy with no known labels is
                         refused). The daemon reads its Node's labels instead
  -h, --help             this help`;

export const EXIT_HELP = `Exit codes: 0 compliant / applied; 1 findings remain (fail or unknown) or an action failed or was
rolled back; 2 bad invocation, bad policy or unreadable input that stops the command.`;

export type Env = Readonly<Record<string, string | undefined>>;

/** Parses a command's argv; unknown options and stray arguments are usage errors. */
export function parseCommand<T extends NonNullable<ParseArgsConfig['options']>>(argv: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...argv], options: { ...COMMON_OPTIONS, ...options }, allowPositionals: false, strict: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/, '') : String(error));
  }
}

function nonEmpty(value: string | undefined): string | null {
  return value !== undefined && value.trim() !== '' ? value.trim() : null;
}

/** --kubelet-version, refused when it is not a version (it was dropped, and detection asked for it). */
function kubeletVersionOption(value: string | undefined): string | null {
  const given = nonEmpty(value);
  if (given !== null && parseVersion(given) === null) throw new UsageError(`--kubelet-version ${given}: not a version (e.g. v1.31.4)`);
  return given;
}

/** Common options with their environment fallbacks. */
export function commonOptions(values: Record<string, unknown>, env: Env): CommonOptions {
  const flagIp = nonEmpty(values['node-ip'] as string | undefined);
  const envIp = nonEmpty(env.NODE_IP);
  return {
    hostRoot: nonEmpty(values['host-root'] as string | undefined) ?? nonEmpty(env.KUBE_HARDEN_HOST_ROOT) ?? '/',
    policyFile: nonEmpty(values.policy as string | undefined),
    nodeIp: flagIp ?? envIp,
    nodeIpSource: flagIp ? '--node-ip' : envIp ? '$NODE_IP' : null,
    nodeName: nonEmpty(values['node-name'] as string | undefined) ?? nonEmpty(env.NODE_NAME) ?? hostname(),
    kubeletVersion: kubeletVersionOption(values['kubelet-version'] as string | undefined),
    pluginDir: nonEmpty(values['plugin-dir'] as string | undefined) ?? nonEmpty(env.KUBE_HARDEN_PLUGIN_DIR) ?? '/usr/lib/kube-harden/cni',
    nodeLabels: nodeLabelsOption(values['node-labels'] as string | undefined),
  };
}

/** Validates an `--output` value against a command's formats. */
export function outputFormat<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--output must be one of ${allowed.join(', ')}`);
}

function nodeLabelsOption(value: string | undefined): Record<string, string> | null {
  if (value === undefined) return null;
  const labels = parseLabelList(value);
  if (typeof labels === 'string') throw new UsageError(`--node-labels: ${labels} (expected key=value,key2=value2)`);
  return labels;
}
