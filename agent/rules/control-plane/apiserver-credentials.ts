import { ruleValue, type RuleValueSpec } from '../../core/policy.js';
import type { Rule } from '../../core/rule.js';
import { atLeast, formatVersion, type Version } from '../../core/version.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView } from './components.js';
import { componentFlagsRule, type Flags, type FlagsFix } from './flags-rule.js';

const API = COMPONENTS.apiserver;
const ANY = { major: 1, minor: 19 } as const;
const PKI = '/etc/kubernetes/pki';

/** kubeadm's API server credentials (the files a fix may name; each is fixed only when it exists). */
export const APISERVER_PKI = {
  kubeletClientCert: `${PKI}/apiserver-kubelet-client.crt`,
  kubeletClientKey: `${PKI}/apiserver-kubelet-client.key`,
  etcdClientCert: `${PKI}/apiserver-etcd-client.crt`,
  etcdClientKey: `${PKI}/apiserver-etcd-client.key`,
} as const;
const STATS = Object.values(APISERVER_PKI);

const bothSet = (a: string, b: string) => (flags: Flags) => (flags.get(a) && flags.get(b) ? null : `--${a} and --${b} must both be set`);

/** The API server reaches its datastore over a local unix socket (the k8s snap's k8s-dqlite): no etcd TLS. */
function etcdOverUnixSocket(flags: Flags): boolean {
  return (flags.get('etcd-servers') ?? '').split(',').every((server) => server.startsWith('unix://')) && flags.has('etcd-servers');
}

function pairFix(flags: Flags, cert: string, key: string, certFile: string, keyFile: string): FlagsFix | { held: string } {
  if (flags.get(cert) || flags.get(key)) return { held: `only one of --${cert}/--${key} is set; which file pairs with it cannot be known` };
  return { set: { [cert]: certFile, [key]: keyFile }, needs: [certFile, keyFile] };
}

export const apiserverKubeletClientCertificate = componentFlagsRule({
  id: 'apiserver.kubelet-client-certificate',
  title: 'API server presents a client certificate to kubelets',
  cis: ['1.2.4'],
  component: API,
  flags: ['kubelet-client-certificate', 'kubelet-client-key'],
  expected: '--kubelet-client-certificate and --kubelet-client-key set',
  judge: bothSet('kubelet-client-certificate', 'kubelet-client-key'),
  fix: (flags) => pairFix(flags, 'kubelet-client-certificate', 'kubelet-client-key', APISERVER_PKI.kubeletClientCert, APISERVER_PKI.kubeletClientKey),
  stats: STATS,
  minVersion: ANY,
});

export const apiserverEtcdClientCertificate = componentFlagsRule({
  id: 'apiserver.etcd-client-certificate',
  title: 'API server uses a client certificate to talk to etcd',
  cis: ['1.2.23'],
  component: API,
  flags: ['etcd-certfile', 'etcd-keyfile'],
  expected: '--etcd-certfile and --etcd-keyfile set',
  judge: (flags) => (etcdOverUnixSocket(flags) ? null : (bothSet('etcd-certfile', 'etcd-keyfile')(flags) ?? null)),
  fix: (flags) => pairFix(flags, 'etcd-certfile', 'etcd-keyfile', APISERVER_PKI.etcdClientCert, APISERVER_PKI.etcdClientKey),
  stats: STATS,
  minVersion: ANY,
});

/** Which CA or key the API server trusts decides who it lets in: reported, changed only by a person. */
function auditOnlyFlags(options: {
  id: string;
  title: string;
  cis: string;
  flags: string[];
  why: string;
  skipOnUnixSocket?: boolean;
}): Rule<NodeContext> {
  return componentFlagsRule({
    id: options.id,
    title: options.title,
    cis: [options.cis],
    component: API,
    flags: options.flags,
    expected: options.flags.map((flag) => `--${flag}`).join(' and ') + ' set',
    judge: (flags) =>
      options.skipOnUnixSocket && etcdOverUnixSocket(flags)
        ? null
        : options.flags.every((flag) => flags.get(flag))
          ? null
          : `${options.flags.map((flag) => `--${flag}`).join(' and ')} must be set`,
    auditOnly: options.why,
    minVersion: ANY,
  });
}

export const apiserverServiceAccountKeyFile = auditOnlyFlags({
  id: 'apiserver.service-account-key-file',
  title: 'API server has a service account verification key file',
  cis: '1.2.22',
  flags: ['service-account-key-file'],
  why: 'the key decides which service account tokens are valid; set it to the public half of the controller manager --service-account-private-key-file (kubeadm: /etc/kubernetes/pki/sa.pub) by hand',
});

