import type { Policy, PolicyMode, RuleSetting, RuleValueSpec } from './policy.js';

/** One `matchExpressions` entry of a node label selector (the semantics of metav1.LabelSelector). */
export interface LabelRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /** Non-empty for In and NotIn, empty for Exists and DoesNotExist. */
  readonly values: readonly string[];
}

/** Which nodes an override is for: every `matchLabels` pair and every expression must hold (AND). */
export interface NodeSelector {
  readonly matchLabels: Readonly<Record<string, string>>;
  readonly matchExpressions: readonly LabelRequirement[];
}

/** What an override changes in a rule: only the fields it names. */
export interface RuleOverride {
  readonly enabled?: boolean;
  readonly value?: unknown;
}

/**
 * Policy for a node pool: on nodes its selector matches, replaces rule values, turns rules on or off
 * and/or sets the mode. Overrides apply in policy order; a later one wins on the same field.
 * Plain data (no Map) so a policy stays comparable as JSON.
 */
export interface PolicyOverride {
  readonly name: string;
  readonly nodeSelector: NodeSelector;
  readonly mode?: PolicyMode;
  readonly rules: Readonly<Record<string, RuleOverride>>;
}

const OPERATORS = new Set(['In', 'NotIn', 'Exists', 'DoesNotExist']);
const OVERRIDE_KEYS = new Set(['name', 'nodeSelector', 'mode', 'rules']);

/** Whether a node with `labels` is selected (Kubernetes label selector semantics). Pure. */
export function selectorMatches(selector: NodeSelector, labels: Readonly<Record<string, string>>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels)) if (labels[key] !== value) return false;
  for (const requirement of selector.matchExpressions) {
    const present = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key];
    switch (requirement.operator) {
      case 'In':
        if (!present || !requirement.values.includes(value!)) return false;
        break;
      case 'NotIn':
        // As in Kubernetes: a node without the label is not "in" the set, so NotIn matches it.
        if (present && requirement.values.includes(value!)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

/**
 * The policy for one node: the base policy with every override whose selector matches `labels`
 * folded in, in order (later wins). The result has no overrides left (folding it again changes
 * nothing); `applied` names the overrides used, in order. Pure.
 */
export function policyForNode(policy: Policy, labels: Readonly<Record<string, string>>): { policy: Policy; applied: string[] } {
  const applied: string[] = [];
  let mode = policy.mode;
  const rules = new Map<string, RuleSetting>(policy.rules);
  for (const override of policy.overrides) {
    if (!selectorMatches(override.nodeSelector, labels)) continue;
    applied.push(override.name);
    if (override.mode) mode = override.mode;
    for (const [id, change] of Object.entries(override.rules)) {
      const current = rules.get(id);
      if (!current) continue; // parsePolicy refuses unknown rule IDs; a hand-built policy is not trusted further
      rules.set(id, {
        enabled: change.enabled ?? current.enabled,
        value: change.value !== undefined ? change.value : current.value,
      });
    }
  }
  return { policy: { ...policy, mode, rules, overrides: [] }, applied };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isRecord(value: unknown): value is Record<string, Json> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/** Parses `overrides:`; every problem goes to `errors` (the whole policy is then refused). */
export function parseOverrides(raw: unknown, specs: ReadonlyMap<string, RuleValueSpec>, file: string, errors: string[]): PolicyOverride[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.push(`${file}: overrides must be a list`);
    return [];
  }
  const overrides: PolicyOverride[] = [];
  const names = new Set<string>();
  raw.forEach((item: unknown, index) => {
    const where = `${file}: overrides[${index}]`;
    if (!isRecord(item)) {
      errors.push(`${where}: must be a mapping with name, nodeSelector and mode and/or rules`);
      return;
    }
    const before = errors.length;
    for (const key of Object.keys(item))
      if (!OVERRIDE_KEYS.has(key)) errors.push(`${where}: unknown field "${key}" (expected name, nodeSelector, mode, rules)`);
    const name = item.name;
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name))
      errors.push(`${where}.name: required, lower-case letters, digits, "-" and "." (it is printed by audit)`);
    else if (names.has(name)) errors.push(`${where}.name: "${name}" is used by an earlier override`);
    else names.add(name);
    const nodeSelector = parseSelector(item.nodeSelector, `${where}.nodeSelector`, errors);
    let mode: PolicyMode | undefined;
    if (item.mode !== undefined) {
      if (item.mode === 'audit' || item.mode === 'enforce') mode = item.mode;
      else errors.push(`${where}.mode: must be "audit" or "enforce"`);
    }
    const rules = parseRuleOverrides(item.rules, specs, `${where}.rules`, errors);
    if (item.mode === undefined && rules !== null && Object.keys(rules).length === 0)
      errors.push(`${where}: changes nothing (give mode and/or rules)`);
    if (errors.length === before && nodeSelector && rules && typeof name === 'string')
      overrides.push({ name, nodeSelector, ...(mode ? { mode } : {}), rules });
  });
  return overrides;
}

