import { compareText } from '../../core/order.js';
import type { FindingStatus } from '../../core/finding.js';
import type { Observation } from '../../core/observation.js';
import type { Version } from '../../core/version.js';
import { hostPathMounts, parseStaticPod, type MountedHostPath } from '../../formats/static-pod.js';
import { MAPPED_OIDC } from './anonymous.js';
import { COMPONENTS, componentView, type Component } from './components.js';
import type { ExtraVolume, KubeadmSection, KubeadmWanted, SectionArgs } from './kubeadm-config.js';

/** Flags of one section that a rule sets or removes (or, for an audit-only rule, judges and keeps durable). */
export interface FlagOwner {
  readonly rule: string;
  readonly section: KubeadmSection;
  readonly flags: readonly string[];
}

const api = (rule: string, ...flags: string[]): FlagOwner => ({ rule, section: 'apiServer', flags });
const kcm = (rule: string, ...flags: string[]): FlagOwner => ({ rule, section: 'controllerManager', flags });
const etcd = (rule: string, ...flags: string[]): FlagOwner => ({ rule, section: 'etcd', flags });

/**
 * The flags kube-harden's rules own, by rule. Only these are mirrored into the ClusterConfiguration;
 * everything else in a manifest (the node's address, etcd's member name and URLs, the operator's own
 * flags) is never copied. `apiserver.encryption-at-rest` writes nothing, but a passing configuration
 * dropped by `kubeadm upgrade` would leave the API server unable to read its Secrets, so its flag is
 * kept durable too.
 */
export const KUBEADM_FLAG_OWNERS: readonly FlagOwner[] = [
  api('apiserver.profiling', 'profiling'),
  api('apiserver.tls-min-version', 'tls-min-version'),
  api('apiserver.tls-cipher-suites', 'tls-cipher-suites'),
  api('apiserver.service-account-lookup', 'service-account-lookup'),
  api('apiserver.service-account-extend-token-expiration', 'service-account-extend-token-expiration'),
  api('apiserver.authorization-mode', 'authorization-mode'),
  api('apiserver.kubelet-certificate-authority', 'kubelet-certificate-authority'),
  // The --oidc-* flags move into the AuthenticationConfiguration: left in the ClusterConfiguration they
  // would come back next to --authentication-config, which the API server refuses.
  api('apiserver.anonymous-auth', 'anonymous-auth', 'authentication-config', ...MAPPED_OIDC),
  api('apiserver.admission-plugins', 'enable-admission-plugins'),
  api('apiserver.event-rate-limit', 'enable-admission-plugins', 'admission-control-config-file'),
  api('apiserver.disabled-admission-plugins', 'disable-admission-plugins'),
  api('apiserver.audit-policy', 'audit-policy-file'),
  api('apiserver.audit-log', 'audit-policy-file', 'audit-log-path', 'audit-log-maxage', 'audit-log-maxbackup', 'audit-log-maxsize'),
  api('apiserver.kubelet-client-certificate', 'kubelet-client-certificate', 'kubelet-client-key'),
  api('apiserver.etcd-client-certificate', 'etcd-certfile', 'etcd-keyfile'),
  api('apiserver.token-auth-file', 'token-auth-file'),
  api('apiserver.encryption-at-rest', 'encryption-provider-config'),
  kcm('controller-manager.profiling', 'profiling'),
  kcm('controller-manager.bind-address', 'bind-address'),
  kcm('controller-manager.terminated-pod-gc-threshold', 'terminated-pod-gc-threshold'),
  kcm('controller-manager.service-account-token-controller', 'controllers'),
  kcm('controller-manager.use-service-account-credentials', 'use-service-account-credentials'),
  kcm('controller-manager.root-ca-file', 'root-ca-file'),
  kcm('controller-manager.rotate-kubelet-server-certificate', 'feature-gates'),
  { rule: 'scheduler.profiling', section: 'scheduler', flags: ['profiling'] },
  { rule: 'scheduler.bind-address', section: 'scheduler', flags: ['bind-address'] },
  etcd('etcd.client-tls', 'cert-file', 'key-file'),
  etcd('etcd.peer-tls', 'peer-cert-file', 'peer-key-file'),
  etcd('etcd.trusted-ca-file', 'trusted-ca-file'),
  etcd('etcd.client-cert-auth', 'client-cert-auth', 'trusted-ca-file'),
  etcd('etcd.peer-client-cert-auth', 'peer-client-cert-auth', 'peer-trusted-ca-file'),
  etcd('etcd.auto-tls', 'auto-tls'),
  etcd('etcd.peer-auto-tls', 'peer-auto-tls'),
];

/**
 * Volumes kubeadm generates itself for its control-plane pods (cmd/kubeadm/app/phases/controlplane and
 * etcd): a flag whose file sits under one of them needs no extraVolumes entry; another entry with the
 * same mount path would make the pod invalid.
 */
