/**
 * The kubelet settings the agent judges: each KubeletConfiguration field with its command-line flag and
 * both defaults. The config-file defaults (v1beta1, pkg/kubelet/apis/config/v1beta1/defaults.go) are
 * safe; a kubelet without a config file runs with the legacy flag defaults (applyLegacyDefaults), which
 * are not (KUBERNETES-FACTS.md §4, §12).
 */

export type FieldKind = 'string' | 'bool' | 'int' | 'duration' | 'list';

/** A typed kubelet setting value: durations are milliseconds, lists are string arrays. */
export type FieldValue = string | boolean | number | readonly string[];

export interface KubeletField {
  readonly configPath: readonly string[];
  readonly flag: string;
  readonly kind: FieldKind;
  readonly configDefault: FieldValue;
  readonly legacyDefault: FieldValue;
}

const FOUR_HOURS = 4 * 3600 * 1000;

function field(
  configPath: string,
  flag: string,
  kind: FieldKind,
  configDefault: FieldValue,
  legacyDefault: FieldValue = configDefault,
): KubeletField {
  return { configPath: configPath.split('.'), flag, kind, configDefault, legacyDefault };
}

/** The fields, keyed by their config path. */
export const KUBELET_FIELDS = {
  address: field('address', 'address', 'string', '0.0.0.0'),
  tlsMinVersion: field('tlsMinVersion', 'tls-min-version', 'string', ''),
  tlsCipherSuites: field('tlsCipherSuites', 'tls-cipher-suites', 'list', []),
  podPidsLimit: field('podPidsLimit', 'pod-max-pids', 'int', -1),
  protectKernelDefaults: field('protectKernelDefaults', 'protect-kernel-defaults', 'bool', false),
  // In the config file 0 (and absent) means the 4h default; only the flag set to 0 disables the timeout.
  streamingConnectionIdleTimeout: field('streamingConnectionIdleTimeout', 'streaming-connection-idle-timeout', 'duration', FOUR_HOURS),
  readOnlyPort: field('readOnlyPort', 'read-only-port', 'int', 0, 10255),
  anonymousAuth: field('authentication.anonymous.enabled', 'anonymous-auth', 'bool', false, true),
  authorizationMode: field('authorization.mode', 'authorization-mode', 'string', 'Webhook', 'AlwaysAllow'),
  rotateCertificates: field('rotateCertificates', 'rotate-certificates', 'bool', false),
  featureGates: field('featureGates', 'feature-gates', 'string', ''),
  nodeIp: field('nodeIP', 'node-ip', 'string', ''),
  clientCaFile: field('authentication.x509.clientCAFile', 'client-ca-file', 'string', ''),
  makeIptablesUtilChains: field('makeIPTablesUtilChains', 'make-iptables-util-chains', 'bool', true),
  seccompDefault: field('seccompDefault', 'seccomp-default', 'bool', false),
} as const satisfies Record<string, KubeletField>;

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a Go duration (`4h0m0s`, `5m`, `1.5h`, `0`) to milliseconds; null when invalid. */
export function parseGoDuration(text: string): number | null {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  const sign = trimmed.startsWith('-') ? -1 : 1;
  const body = trimmed.replace(/^[-+]/, '');
  if (body === '') return null;
  for (let match = pattern.exec(body); match; match = pattern.exec(body)) {
    total += Number(match[1]) * DURATION_UNITS[match[2]!]!;
    consumed = pattern.lastIndex;
  }
  return consumed === body.length ? sign * total : null;
}

/** Formats milliseconds the way operators write them (`5m`, `4h`, `90s`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}

/** pflag ParseBool spellings. */
const TRUE_WORDS = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);
const FALSE_WORDS = new Set(['0', 'f', 'F', 'false', 'FALSE', 'False']);

/** Converts a flag's text to a typed value; null when the kubelet would reject it. */
export function parseFlagValue(kind: FieldKind, text: string): FieldValue | null {
  switch (kind) {
    case 'bool':
      return TRUE_WORDS.has(text) ? true : FALSE_WORDS.has(text) ? false : null;
    case 'int':
      return /^-?\d+$/.test(text) ? Number(text) : null;
    case 'duration':
      return parseGoDuration(text);
    case 'list':
      return text === '' ? [] : text.split(',').map((item) => item.trim());
    case 'string':
      return text;
  }
}

/** Converts a config-file value (already YAML-decoded) to a typed value; null when of the wrong type. */
export function parseConfigValue(kind: FieldKind, value: unknown): FieldValue | null {
  switch (kind) {
    case 'bool':
      return typeof value === 'boolean' ? value : null;
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) ? value : null;
    case 'duration': {
      if (typeof value !== 'string') return null;
      const ms = parseGoDuration(value);
      // The config file's zero duration is "use the default", not "disabled".
      return ms === 0 ? FOUR_HOURS : ms;
    }
    case 'list':
      return Array.isArray(value) && value.every((item) => typeof item === 'string') ? (value as string[]) : null;
    case 'string':
      return typeof value === 'string' ? value : null;
  }
}

/** Text of a value for messages and flags. */
export function displayValue(kind: FieldKind, value: FieldValue): string {
  if (kind === 'duration' && typeof value === 'number') return formatDuration(value);
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(',');
  return String(value);
}
