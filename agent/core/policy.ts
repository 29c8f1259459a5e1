import { parseDocument } from 'yaml';
import { plainValue, yamlErrorText } from '../formats/yaml-read.js';
import { parseOverrides, type PolicyOverride } from './node-pool.js';
import { DEFAULT_DISRUPTION_POLICY, DISRUPTION_POLICY_KEYS, parseDisruptionPolicy, type DisruptionPolicy } from './disruption-policy.js';

/** `audit` only reports; `enforce` lets `apply` and the daemon change the node. */
export type PolicyMode = 'audit' | 'enforce';

/** One rule's policy entry after defaults were applied. */
export interface RuleSetting {
  readonly enabled: boolean;
  /** The rule's value (validated by its spec), or undefined for rules without a value. */
  readonly value: unknown;
}

/**
 * A time-boxed exception for a workload rule (DESIGN §6): pods in one of `namespaces` (any namespace
 * when empty) whose labels include every pair of `labels`; for a namespace rule, the Namespace by its
 * name and its own labels. At least one of the two is required.
 */
export interface Exemption {
  readonly rule: string;
  readonly namespaces: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly reason: string;
  /** YYYY-MM-DD: the exemption ends at the start of that day (UTC). */
  readonly expires: string | null;
}

/** The hardening policy in force (DESIGN §6). */
export interface Policy {
  readonly mode: PolicyMode;
  readonly rules: ReadonlyMap<string, RuleSetting>;
  readonly exemptions: readonly Exemption[];
  /**
   * Fleet-wide disruption limit: at most `maxConcurrent` nodes restart a service at once (Lease slots
   * that expire `leaseDurationSeconds` after their holder stops renewing them), and only when the
   * maintenance windows, the pause switch and the blockers allow it (DisruptionPolicy).
   */
  readonly restarts: {
    readonly maxConcurrent: number;
    readonly healthTimeoutSeconds: number;
    readonly leaseDurationSeconds: number;
  } & DisruptionPolicy;
  readonly drift: { readonly enabled: boolean; readonly resyncSeconds: number };
  /** How many apply backups to keep under /var/lib/kube-harden/backups (they hold secrets). */
  readonly backups: { readonly retain: number };
  /**
   * Per node pool settings, in order (later wins), folded in by `policyForNode` for the node's labels.
   * A policy resolved for a node has none left.
   */
  readonly overrides: readonly PolicyOverride[];
}

/** How a rule's `value` is defaulted and checked. Rules without a value have no `value` spec. */
export interface RuleValueSpec {
  readonly id: string;
  readonly value?: {
    readonly default: unknown;
    /** Returns an error text, or null when the value is acceptable. */
    readonly validate: (value: unknown) => string | null;
    readonly describe: string;
  };
}

export const POLICY_API_VERSION = 'kube-harden.io/v1alpha1';
export const POLICY_KIND = 'HardeningPolicy';

/** The built-in policy: enforce, every rule on with its default value. */
export function defaultPolicy(specs: readonly RuleValueSpec[]): Policy {
  const rules = new Map<string, RuleSetting>();
  for (const spec of specs) rules.set(spec.id, { enabled: true, value: spec.value?.default });
  return {
    mode: 'enforce',
    rules,
    exemptions: [],
    restarts: { maxConcurrent: 1, healthTimeoutSeconds: 120, leaseDurationSeconds: 60, ...DEFAULT_DISRUPTION_POLICY },
    drift: { enabled: true, resyncSeconds: 300 },
    backups: { retain: 10 },
    overrides: [],
  };
}

/** Result of parsing a policy file: the policy, or every problem found (never just the first). */
export type PolicyParseResult = { readonly ok: true; readonly policy: Policy } | { readonly ok: false; readonly errors: readonly string[] };

