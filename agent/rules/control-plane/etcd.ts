import type { Observation } from '../../core/observation.js';
import type { Rule } from '../../core/rule.js';
import { parseArgsFile } from '../../formats/args-file.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView } from './components.js';
import { componentFlagsRule, type Flags, type FlagsFix } from './flags-rule.js';

const ETCD = COMPONENTS.etcd;
/** kubeadm's etcd PKI (stacked etcd): the files the fixes name, each fixed only when it exists. */
export const ETCD_PKI = {
  ca: '/etc/kubernetes/pki/etcd/ca.crt',
  serverCert: '/etc/kubernetes/pki/etcd/server.crt',
  serverKey: '/etc/kubernetes/pki/etcd/server.key',
  peerCert: '/etc/kubernetes/pki/etcd/peer.crt',
  peerKey: '/etc/kubernetes/pki/etcd/peer.key',
} as const;
const STATS = Object.values(ETCD_PKI);
/** Every flag below is in etcd 3.4, the oldest etcd kubeadm deploys for Kubernetes 1.19 and later. */
const ETCD_MIN = { major: 3, minor: 4 } as const;

/**
 * Why the node has no etcd manifest when it is a k8s snap control plane: the snap's datastore is
 * k8s-dqlite on a local unix socket (no etcd flags exist), or an external etcd judged where it runs.
 */
export function snapDatastoreNote(obs: Observation): string | null {
  const path = COMPONENTS.apiserver.snapArgs;
  const file = path === null ? undefined : obs.files.get(path);
  if (file?.kind !== 'file') return null;
  let servers: string | undefined;
  try {
    servers = [...parseArgsFile(file.content).args].reverse().find((arg) => arg.name === 'etcd-servers')?.value;
  } catch {
    return null;
  }
  if (servers?.startsWith('unix://'))
    return `the k8s snap's datastore is k8s-dqlite on a local unix socket (--etcd-servers=${servers}): there is no etcd whose TLS flags CIS section 2 judges`;
  return `the k8s snap uses an external datastore (--etcd-servers=${servers ?? 'unset'}): judge its etcd on the hosts where it runs`;
}

const isTrue = (value: string | undefined): boolean => (value ?? '').toLowerCase() === 'true';

/** A certificate and key pair of flags: both set passes; both absent is fixed from kubeadm's pair. */
function pairRule(options: {
  id: string;
  title: string;
  cis: string;
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}): Rule<NodeContext> {
  return componentFlagsRule({
    id: options.id,
    title: options.title,
    cis: [options.cis],
    component: ETCD,
    flags: [options.cert, options.key],
    expected: `--${options.cert} and --${options.key} set`,
    judge: (flags) => (flags.get(options.cert) && flags.get(options.key) ? null : `--${options.cert} and --${options.key} must both be set`),
    fix: (flags): FlagsFix | { held: string } =>
      flags.get(options.cert) || flags.get(options.key)
        ? { held: `only one of --${options.cert}/--${options.key} is set; which file pairs with it cannot be known` }
        : { set: { [options.cert]: options.certFile, [options.key]: options.keyFile }, needs: [options.certFile, options.keyFile] },
    stats: STATS,
    minVersion: ETCD_MIN,
    absentNote: snapDatastoreNote,
  });
}

export const etcdClientTls = pairRule({
  id: 'etcd.client-tls',
  title: 'etcd serves clients over TLS with a certificate and key',
  cis: '2.1',
  cert: 'cert-file',
  key: 'key-file',
  certFile: ETCD_PKI.serverCert,
  keyFile: ETCD_PKI.serverKey,
});

export const etcdPeerTls = pairRule({
  id: 'etcd.peer-tls',
  title: 'etcd peers talk over TLS with a certificate and key',
  cis: '2.4',
  cert: 'peer-cert-file',
  key: 'peer-key-file',
  certFile: ETCD_PKI.peerCert,
  keyFile: ETCD_PKI.peerKey,
});

/** A boolean flag that must be true, with the CA file flag it needs (set from kubeadm's etcd CA when absent). */
function certAuthRule(options: { id: string; title: string; cis: string; flag: string; caFlag: string; requires: string[] }): Rule<NodeContext> {
  return componentFlagsRule({
    id: options.id,
    title: options.title,
    cis: [options.cis],
    component: ETCD,
    flags: [options.flag, options.caFlag],
    expected: `--${options.flag}=true`,
    judge: (flags) => (isTrue(flags.get(options.flag)) ? null : `etcd accepts ${options.cis === '2.2' ? 'clients' : 'peers'} without a certificate`),
    fix: (flags) =>
      flags.get(options.caFlag)
        ? { set: { [options.flag]: 'true' } }
        : { set: { [options.flag]: 'true', [options.caFlag]: ETCD_PKI.ca }, needs: [ETCD_PKI.ca] },
    requires: options.requires,
    stats: STATS,
    minVersion: ETCD_MIN,
    absentNote: snapDatastoreNote,
  });
}

