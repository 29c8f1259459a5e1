import { parsePolicy, type Policy } from '../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../agent/rules/index.js';

/** A HardeningPolicy from the YAML after its header (`rules:`, `exemptions:`...); throws on an invalid one. */
export function policyFrom(yaml = ''): Policy {
  const result = parsePolicy(`apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\n${yaml}`, 'policy.yaml', RULE_VALUE_SPECS);
  if (!result.ok) throw new Error(result.errors.join('; '));
  return result.policy;
}
