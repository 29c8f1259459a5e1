import { positiveIntegerValue, ruleValue } from '../../core/policy.js';
import { isIP } from 'node:net';
import type { NodeContext } from '../context.js';
import { KUBELET_FIELDS, parseGoDuration, type FieldValue } from './fields.js';
import { featureGateChange } from './feature-gates.js';
import { settingRule, type Desired, type KubeletSettingRule } from './setting-rule.js';
import { DEFAULT_CIPHER_SUITES, POLICY_TLS_VERSIONS, STRONG_CIPHER_SUITES, tlsVersionRank } from './tls.js';

const set = (value: FieldValue, text = String(value)): Desired => ({ kind: 'set', value, text });
const equals = (actual: FieldValue, desired: Desired): boolean => desired.kind === 'set' && actual === desired.value;

const TLS_MIN = 'kubelet.tls-min-version';

/** The kubelet's serving address is the node IP, not every interface. */
export const kubeletAddress = settingRule({
  id: 'kubelet.address',
  title: 'Kubelet listens on the node IP only',
  cis: [],
  field: KUBELET_FIELDS.address,
  desired: (ctx) => {
    const ip = ctx.nodeIp.value;
    if (!ip) return { kind: 'unknown', reason: 'node IP unknown: pass --node-ip or set NODE_IP (the kubelet has no --node-ip flag)' };
    // The kubelet binds one address; a dual-stack list cannot be written here, and loopback would cut the
    // apiserver off from logs/exec (KUBERNETES-FACTS.md §4).
    if (ip.includes(',')) return { kind: 'unknown', reason: `node IP ${ip} is dual-stack; choose the address with --node-ip` };
    if (isIP(ip) === 0) return { kind: 'unknown', reason: `node IP "${ip}" is not an IP address` };
    if (ip.startsWith('127.') || ip === '::1')
      return { kind: 'unknown', reason: `node IP ${ip} is loopback; the apiserver could no longer reach the kubelet` };
    // The unspecified address is what the rule exists to replace: as the target it would pass every node.
    if (ip === '0.0.0.0' || /^[0:]+$/.test(ip))
      return { kind: 'unknown', reason: `node IP ${ip} is the unspecified address (every interface), not an address of this node` };
    return set(ip);
  },
  judge: equals,
});

export const kubeletTlsMinVersion = settingRule({
  id: TLS_MIN,
  title: 'Kubelet requires a modern TLS version',
  cis: [],
  field: KUBELET_FIELDS.tlsMinVersion,
  value: {
    default: 'VersionTLS12',
    describe: POLICY_TLS_VERSIONS.join(' or '),
    validate: (value) => (typeof value === 'string' && POLICY_TLS_VERSIONS.includes(value) ? null : 'not a TLS version kube-harden sets'),
  },
  desired: (ctx) => set(ruleValue<string>(ctx.policy, TLS_MIN)),
  judge: (actual, desired) => {
    const rank = tlsVersionRank(String(actual));
    return desired.kind === 'set' && rank !== null && rank >= (tlsVersionRank(String(desired.value)) ?? 99);
  },
});

const CIPHERS = 'kubelet.tls-cipher-suites';

export const kubeletTlsCipherSuites = settingRule({
  id: CIPHERS,
  title: 'Kubelet offers only strong TLS cipher suites',
  cis: ['4.2.12'],
  field: KUBELET_FIELDS.tlsCipherSuites,
  value: {
    default: DEFAULT_CIPHER_SUITES,
    describe: `a non-empty list of ${[...STRONG_CIPHER_SUITES].join(', ')}`,
    validate: (value) =>
      Array.isArray(value) && value.length > 0 && value.every((suite) => typeof suite === 'string' && STRONG_CIPHER_SUITES.has(suite))
        ? null
        : 'must be a list of strong ECDHE AEAD suite names',
  },
  desired: (ctx) => {
    // TLS 1.3 suites are not configurable: with a 1.3 minimum the list is dropped (KUBERNETES-FACTS.md §1).
    if (ruleValue<string>(ctx.policy, TLS_MIN) === 'VersionTLS13') return { kind: 'unset', text: '(none: TLS 1.3 suites are not configurable)' };
    const suites = ruleValue<string[]>(ctx.policy, CIPHERS);
    return set(suites, suites.join(','));
  },
  judge: (actual, desired) => {
    const list = actual as readonly string[];
    if (desired.kind === 'unset') return list.length === 0;
    const allowed = new Set(desired.kind === 'set' ? (desired.value as string[]) : []);
    return list.length > 0 && list.every((suite) => allowed.has(suite));
  },
});