const RESTARTS_KEYS = ['maxConcurrent', 'healthTimeoutSeconds', 'leaseDurationSeconds', ...DISRUPTION_POLICY_KEYS];
const DRIFT_KEYS = ['enabled', 'resyncSeconds'];
/** The resync is a Node.js interval, which cannot wait longer than 2^31-1 ms (a longer one fires every 1 ms). */
const MAX_RESYNC_SECONDS = 24 * 86_400;
const TOP_LEVEL_KEYS = new Set(['apiVersion', 'kind', 'metadata', 'mode', 'rules', 'exemptions', 'restarts', 'drift', 'backups', 'overrides']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isRecord(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInteger(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

/**
 * Parses and validates a HardeningPolicy. `file` is used in messages only. Every problem is collected so
 * an operator fixes the policy in one round.
 */
export function parsePolicy(text: string, file: string, specs: readonly RuleValueSpec[]): PolicyParseResult {
  const errors: string[] = [];
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  for (const error of doc.errors) {
    const line = error.linePos?.[0]?.line;
    errors.push(`${file}${line ? `:${line}` : ''}: ${yamlErrorText(error)}`);
  }
  if (errors.length > 0) return { ok: false, errors };
  let raw: unknown;
  try {
    raw = plainValue(doc);
  } catch (error) {
    // An alias that names no anchor, or an alias bomb: the user's file, said in one line.
    return { ok: false, errors: [`${file}: ${error instanceof Error ? error.message : String(error)}`] };
  }
  if (!isRecord(raw)) return { ok: false, errors: [`${file}: a policy must be a YAML mapping`] };

  const base = defaultPolicy(specs);
  for (const key of Object.keys(raw)) if (!TOP_LEVEL_KEYS.has(key)) errors.push(`${file}: unknown field "${key}"`);
  if (raw.apiVersion !== POLICY_API_VERSION) errors.push(`${file}: apiVersion must be "${POLICY_API_VERSION}"`);
  if (raw.kind !== POLICY_KIND) errors.push(`${file}: kind must be "${POLICY_KIND}"`);

  let mode: PolicyMode = base.mode;
  if (raw.mode !== undefined) {
    if (raw.mode === 'audit' || raw.mode === 'enforce') mode = raw.mode;
    else errors.push(`${file}: mode must be "audit" or "enforce"`);
  }

  const rules = new Map(base.rules);
  const specById = new Map(specs.map((spec) => [spec.id, spec]));
  if (raw.rules !== undefined && raw.rules !== null) {
    if (!isRecord(raw.rules)) errors.push(`${file}: rules must be a mapping of rule ID to settings`);
    else
      for (const [id, entry] of Object.entries(raw.rules)) {
        const spec = specById.get(id);
        if (!spec) {
          errors.push(`${file}: rules.${id}: unknown rule ID`);
          continue;
        }
        const parsed = parseRuleEntry(entry, spec, `${file}: rules.${id}`, errors);
        if (parsed) rules.set(id, parsed);
      }
  }

  const exemptions = parseExemptions(raw.exemptions, specById, file, errors);
  let restarts = { ...base.restarts };
  if (raw.restarts !== undefined) {
    if (!isRecord(raw.restarts)) errors.push(`${file}: restarts must be a mapping`);
    else {
      for (const key of Object.keys(raw.restarts))
        if (!RESTARTS_KEYS.includes(key)) errors.push(`${file}: restarts: unknown field "${key}" (expected ${RESTARTS_KEYS.join(', ')})`);
      restarts = { ...restarts, ...parseDisruptionPolicy(raw.restarts, file, errors) };
      if (raw.restarts.maxConcurrent !== undefined) {
        if (positiveInteger(raw.restarts.maxConcurrent)) restarts.maxConcurrent = raw.restarts.maxConcurrent as number;
        else errors.push(`${file}: restarts.maxConcurrent must be a positive integer`);
      }
      if (raw.restarts.healthTimeoutSeconds !== undefined) {
        if (positiveInteger(raw.restarts.healthTimeoutSeconds)) restarts.healthTimeoutSeconds = raw.restarts.healthTimeoutSeconds as number;
        else errors.push(`${file}: restarts.healthTimeoutSeconds must be a positive integer`);
      }
      if (raw.restarts.leaseDurationSeconds !== undefined) {
        if (positiveInteger(raw.restarts.leaseDurationSeconds)) restarts.leaseDurationSeconds = raw.restarts.leaseDurationSeconds as number;
        else errors.push(`${file}: restarts.leaseDurationSeconds must be a positive integer`);
      }
    }
  }
  const drift = { ...base.drift };
  if (raw.drift !== undefined) {
    if (!isRecord(raw.drift)) errors.push(`${file}: drift must be a mapping`);
    else {
      if (raw.drift.enabled !== undefined) {
        if (typeof raw.drift.enabled === 'boolean') drift.enabled = raw.drift.enabled;
        else errors.push(`${file}: drift.enabled must be true or false`);
      }
      for (const key of Object.keys(raw.drift))
        if (!DRIFT_KEYS.includes(key)) errors.push(`${file}: drift: unknown field "${key}" (expected ${DRIFT_KEYS.join(', ')})`);
      if (raw.drift.resyncSeconds !== undefined) {
        const seconds = raw.drift.resyncSeconds;
        if (positiveInteger(seconds) && (seconds as number) <= MAX_RESYNC_SECONDS) drift.resyncSeconds = seconds as number;
        else errors.push(`${file}: drift.resyncSeconds must be a positive integer of at most ${MAX_RESYNC_SECONDS} (24 days)`);
      }
    }
  }
  const backups = { ...base.backups };
  if (raw.backups !== undefined) {
    if (!isRecord(raw.backups)) errors.push(`${file}: backups must be a mapping`);
    else {
      for (const key of Object.keys(raw.backups)) if (key !== 'retain') errors.push(`${file}: backups: unknown field "${key}" (expected retain)`);
      if (raw.backups.retain !== undefined) {
        if (positiveInteger(raw.backups.retain)) backups.retain = raw.backups.retain as number;
        else errors.push(`${file}: backups.retain must be a positive integer`);
      }
    }
  }

  const overrides = parseOverrides(raw.overrides, specById, file, errors);

  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, policy: { mode, rules, exemptions, restarts, drift, backups, overrides } };
}

function parseRuleEntry(entry: unknown, spec: RuleValueSpec, where: string, errors: string[]): RuleSetting | null {
  if (!isRecord(entry)) {
    errors.push(`${where}: must be a mapping such as { enabled: false } or { value: ... }`);
    return null;
  }
  let ok = true;
  for (const key of Object.keys(entry))
    if (key !== 'enabled' && key !== 'value') {
      errors.push(`${where}: unknown field "${key}" (expected enabled, value)`);
      ok = false;
    }
  let enabled = true;
  if (entry.enabled !== undefined) {
    if (typeof entry.enabled === 'boolean') enabled = entry.enabled;
    else {
      errors.push(`${where}.enabled: must be true or false`);
      ok = false;
    }
  }
  let value = spec.value?.default;
  if (entry.value !== undefined) {
    if (!spec.value) {
      errors.push(`${where}.value: this rule takes no value`);
      ok = false;
    } else {
      const problem = spec.value.validate(entry.value);
      if (problem) {
        errors.push(`${where}.value: ${problem} (expected ${spec.value.describe})`);
        ok = false;
      } else value = entry.value;
    }
  }
  return ok ? { enabled, value } : null;
}

function parseExemptions(raw: unknown, specs: ReadonlyMap<string, RuleValueSpec>, file: string, errors: string[]): Exemption[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.push(`${file}: exemptions must be a list`);
    return [];
  }
  const exemptions: Exemption[] = [];
  raw.forEach((item: unknown, index) => {
    const where = `${file}: exemptions[${index}]`;
    if (!isRecord(item)) {
      errors.push(`${where}: must be a mapping`);
      return;
    }
    const rule = item.rule;
    if (typeof rule !== 'string' || !specs.has(rule)) errors.push(`${where}.rule: must name a known rule ID`);
    else if (!rule.startsWith('workload.'))
      errors.push(`${where}.rule: exemptions apply to workload rules only (turn a node rule off with enabled: false)`);
    if (typeof item.reason !== 'string' || item.reason.trim() === '') errors.push(`${where}.reason: required`);
    const namespaces = item.namespaces ?? [];
    if (!Array.isArray(namespaces) || !namespaces.every((ns) => typeof ns === 'string'))
      errors.push(`${where}.namespaces: must be a list of namespace names`);
    // YAML turns an unquoted 2027-01-01 into a string in the core schema; accept only ISO dates.
    const expires = item.expires === undefined || item.expires === null ? null : String(item.expires);
    if (expires !== null && !/^\d{4}-\d{2}-\d{2}$/.test(expires)) errors.push(`${where}.expires: must be a date YYYY-MM-DD`);
    const labels = item.labels ?? {};
    const labelsOk = isRecord(labels) && Object.values(labels).every((value) => typeof value === 'string');
    if (!labelsOk) errors.push(`${where}.labels: must be a mapping of label names to values`);
    if (Array.isArray(namespaces) && namespaces.length === 0 && labelsOk && Object.keys(labels).length === 0)
      errors.push(`${where}: needs namespaces or labels (to exempt every pod, set the rule's enabled: false)`);
    if (typeof rule === 'string' && typeof item.reason === 'string' && Array.isArray(namespaces) && labelsOk)
      exemptions.push({ rule, namespaces: namespaces as string[], labels: labels as Record<string, string>, reason: item.reason, expires });
  });
  return exemptions;
}

/** A rule value that must be a positive integer (PID limits, GC thresholds). */
export function positiveIntegerValue(defaultValue: number): NonNullable<RuleValueSpec['value']> {
  return {
    default: defaultValue,
    describe: 'a positive integer',
    validate: (value) => (positiveInteger(value) ? null : 'must be a positive integer'),
  };
}

/** The policy value of a rule (its default when the policy does not set one). */
export function ruleValue<T>(policy: Policy, id: string): T {
  return policy.rules.get(id)?.value as T;
}

export function ruleEnabled(policy: Policy, id: string): boolean {
  return policy.rules.get(id)?.enabled ?? true;
}