/**
 * Client certificates required: the API server on this node must present one first
 * (apiserver.etcd-client-certificate), or requiring it would cut the API server off from its data.
 */
export const etcdClientCertAuth = certAuthRule({
  id: 'etcd.client-cert-auth',
  title: 'etcd requires client certificate authentication',
  cis: '2.2',
  flag: 'client-cert-auth',
  caFlag: 'trusted-ca-file',
  requires: ['etcd.client-tls', 'apiserver.etcd-client-certificate'],
});

export const etcdPeerClientCertAuth = certAuthRule({
  id: 'etcd.peer-client-cert-auth',
  title: 'etcd requires client certificates between peers',
  cis: '2.5',
  flag: 'peer-client-cert-auth',
  caFlag: 'peer-trusted-ca-file',
  requires: ['etcd.peer-tls'],
});

/** No self-signed automatic TLS: removed once a real certificate is configured (it takes precedence). */
function noAutoTlsRule(options: { id: string; title: string; cis: string; flag: string; requires: string }): Rule<NodeContext> {
  return componentFlagsRule({
    id: options.id,
    title: options.title,
    cis: [options.cis],
    component: ETCD,
    flags: [options.flag],
    expected: `no --${options.flag}=true`,
    judge: (flags) => (isTrue(flags.get(options.flag)) ? `--${options.flag}=true generates self-signed certificates nobody can verify` : null),
    fix: () => ({ unset: [options.flag] }),
    requires: [options.requires],
    stats: STATS,
    minVersion: ETCD_MIN,
    absentNote: snapDatastoreNote,
  });
}

export const etcdAutoTls = noAutoTlsRule({
  id: 'etcd.auto-tls',
  title: 'etcd does not use self-signed automatic TLS for clients',
  cis: '2.3',
  flag: 'auto-tls',
  requires: 'etcd.client-tls',
});

export const etcdPeerAutoTls = noAutoTlsRule({
  id: 'etcd.peer-auto-tls',
  title: 'etcd does not use self-signed automatic TLS for peers',
  cis: '2.6',
  flag: 'peer-auto-tls',
  requires: 'etcd.peer-tls',
});

function apiserverClientCa(ctx: NodeContext): string | null {
  const view = componentView(ctx.obs, COMPONENTS.apiserver);
  return view.kind === 'static-pod' || view.kind === 'snap' ? (view.flags.get('client-ca-file') ?? null) : null;
}

const SHARED_CA =
  'give etcd its own CA (kubeadm: /etc/kubernetes/pki/etcd/ca.crt), re-issue the etcd server, peer and API server etcd-client certificates from it, then point --trusted-ca-file at it';

/**
 * CIS 2.7 (manual in the benchmark): etcd trusts its own CA, not the cluster CA that signs every
 * kubelet's and user's certificate. Unset is fixed from kubeadm's etcd CA; a shared CA is reported.
 */
export const etcdTrustedCaFile = componentFlagsRule({
  id: 'etcd.trusted-ca-file',
  title: 'etcd trusts its own certificate authority, not the cluster CA',
  cis: ['2.7'],
  component: ETCD,
  flags: ['trusted-ca-file'],
  expected: '--trusted-ca-file set to a CA other than the API server --client-ca-file',
  judge: (flags: Flags, ctx) => {
    const ca = flags.get('trusted-ca-file');
    if (!ca) return 'no --trusted-ca-file: etcd cannot verify client certificates';
    return ca === apiserverClientCa(ctx) ? `etcd trusts the cluster CA ${ca}: every certificate it signs can read etcd` : null;
  },
  fix: (flags) => (flags.get('trusted-ca-file') ? { held: SHARED_CA } : { set: { 'trusted-ca-file': ETCD_PKI.ca }, needs: [ETCD_PKI.ca] }),
  stats: STATS,
  minVersion: ETCD_MIN,
  absentNote: snapDatastoreNote,
});

/** CIS section 2, in fix order: certificates before the settings that need them. */
export const ETCD_RULES: readonly Rule<NodeContext>[] = [
  etcdClientTls,
  etcdPeerTls,
  etcdTrustedCaFile,
  etcdClientCertAuth,
  etcdPeerClientCertAuth,
  etcdAutoTls,
  etcdPeerAutoTls,
];