export const KUBEADM_VOLUMES: ReadonlySet<string> = new Set([
  'k8s-certs',
  'ca-certs',
  'etc-ca-certificates',
  'etc-pki',
  'etc-pki-ca-trust',
  'etc-pki-tls-certs',
  'usr-local-share-ca-certificates',
  'usr-share-ca-certificates',
  'kubeconfig',
  'flexvolume-dir',
  'etcd-data',
  'etcd-certs',
]);

const SECTION_COMPONENT: Readonly<Record<KubeadmSection, Component>> = {
  apiServer: COMPONENTS.apiserver,
  controllerManager: COMPONENTS.controllerManager,
  scheduler: COMPONENTS.scheduler,
  etcd: COMPONENTS.etcd,
};

/** What this node can say about the ClusterConfiguration. */
export interface KubeadmView {
  /** True on a kubeadm control-plane node (its kube-apiserver is a static pod). */
  readonly applies: boolean;
  readonly wanted: KubeadmWanted;
  /** Rules that do not pass here: their flags are left as the ClusterConfiguration has them. */
  readonly held: readonly string[];
  /** Flags left alone for another reason (a mount the ClusterConfiguration cannot express). */
  readonly notes: readonly string[];
  /** This node's kube-apiserver version: its manifests are valid for it. */
  readonly version: Version | null;
}

/** The deepest mount whose path is the file or one of its parent directories. */
function coveringMount(mounts: readonly MountedHostPath[], file: string): MountedHostPath | null {
  const covering = mounts.filter((mount) => file === mount.mountPath || file.startsWith(`${mount.mountPath.replace(/\/$/, '')}/`));
  return covering.sort((a, b) => b.mountPath.length - a.mountPath.length)[0] ?? null;
}

/** The mounts of a manifest componentView already parsed (so it parses again here without error). */
function manifestMounts(obs: Observation, component: Component): MountedHostPath[] {
  const file = obs.files.get(component.manifest);
  if (file?.kind !== 'file') return [];
  try {
    return hostPathMounts(parseStaticPod(file.content, component.name));
  } catch {
    return [];
  }
}

/**
 * What the ClusterConfiguration should carry, read from this control-plane node's static pod manifests:
 * each owned flag with its value (and the extraVolumes entry the file it names is mounted from), each
 * owned flag the manifest no longer has as unset. A flag is mirrored only when every rule owning it
 * passes here (rules that skip, e.g. disabled by the policy, do not count): a weakened or half-fixed
 * manifest is never copied into the configuration every control-plane node is built from. Pure.
 */
export function kubeadmView(obs: Observation, statuses: ReadonlyMap<string, FindingStatus>): KubeadmView {
  const apiserver = componentView(obs, COMPONENTS.apiserver);
  if (apiserver.kind !== 'static-pod') return { applies: false, wanted: {}, held: [], notes: [], version: null };
  const wanted: Partial<Record<KubeadmSection, SectionArgs>> = {};
  const held = new Set<string>();
  const notes: string[] = [];
  for (const [section, component] of Object.entries(SECTION_COMPONENT) as [KubeadmSection, Component][]) {
    const view = componentView(obs, component);
    if (view.kind !== 'static-pod') continue;
    const owners = KUBEADM_FLAG_OWNERS.filter((owner) => owner.section === section);
    const mounts = manifestMounts(obs, component);
    const set: Record<string, string> = {};
    const unset: string[] = [];
    const volumes = new Map<string, ExtraVolume>();
    for (const flag of new Set(owners.flatMap((owner) => owner.flags))) {
      const judged = owners.filter((owner) => owner.flags.includes(flag) && (statuses.get(owner.rule) ?? 'skip') !== 'skip');
      if (judged.length === 0) continue;
      const notPassing = judged.filter((owner) => statuses.get(owner.rule) !== 'pass');
      if (notPassing.length > 0) {
        notPassing.forEach((owner) => held.add(owner.rule));
        continue;
      }
      const value = view.flags.get(flag);
      if (value === undefined) {
        unset.push(flag);
        continue;
      }
      const mount = value.startsWith('/') ? coveringMount(mounts, value) : null;
      if (mount && !KUBEADM_VOLUMES.has(mount.name)) {
        if (section === 'etcd') {
          notes.push(`etcd --${flag} names a file mounted from volume ${mount.name}, which etcd.local cannot express: left alone`);
          continue;
        }
        volumes.set(mount.name, {
          name: mount.name,
          hostPath: mount.hostPath,
          mountPath: mount.mountPath,
          readOnly: mount.readOnly,
          pathType: mount.type,
        });
      }
      set[flag] = value;
    }
    wanted[section] = { set, unset, ...(volumes.size > 0 ? { volumes: [...volumes.values()].sort((a, b) => compareText(a.name, b.name)) } : {}) };
  }
  return { applies: true, wanted, held: [...held], notes, version: apiserver.version };
}
