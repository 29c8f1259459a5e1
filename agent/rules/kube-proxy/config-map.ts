import { isMap, parseDocument } from 'yaml';
import { bindHost, cidrContains, coveringCidrs, isIpPort, parseCidr } from '../../core/cidr.js';
import type { Finding } from '../../core/finding.js';
import { ruleEnabled, ruleValue, type Policy } from '../../core/policy.js';
import { atLeast, formatVersion, type Version } from '../../core/version.js';
import { KUBE_PROXY_HEALTHZ, KUBE_PROXY_NODEPORTS } from './ids.js';
import { yamlErrorText } from '../../formats/yaml-read.js';

/** Where kubeadm keeps the configuration every node's kube-proxy reads. */
export const KUBE_PROXY_CONFIGMAP = { namespace: 'kube-system', name: 'kube-proxy', key: 'config.conf', daemonSet: 'kube-proxy' } as const;

export interface KubeProxyConfigInputs {
  /** The ConfigMap's config.conf. */
  readonly text: string;
  /** kube-proxy's version (the DaemonSet's image tag); null when unknown. */
  readonly version: Version | null;
  /** InternalIPs of every Node. */
  readonly nodeIPs: readonly string[];
  readonly policy: Policy;
}

export interface KubeProxyConfigPlan {
  readonly findings: readonly Finding[];
  /** The new config.conf, validated; null when nothing is to be written. */
  readonly after: string | null;
}

const SOURCE = `configmap ${KUBE_PROXY_CONFIGMAP.namespace}/${KUBE_PROXY_CONFIGMAP.name} (${KUBE_PROXY_CONFIGMAP.key})`;

/** kube-proxy accepts the `primary` keyword from 1.31 (1.30 rejects it and exits). */
export function acceptsPrimary(version: Version): boolean {
  return atLeast(version, 1, 31);
}

/**
 * Checks the whole KubeProxyConfiguration the way kube-proxy's validation would for the fields the agent
 * knows: nodePortAddresses (CIDRs, or `primary` alone on >= 1.31; a bare IP is invalid) and the bind
 * addresses, which must stay IP:port in v1alpha1. Every problem, not just the first. Pure.
 */
export function validateKubeProxyConfig(text: string, version: Version): string[] {
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    return doc.errors.map((error) => `not valid YAML${error.linePos?.[0] ? ` (line ${error.linePos[0].line})` : ''}: ${yamlErrorText(error)}`);
  const config = doc.toJS() as Record<string, unknown> | null;
  if (!config || typeof config !== 'object' || Array.isArray(config)) return ['not a mapping'];
  const errors: string[] = [];
  if (config.kind !== undefined && config.kind !== 'KubeProxyConfiguration')
    errors.push(`kind is ${String(config.kind)}, not KubeProxyConfiguration`);
  const addresses = config.nodePortAddresses;
  if (addresses !== null && addresses !== undefined) {
    if (!Array.isArray(addresses)) errors.push('nodePortAddresses must be a list');
    else if (addresses.includes('primary')) {
      if (addresses.length > 1) errors.push("nodePortAddresses: can't use both 'primary' and CIDRs");
      if (!acceptsPrimary(version)) errors.push(`nodePortAddresses: 'primary' needs kube-proxy >= 1.31 (this is ${formatVersion(version)})`);
    } else
      for (const entry of addresses)
        if (typeof entry !== 'string' || !parseCidr(entry)) errors.push(`nodePortAddresses: ${String(entry)} must be a valid CIDR`);
  }
  for (const field of ['healthzBindAddress', 'metricsBindAddress']) {
    const value = config[field];
    if (value !== undefined && value !== null && value !== '' && !(typeof value === 'string' && isIpPort(value)))
      errors.push(`${field}: ${String(value)} must be IP:port`);
  }
  return errors;
}

function finding(
  id: string,
  title: string,
  cis: readonly string[],
  fields: Pick<Finding, 'status' | 'expected' | 'actual' | 'remediable' | 'message'>,
): Finding {
  return { id, title, cis, source: SOURCE, ...fields };
}

/**
 * Judges and fixes the shared kube-proxy configuration. nodePortAddresses: the policy's CIDRs, else
 * `primary` on >= 1.31, else the smallest CIDRs covering every node's InternalIP (a node joining before
 * the next update is covered when it shares the range; give the node subnet in the policy to be sure).
 * A value that already restricts NodePorts to ranges covering every node passes. healthzBindAddress is
 * one value for every node: only an explicit policy value is written. Pure.
 */