export const apiserverTlsCertFile = auditOnlyFlags({
  id: 'apiserver.tls-cert-file',
  title: 'API server serves TLS with an explicit certificate and key',
  cis: '1.2.24',
  flags: ['tls-cert-file', 'tls-private-key-file'],
  why: 'the serving certificate must name every address clients use (its SANs); issue one for this node (kubeadm: kubeadm init phase certs apiserver) and set both flags by hand',
});

export const apiserverClientCaFile = auditOnlyFlags({
  id: 'apiserver.client-ca-file',
  title: 'API server authenticates client certificates against a CA',
  cis: '1.2.25',
  flags: ['client-ca-file'],
  why: 'the client CA decides whose certificates the API server accepts; it must be the CA that signed the kubelets, controllers and admins certificates (kubeadm: /etc/kubernetes/pki/ca.crt); set it by hand',
});

export const apiserverEtcdCaFile = auditOnlyFlags({
  id: 'apiserver.etcd-cafile',
  title: 'API server verifies etcd against a CA',
  cis: '1.2.26',
  flags: ['etcd-cafile'],
  why: 'a CA that did not sign the serving etcd certificate cuts the API server off from its data, and which CA did cannot be read from this node; set it to the CA of the etcd serving certificate (kubeadm: /etc/kubernetes/pki/etcd/ca.crt) by hand',
  skipOnUnixSocket: true,
});

const TOKEN_FILE = 'apiserver.token-auth-file';
const TOKEN_VALUE: RuleValueSpec['value'] = {
  default: { confirmed: false },
  describe: '{ confirmed: true | false } (true: remove --token-auth-file; whoever authenticates with its tokens is locked out)',
  validate: (value) => (typeof (value as { confirmed?: unknown })?.confirmed === 'boolean' ? null : 'confirmed must be true or false'),
};

/**
 * Static tokens never expire and cannot be revoked without a restart (CIS 1.2.2). Removing the file
 * locks out whoever uses its tokens, which this node cannot see: removed only when the policy confirms.
 */
export const apiserverTokenAuthFile = Object.assign(
  componentFlagsRule({
    id: TOKEN_FILE,
    title: 'API server does not authenticate with a static token file',
    cis: ['1.2.2'],
    component: API,
    flags: ['token-auth-file'],
    expected: 'no --token-auth-file',
    judge: (flags) => (flags.has('token-auth-file') ? 'static tokens never expire and cannot be revoked without restarting the API server' : null),
    fix: (_flags, ctx) =>
      ruleValue<{ confirmed: boolean }>(ctx.policy, TOKEN_FILE).confirmed
        ? { unset: ['token-auth-file'] }
        : {
            held: `removing it locks out every user and tool authenticating with its tokens; move them to certificates, OIDC or service accounts, then confirm in the policy (${TOKEN_FILE}: { value: { confirmed: true } })`,
          },
    minVersion: ANY,
  }),
  { valueSpec: { id: TOKEN_FILE, value: TOKEN_VALUE } },
);

/** Plugins CIS 1.2.12/1.2.13 want never disabled. */
const NEVER_DISABLED = ['ServiceAccount', 'NamespaceLifecycle'] as const;

export const apiserverDisabledAdmissionPlugins = componentFlagsRule({
  id: 'apiserver.disabled-admission-plugins',
  title: 'API server keeps the ServiceAccount and NamespaceLifecycle admission plugins',
  cis: ['1.2.12', '1.2.13'],
  component: API,
  flags: ['disable-admission-plugins'],
  expected: `--disable-admission-plugins without ${NEVER_DISABLED.join(' or ')}`,
  judge: (flags) => {
    const disabled = (flags.get('disable-admission-plugins') ?? '').split(',');
    const bad = NEVER_DISABLED.filter((plugin) => disabled.includes(plugin));
    return bad.length === 0 ? null : `${bad.join(' and ')} disabled`;
  },
  fix: (flags) => {
    const kept = (flags.get('disable-admission-plugins') ?? '')
      .split(',')
      .filter((plugin) => plugin !== '' && !(NEVER_DISABLED as readonly string[]).includes(plugin));
    return kept.length === 0 ? { unset: ['disable-admission-plugins'] } : { set: { 'disable-admission-plugins': kept.join(',') } };
  },
  minVersion: ANY,
});