function parseSelector(raw: unknown, where: string, errors: string[]): NodeSelector | null {
  if (!isRecord(raw)) {
    errors.push(`${where}: required, a mapping with matchLabels and/or matchExpressions`);
    return null;
  }
  const before = errors.length;
  for (const key of Object.keys(raw))
    if (key !== 'matchLabels' && key !== 'matchExpressions') errors.push(`${where}: unknown field "${key}" (expected matchLabels, matchExpressions)`);
  const matchLabels: Record<string, string> = {};
  if (raw.matchLabels !== undefined) {
    if (!isRecord(raw.matchLabels)) errors.push(`${where}.matchLabels: must be a mapping of label names to values`);
    else
      for (const [key, value] of Object.entries(raw.matchLabels)) {
        if (typeof value === 'string') matchLabels[key] = value;
        // YAML reads `pool: 1` or `gpu: true` as a number or boolean; a label value is always a string.
        else errors.push(`${where}.matchLabels.${key}: must be a string (quote it: "${String(value)}")`);
      }
  }
  const matchExpressions: LabelRequirement[] = [];
  if (raw.matchExpressions !== undefined) {
    if (!Array.isArray(raw.matchExpressions)) errors.push(`${where}.matchExpressions: must be a list`);
    else
      raw.matchExpressions.forEach((entry, index) => {
        const at = `${where}.matchExpressions[${index}]`;
        if (!isRecord(entry) || typeof entry.key !== 'string' || entry.key === '') {
          errors.push(`${at}: needs a key, an operator and (for In and NotIn) values`);
          return;
        }
        for (const field of Object.keys(entry))
          if (field !== 'key' && field !== 'operator' && field !== 'values') errors.push(`${at}: unknown field "${field}"`);
        const operator = entry.operator;
        if (typeof operator !== 'string' || !OPERATORS.has(operator)) {
          errors.push(`${at}.operator: must be In, NotIn, Exists or DoesNotExist`);
          return;
        }
        const values = entry.values ?? [];
        if (!isStringList(values)) errors.push(`${at}.values: must be a list of strings`);
        else if ((operator === 'In' || operator === 'NotIn') && values.length === 0)
          errors.push(`${at}.values: ${operator} needs at least one value`);
        else if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0)
          errors.push(`${at}.values: ${operator} takes no values`);
        else matchExpressions.push({ key: entry.key, operator: operator as LabelRequirement['operator'], values });
      });
  }
  // An empty selector selects every node: that is what the top-level rules are for.
  if (errors.length === before && Object.keys(matchLabels).length === 0 && matchExpressions.length === 0)
    errors.push(`${where}: needs matchLabels or matchExpressions (settings for every node belong in rules)`);
  return errors.length === before ? { matchLabels, matchExpressions } : null;
}

function parseRuleOverrides(
  raw: unknown,
  specs: ReadonlyMap<string, RuleValueSpec>,
  where: string,
  errors: string[],
): Record<string, RuleOverride> | null {
  if (raw === undefined || raw === null) return {};
  if (!isRecord(raw)) {
    errors.push(`${where}: must be a mapping of rule ID to { enabled, value }`);
    return null;
  }
  const before = errors.length;
  const rules: Record<string, RuleOverride> = {};
  for (const [id, entry] of Object.entries(raw)) {
    const spec = specs.get(id);
    if (!spec) {
      errors.push(`${where}.${id}: unknown rule ID`);
      continue;
    }
    if (!isRecord(entry)) {
      errors.push(`${where}.${id}: must be a mapping such as { enabled: false } or { value: ... }`);
      continue;
    }
    for (const key of Object.keys(entry))
      if (key !== 'enabled' && key !== 'value') errors.push(`${where}.${id}: unknown field "${key}" (expected enabled, value)`);
    const change: { enabled?: boolean; value?: unknown } = {};
    if (entry.enabled !== undefined) {
      if (typeof entry.enabled === 'boolean') change.enabled = entry.enabled;
      else errors.push(`${where}.${id}.enabled: must be true or false`);
    }
    if (entry.value !== undefined) {
      if (!spec.value) errors.push(`${where}.${id}.value: this rule takes no value`);
      else {
        const problem = spec.value.validate(entry.value);
        if (problem) errors.push(`${where}.${id}.value: ${problem} (expected ${spec.value.describe})`);
        else change.value = entry.value;
      }
    }
    rules[id] = change;
  }
  return errors.length === before ? rules : null;
}

/** Parses `k=v,k2=v2` (the `--node-labels` option); returns an error text for a malformed pair. */
export function parseLabelList(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((part) => part.trim())) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    if (at <= 0) return `"${pair}" is not key=value`;
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}

/**
 * `policyForNode` when the node's labels may be unknown: a policy with overrides and no labels is
 * refused (enforcing the base values on a node its pool raises would be a wrong change). Pure.
 */
export function resolveForNode(
  policy: Policy,
  labels: Readonly<Record<string, string>> | null,
): { ok: true; policy: Policy; applied: string[] } | { ok: false; error: string } {
  if (labels === null) {
    if (policy.overrides.length === 0) return { ok: true, policy, applied: [] };
    const names = policy.overrides.map((override) => override.name).join(', ');
    return { ok: false, error: `the policy has node-pool overrides (${names}) and this node's labels are unknown` };
  }
  return { ok: true, ...policyForNode(policy, labels) };
}