export function planKubeProxyConfigMap(inputs: KubeProxyConfigInputs): KubeProxyConfigPlan {
  const { policy, version } = inputs;
  const doc = parseDocument(inputs.text);
  const config = (doc.errors.length === 0 ? doc.toJS() : null) as Record<string, unknown> | null;
  const findings: Finding[] = [];
  let changed = false;
  const unreadable = doc.errors.length > 0 || !isMap(doc.contents);

  if (ruleEnabled(policy, KUBE_PROXY_NODEPORTS)) {
    const title = 'kube-proxy serves NodePorts on node addresses only';
    const current = config?.nodePortAddresses;
    const actual = Array.isArray(current) && current.length > 0 ? current.join(',') : '(all local addresses)';
    const given = ruleValue<string[] | null>(policy, KUBE_PROXY_NODEPORTS);
    const desired = given ?? (version && acceptsPrimary(version) ? ['primary'] : coveringCidrs(inputs.nodeIPs));
    const expected = desired.join(',') || 'CIDRs covering every node';
    const covers =
      Array.isArray(current) &&
      current.length > 0 &&
      (current.includes('primary') || inputs.nodeIPs.every((ip) => current.some((cidr) => typeof cidr === 'string' && cidrContains(cidr, ip))));
    const verdict = (status: 'pass' | 'unknown', message: string, shown = actual) =>
      findings.push(finding(KUBE_PROXY_NODEPORTS, title, [], { status, expected, actual: shown, remediable: false, message }));
    if (unreadable) verdict('unknown', `${SOURCE} is not a YAML mapping`, 'unknown');
    else if (covers && (given === null || sameSet(current as string[], given))) verdict('pass', '');
    else if (!version) verdict('unknown', 'kube-proxy version unknown (no image tag on the kube-proxy DaemonSet): nothing is changed without it');
    else if (desired.length === 0) verdict('unknown', 'no node reports an InternalIP: cannot compute the ranges');
    else {
      findings.push(finding(KUBE_PROXY_NODEPORTS, title, [], { status: 'fail', expected, actual, remediable: true, message: '' }));
      doc.set('nodePortAddresses', doc.createNode(desired, { flow: true }));
      changed = true;
    }
  }

  if (ruleEnabled(policy, KUBE_PROXY_HEALTHZ)) {
    const title = 'kube-proxy health endpoint bound to a chosen address';
    const current = typeof config?.healthzBindAddress === 'string' && config.healthzBindAddress !== '' ? config.healthzBindAddress : '0.0.0.0:10256';
    const given = ruleValue<string | null>(policy, KUBE_PROXY_HEALTHZ);
    const wildcard = ['0.0.0.0', '::', ''].includes(bindHost(current));
    if (unreadable)
      findings.push(
        finding(KUBE_PROXY_HEALTHZ, title, [], {
          status: 'unknown',
          expected: given ?? 'a node address',
          actual: 'unknown',
          remediable: false,
          message: `${SOURCE} is not a YAML mapping`,
        }),
      );
    else if (given !== null && current !== given) {
      findings.push(finding(KUBE_PROXY_HEALTHZ, title, [], { status: 'fail', expected: given, actual: current, remediable: true, message: '' }));
      doc.set('healthzBindAddress', given);
      changed = true;
    } else if (given === null && wildcard)
      findings.push(
        finding(KUBE_PROXY_HEALTHZ, title, [], {
          status: 'fail',
          expected: "this node's IP:10256",
          actual: current,
          remediable: false,
          message:
            "not remediated: one ConfigMap feeds every node's kube-proxy, so it cannot hold one node's IP, and a CIDR is fatal there (v1alpha1 wants IP:port). Set kube-harden's policy value kube-proxy.healthz-bind-address (e.g. 127.0.0.1:10256, not on clouds whose load balancers probe :10256) to choose one",
        }),
      );
    else
      findings.push(
        finding(KUBE_PROXY_HEALTHZ, title, [], {
          status: 'pass',
          expected: given ?? 'not all interfaces',
          actual: current,
          remediable: false,
          message: '',
        }),
      );
  }

  if (!changed || !version) return { findings, after: null };
  const after = doc.toString();
  const errors = validateKubeProxyConfig(after, version);
  if (errors.length === 0) return { findings, after };
  // Never write what kube-proxy would refuse: on a shared ConfigMap that crash-loops every node.
  const why = `not remediated: the resulting configuration would not be valid (${errors.join('; ')})`;
  return {
    findings: findings.map((entry) =>
      entry.status === 'fail' && entry.remediable ? { ...entry, status: 'unknown', remediable: false, message: why } : entry,
    ),
    after: null,
  };
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((entry) => b.includes(entry));
}
