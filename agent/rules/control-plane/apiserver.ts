import { ruleValue } from '../../core/policy.js';
import type { Rule } from '../../core/rule.js';
import type { NodeContext } from '../context.js';
import { STRONG_CIPHER_SUITES, tlsVersionRank } from '../kubelet/tls.js';
import { COMPONENTS, componentView } from './components.js';
import { componentFlagRule, type FlagDesire } from './flag-rule.js';

const ANY = { major: 1, minor: 19 } as const;
const API = COMPONENTS.apiserver;

export const apiserverProfiling = componentFlagRule({
  id: 'apiserver.profiling',
  title: 'API server profiling endpoint is disabled',
  cis: ['1.2.15'],
  component: API,
  flag: 'profiling',
  defaultValue: 'true',
  desired: { kind: 'set', value: 'false' },
  minVersion: ANY,
});

/** Same policy value as the kubelet (one TLS floor for the node's components). */
export const apiserverTlsMinVersion = componentFlagRule({
  id: 'apiserver.tls-min-version',
  title: 'API server requires a modern TLS version',
  cis: [],
  component: API,
  flag: 'tls-min-version',
  defaultValue: 'VersionTLS12',
  desired: (ctx) => ({ kind: 'set', value: ruleValue<string>(ctx.policy, 'kubelet.tls-min-version') }),
  judge: (effective, desired) => desired.kind === 'set' && (tlsVersionRank(effective ?? '') ?? 0) >= (tlsVersionRank(desired.value) ?? 99),
  minVersion: ANY,
});

export const apiserverTlsCipherSuites = componentFlagRule({
  id: 'apiserver.tls-cipher-suites',
  title: 'API server offers only strong TLS cipher suites',
  cis: ['1.2.29'],
  component: API,
  flag: 'tls-cipher-suites',
  defaultValue: null,
  // TLS 1.3 suites are not configurable; with a 1.3 floor the list goes (KUBERNETES-FACTS.md §1).
  desired: (ctx): FlagDesire =>
    ruleValue<string>(ctx.policy, 'kubelet.tls-min-version') === 'VersionTLS13'
      ? { kind: 'unset' }
      : { kind: 'set', value: ruleValue<string[]>(ctx.policy, 'kubelet.tls-cipher-suites').join(',') },
  judge: (effective, desired) => {
    if (desired.kind === 'unset') return effective === null;
    const allowed = new Set(desired.value.split(','));
    const list = (effective ?? '').split(',').filter(Boolean);
    return list.length > 0 && list.every((suite) => allowed.has(suite) && STRONG_CIPHER_SUITES.has(suite));
  },
  minVersion: ANY,
});

export const apiserverServiceAccountLookup = componentFlagRule({
  id: 'apiserver.service-account-lookup',
  title: 'API server checks service account tokens against etcd',
  cis: ['1.2.21'],
  component: API,
  flag: 'service-account-lookup',
  defaultValue: 'true',
  desired: { kind: 'set', value: 'true' },
  minVersion: ANY,
});

export const apiserverExtendTokenExpiration = componentFlagRule({
  id: 'apiserver.service-account-extend-token-expiration',
  title: 'API server does not silently extend projected token lifetimes',
  cis: ['1.2.30'],
  component: API,
  flag: 'service-account-extend-token-expiration',
  defaultValue: 'true',
  desired: { kind: 'set', value: 'false' },
  minVersion: { major: 1, minor: 20 },
});

/** Node and RBAC present, AlwaysAllow absent; other modes (Webhook, ABAC) are kept in their order. */
export const apiserverAuthorizationMode = componentFlagRule({
  id: 'apiserver.authorization-mode',
  title: 'API server authorizes with Node and RBAC, never AlwaysAllow',
  cis: ['1.2.6', '1.2.7', '1.2.8'],
  component: API,
  flag: 'authorization-mode',
  defaultValue: 'AlwaysAllow',
  desired: (ctx): FlagDesire => {
    const view = componentView(ctx.obs, API);
    const current = view.kind === 'static-pod' || view.kind === 'snap' ? (view.flags.get('authorization-mode') ?? '').split(',').filter(Boolean) : [];
    const kept = current.filter((mode) => mode !== 'AlwaysAllow' && mode !== 'Node' && mode !== 'RBAC');
    return { kind: 'set', value: ['Node', 'RBAC', ...kept].join(',') };
  },
  judge: (effective) => {
    const modes = (effective ?? '').split(',');
    return modes.includes('Node') && modes.includes('RBAC') && !modes.includes('AlwaysAllow');
  },
  minVersion: ANY,
});

const KUBELET_CA = 'apiserver.kubelet-certificate-authority';

const KUBELET_CA_REASON =
  'kubelets serve self-signed certificates unless serverTLSBootstrap is on and their CSRs are approved on every node; setting the flag before that breaks kubectl logs/exec/port-forward cluster-wide. Enable serverTLSBootstrap, approve the kubelet-serving CSRs, then confirm in the policy (apiserver.kubelet-certificate-authority: { value: { confirmed: true } })';

const setKubeletCa = componentFlagRule({
  id: KUBELET_CA,
  title: 'API server verifies kubelet serving certificates',
  cis: ['1.2.5'],
  component: API,
  flag: 'kubelet-certificate-authority',
  defaultValue: null,
  value: {
    default: { confirmed: false, caFile: '/etc/kubernetes/pki/ca.crt' },
    describe: '{ confirmed: true | false, caFile: /path/to/ca.crt }',
    validate: (value) => {
      const v = value as { confirmed?: unknown; caFile?: unknown };
      return typeof v?.confirmed === 'boolean' && typeof v.caFile === 'string' && v.caFile.startsWith('/')
        ? null
        : 'confirmed must be true or false and caFile an absolute path';
    },
  },
  desired: (ctx) => ({ kind: 'set', value: ruleValue<{ caFile: string }>(ctx.policy, KUBELET_CA).caFile }),
  // Any CA passes: an existing setting (Canonical k8s sets one) is kept.
  judge: (effective) => effective !== null,
  minVersion: ANY,
});

/**
 * --kubelet-certificate-authority breaks logs/exec on every node whose kubelet serves a self-signed
 * certificate (kubeadm's default). The condition is cluster-wide, so the flag is set only when the
 * operator confirms it in the policy (KUBERNETES-FACTS.md §7b); until then the rule is held back.
 */
export const apiserverKubeletCertificateAuthority: Rule<NodeContext> = {
  ...setKubeletCa,
  evaluate(ctx) {
    const evaluation = setKubeletCa.evaluate(ctx);
    if (evaluation.finding.status !== 'fail' || !evaluation.remedy || ruleValue<{ confirmed: boolean }>(ctx.policy, KUBELET_CA).confirmed)
      return evaluation;
    return { finding: { ...evaluation.finding, remediable: false, message: `held back: ${KUBELET_CA_REASON}` }, blocked: KUBELET_CA_REASON };
  },
};

export const APISERVER_RULES: readonly Rule<NodeContext>[] = [
  apiserverProfiling,
  apiserverTlsMinVersion,
  apiserverTlsCipherSuites,
  apiserverServiceAccountLookup,
  apiserverExtendTokenExpiration,
  apiserverAuthorizationMode,
  apiserverKubeletCertificateAuthority,
];