const PIDS = 'kubelet.pod-pids-limit';

export const kubeletPodPidsLimit = settingRule({
  id: PIDS,
  title: 'Kubelet limits the number of PIDs per pod',
  cis: ['4.2.13'],
  field: KUBELET_FIELDS.podPidsLimit,
  value: positiveIntegerValue(4096),
  desired: (ctx) => set(ruleValue<number>(ctx.policy, PIDS)),
  judge: (actual, desired) => desired.kind === 'set' && typeof actual === 'number' && actual > 0 && actual <= (desired.value as number),
  // SupportPodPidsLimit was removed in 1.23: any mention stops the kubelet, so the fix removes it.
  extraChange: (ctx) => featureGateChange(ctx, 'SupportPodPidsLimit'),
});

export const kubeletProtectKernelDefaults = settingRule({
  id: 'kubelet.protect-kernel-defaults',
  title: 'Kubelet refuses to run with kernel tunables it does not expect',
  cis: [],
  field: KUBELET_FIELDS.protectKernelDefaults,
  // With the option on, a mismatching sysctl makes the kubelet exit: the sysctls land first.
  requires: ['sysctl.kubelet-kernel-defaults'],
  desired: () => set(true),
  judge: equals,
});

const IDLE = 'kubelet.streaming-connection-idle-timeout';

export const kubeletStreamingIdleTimeout = settingRule({
  id: IDLE,
  title: 'Kubelet closes idle streaming connections',
  cis: ['4.2.5'],
  field: KUBELET_FIELDS.streamingConnectionIdleTimeout,
  value: {
    default: '5m',
    describe: 'a Go duration greater than zero, such as 5m',
    validate: (value) => (typeof value === 'string' && (parseGoDuration(value) ?? 0) > 0 ? null : 'must be a positive Go duration'),
  },
  desired: (ctx) => {
    const text = ruleValue<string>(ctx.policy, IDLE);
    return set(parseGoDuration(text) ?? 0, text);
  },
  // Shorter is stricter; 0 (only possible through the flag) disables the timeout.
  judge: (actual, desired) => desired.kind === 'set' && typeof actual === 'number' && actual > 0 && actual <= (desired.value as number),
});

export const kubeletReadOnlyPort = settingRule({
  id: 'kubelet.read-only-port',
  title: 'Kubelet read-only port is disabled',
  cis: ['4.2.4'],
  field: KUBELET_FIELDS.readOnlyPort,
  desired: () => set(0),
  judge: equals,
});

export const kubeletAnonymousAuth = settingRule({
  id: 'kubelet.anonymous-auth',
  title: 'Kubelet rejects anonymous requests',
  cis: ['4.2.1'],
  field: KUBELET_FIELDS.anonymousAuth,
  desired: () => set(false),
  judge: equals,
});

export const kubeletAuthorizationMode = settingRule({
  id: 'kubelet.authorization-mode',
  title: 'Kubelet authorizes requests through the API server (Webhook)',
  cis: ['4.2.2'],
  field: KUBELET_FIELDS.authorizationMode,
  desired: () => set('Webhook'),
  judge: equals,
});

export const kubeletRotateCertificates = settingRule({
  id: 'kubelet.rotate-certificates',
  title: 'Kubelet rotates its client certificate',
  cis: ['4.2.10'],
  field: KUBELET_FIELDS.rotateCertificates,
  desired: () => set(true),
  judge: equals,
  // CIS: "only applies if you let kubelets get their certificates from the API server". kubeadm kubelets
  // do (TLS bootstrap); the k8s snap issues the kubelet's client certificate itself (k8sd).
  notApplicable: (ctx: NodeContext) =>
    ctx.kubelet.layout === 'k8s-snap' ? 'Canonical k8s issues the kubelet client certificate itself (k8sd), not through the certificates API' : null,
});

/** Every kubelet setting rule, in catalogue order. */
export const KUBELET_SETTING_RULES: readonly KubeletSettingRule[] = [
  kubeletAddress,
  kubeletTlsMinVersion,
  kubeletTlsCipherSuites,
  kubeletPodPidsLimit,
  kubeletProtectKernelDefaults,
  kubeletStreamingIdleTimeout,
  kubeletReadOnlyPort,
  kubeletAnonymousAuth,
  kubeletAuthorizationMode,
  kubeletRotateCertificates,
];