function apiserverVersion(ctx: NodeContext): Version | null {
  const view = componentView(ctx.obs, API);
  return view.kind === 'static-pod' || view.kind === 'snap' ? view.version : null;
}

/**
 * Flags the seed guide names that upstream removed: --basic-auth-file (removed in 1.19, kubernetes#89069)
 * and --kubelet-https (deprecated in 1.19, when connections to kubelets became HTTPS unconditionally;
 * removed in 1.22, kubernetes#101178). Reported wherever set; never written (removing basic-auth users'
 * access is the operator's move).
 */
export const apiserverRemovedAuthFlags = componentFlagsRule({
  id: 'apiserver.removed-insecure-flags',
  title: 'API server has no basic-auth file and no plain-HTTP kubelet connections',
  cis: [],
  component: API,
  flags: ['basic-auth-file', 'kubelet-https'],
  expected: 'no --basic-auth-file, no --kubelet-https',
  judge: (flags, ctx) => {
    const version = apiserverVersion(ctx);
    const problems: string[] = [];
    if (flags.has('basic-auth-file'))
      problems.push(
        version && atLeast(version, 1, 19)
          ? `kube-apiserver ${formatVersion(version)} rejects --basic-auth-file (removed in 1.19): this manifest cannot start`
          : '--basic-auth-file accepts passwords compared in non-constant time (removed upstream in 1.19)',
      );
    if (flags.has('kubelet-https')) {
      if (version && atLeast(version, 1, 22))
        problems.push(`kube-apiserver ${formatVersion(version)} rejects --kubelet-https (removed in 1.22): this manifest cannot start`);
      else if ((flags.get('kubelet-https') ?? '').toLowerCase() === 'false')
        problems.push(
          version && atLeast(version, 1, 19)
            ? '--kubelet-https=false is ignored since 1.19 (connections to kubelets are always HTTPS) and rejected from 1.22: remove it before upgrading'
            : '--kubelet-https=false sends kubelet traffic (logs, exec) in clear text',
        );
    }
    return problems.length === 0 ? null : problems.join('; ');
  },
  auditOnly: 'remove the flag by hand once nobody depends on it (basic-auth users lose access)',
  minVersion: ANY,
});

const PSA_NOTE = 'Pod Security Admission replaces it: label each namespace pod-security.kubernetes.io/enforce (restricted or baseline)';

/**
 * SecurityContextDeny, which the seed guide recommends: deprecated in 1.27 (needs its feature gate from
 * then), removed in 1.30 (an API server naming it does not start; KUBERNETES-FACTS §7e). Reported on every
 * version with its replacement; never written, never removed (without namespace labels that would open
 * what it closed).
 */
export const apiserverSecurityContextDeny = componentFlagsRule({
  id: 'apiserver.security-context-deny',
  title: 'SecurityContextDeny is not relied on (Pod Security Admission replaces it)',
  cis: [],
  component: API,
  flags: ['enable-admission-plugins'],
  expected: `no SecurityContextDeny (removed in 1.30); ${PSA_NOTE}`,
  judge: (flags, ctx) => {
    if (!(flags.get('enable-admission-plugins') ?? '').split(',').includes('SecurityContextDeny')) return null;
    const version = apiserverVersion(ctx);
    if (version && atLeast(version, 1, 30))
      return `kube-apiserver ${formatVersion(version)} rejects SecurityContextDeny (removed in 1.30): this manifest cannot start; ${PSA_NOTE}`;
    if (version && atLeast(version, 1, 27))
      return `SecurityContextDeny is deprecated since 1.27 (it needs its feature gate) and removed in 1.30; ${PSA_NOTE}`;
    return `SecurityContextDeny is removed in 1.30; ${PSA_NOTE}`;
  },
  auditOnly: `label the namespaces for Pod Security Admission first, then remove SecurityContextDeny from --enable-admission-plugins by hand`,
  minVersion: ANY,
});

export const APISERVER_CREDENTIAL_RULES: readonly Rule<NodeContext>[] = [
  apiserverTokenAuthFile,
  apiserverKubeletClientCertificate,
  apiserverEtcdClientCertificate,
  apiserverServiceAccountKeyFile,
  apiserverTlsCertFile,
  apiserverClientCaFile,
  apiserverEtcdCaFile,
  apiserverDisabledAdmissionPlugins,
  apiserverRemovedAuthFlags,
  apiserverSecurityContextDeny,
];
