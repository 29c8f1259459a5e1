/**
 * Kubernetes label selectors in their string form (`kubectl -l`, kured's `--blocking-pod-selector`):
 * comma-separated requirements `key`, `!key`, `key=value`, `key==value`, `key!=value`,
 * `key in (a,b)`, `key notin (a,b)`. Pure: parsing and matching only.
 */

/** One requirement of a selector; every requirement must hold for a match. */
export type LabelRequirement =
  | { readonly key: string; readonly operator: 'exists' | 'not-exists' }
  | { readonly key: string; readonly operator: 'in' | 'notin'; readonly values: readonly string[] };

/** A parsed selector, with its text for messages. */
export interface LabelSelector {
  readonly text: string;
  readonly requirements: readonly LabelRequirement[];
}

// A qualified name: an optional DNS subdomain prefix and "/", then a name of up to 63 characters.
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

function validKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && PREFIX.test(prefix) && NAME.test(key.slice(slash + 1));
}

/** Splits on commas outside parentheses. */
function splitRequirements(text: string): string[] | null {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of text) {
    if (char === '(') depth += 1;
    if (char === ')') depth -= 1;
    if (depth < 0 || depth > 1) return null;
    if (char === ',' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else current += char;
  }
  if (depth !== 0) return null;
  parts.push(current.trim());
  return parts;
}

function parseRequirement(part: string): LabelRequirement | string {
  const set = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
  if (set) {
    const values = set[3]!.split(',').map((value) => value.trim());
    if (!validKey(set[1]!)) return `invalid label key "${set[1]}"`;
    const bad = values.find((value) => !VALUE.test(value));
    if (bad !== undefined) return `invalid label value "${bad}"`;
    return { key: set[1]!, operator: set[2] as 'in' | 'notin', values };
  }
  const comparison = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
  if (comparison) {
    if (!validKey(comparison[1]!)) return `invalid label key "${comparison[1]}"`;
    if (!VALUE.test(comparison[3]!)) return `invalid label value "${comparison[3]}"`;
    return { key: comparison[1]!, operator: comparison[2] === '!=' ? 'notin' : 'in', values: [comparison[3]!] };
  }
  const negated = part.startsWith('!');
  const key = negated ? part.slice(1).trim() : part;
  if (!validKey(key)) return `cannot read "${part}" (expected key, !key, key=value, key!=value, key in (a,b), key notin (a,b))`;
  return { key, operator: negated ? 'not-exists' : 'exists' };
}

/** Parses a selector; an error text when it is not valid (an empty selector is refused: it would match everything). */
export function parseLabelSelector(text: string): LabelSelector | string {
  if (text.trim() === '') return 'an empty selector would match every pod';
  const parts = splitRequirements(text);
  if (!parts) return 'unbalanced parentheses';
  const requirements: LabelRequirement[] = [];
  for (const part of parts) {
    if (part === '') return 'empty requirement between commas';
    const requirement = parseRequirement(part);
    if (typeof requirement === 'string') return requirement;
    requirements.push(requirement);
  }
  return { text: text.trim(), requirements };
}

/** Kubernetes semantics: `!=` and `notin` also match objects without the label. */
export function matchesLabels(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  return selector.requirements.every((requirement) => {
    const value = Object.hasOwn(labels, requirement.key) ? labels[requirement.key] : undefined;
    switch (requirement.operator) {
      case 'exists':
        return value !== undefined;
      case 'not-exists':
        return value === undefined;
      case 'in':
        return value !== undefined && requirement.values.includes(value);
      case 'notin':
        return value === undefined || !requirement.values.includes(value);
    }
  });
}
