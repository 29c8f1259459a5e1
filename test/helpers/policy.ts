import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parsePolicy, type Policy } from '../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../agent/rules/index.js';
import { tempDir } from './host.js';

/** A HardeningPolicy from the YAML after its header (`rules:`, `exemptions:`...); throws on an invalid one. */
export function policyFrom(yaml = ''): Policy {
  const result = parsePolicy(`apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\n${yaml}`, 'policy.yaml', RULE_VALUE_SPECS);
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.policy;
}

/** Writes a HardeningPolicy file (header, then `lines`) in a temp dir of its own; returns its path. */
export function writePolicyFile(lines: readonly string[]): string {
  const file = path.join(tempDir('kh-policy-'), 'policy.yaml');
  writeFileSync(file, ['apiVersion: kube-harden.io/v1alpha1', 'kind: HardeningPolicy', ...lines, ''].join('\n'));
  return file;
}
