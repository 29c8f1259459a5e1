import type { Observation, Targets } from '../../core/observation.js';
import { parseVersion, type Version } from '../../core/version.js';
import { parseArgsFile } from '../../formats/args-file.js';
import { FormatError } from '../../formats/env-file.js';
import { parseStaticPod } from '../../formats/static-pod.js';

/** A control-plane component, where kubeadm and the k8s snap keep its flags, and how to see it is healthy. */
export interface Component {
  readonly name: 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'etcd';
  readonly manifest: string;
  /** The k8s snap's args file, or null when the snap runs no such component (its datastore is k8s-dqlite). */
  readonly snapArgs: string | null;
  readonly snapService: string;
  /** Local health endpoint (HTTPS with the component's own certificate; etcd: plain HTTP on its metrics URL). */
  readonly healthUrl: string;
}

function component(name: Component['name'], healthUrl: string, snap = true): Component {
  return {
    name,
    manifest: `/etc/kubernetes/manifests/${name}.yaml`,
    snapArgs: snap ? `/var/snap/k8s/common/args/${name}` : null,
    snapService: `snap.k8s.${name}`,
    healthUrl,
  };
}

export const COMPONENTS = {
  apiserver: component('kube-apiserver', 'https://127.0.0.1:6443/livez'),
  controllerManager: component('kube-controller-manager', 'https://127.0.0.1:10257/healthz'),
  scheduler: component('kube-scheduler', 'https://127.0.0.1:10259/healthz'),
  // kubeadm's etcd serves /health on --listen-metrics-urls=http://127.0.0.1:2381 (its liveness probe's URL).
  etcd: component('etcd', 'http://127.0.0.1:2381/health', false),
} as const;

const STATIC_POD_PREFIX = 'static-pod/';

/** The restart "service" of a static pod: the kubelet recreates it when the manifest changes. */
export function staticPodService(component: Component): string {
  return `${STATIC_POD_PREFIX}${component.name}`;
}

/** True for a static pod's "service": no systemd unit; the kubelet restarts it when its manifest is written. */
export function isStaticPodService(service: string): boolean {
  return service.startsWith(STATIC_POD_PREFIX);
}

/** A component as found on this node. */
export type ComponentView =
  | { readonly kind: 'absent' }
  | { readonly kind: 'error'; readonly path: string; readonly message: string }
  | {
      readonly kind: 'static-pod' | 'snap';
      readonly path: string;
      /** Flag values, the last occurrence winning. */
      readonly flags: ReadonlyMap<string, string>;
      readonly version: Version | null;
      readonly versionSource: string;
    };

/**
 * Reads a component's flags from its kubeadm static pod manifest or its k8s snap args file. The
 * version comes from the manifest's image tag; the snap ships every component in one revision, so its
 * kubelet's version is the component's.
 */
export function componentView(obs: Observation, component: Component): ComponentView {
  // A dozen rules read the same manifest: parse it once per observation. An observation is an immutable
  // snapshot (discovery makes a new one each round), so the cache can never serve stale content.
  const cached = VIEWS.get(obs)?.get(component.name);
  if (cached) return cached;
  const view = readComponentView(obs, component);
  VIEWS.set(obs, (VIEWS.get(obs) ?? new Map()).set(component.name, view));
  return view;
}

const VIEWS = new WeakMap<Observation, Map<string, ComponentView>>();

function readComponentView(obs: Observation, component: Component): ComponentView {
  const manifest = obs.files.get(component.manifest);
  const args = component.snapArgs === null ? undefined : obs.files.get(component.snapArgs);
  const describe = (path: string, error: unknown): ComponentView => {
    const line = error instanceof FormatError && error.line ? `:${error.line}` : '';
    return { kind: 'error', path, message: `${path}${line}: ${error instanceof Error ? error.message : String(error)}` };
  };
  if (manifest?.kind === 'error') return { kind: 'error', path: component.manifest, message: `${component.manifest}: ${manifest.error}` };
  if (manifest?.kind === 'file') {
    try {
      const pod = parseStaticPod(manifest.content, component.name);
      const version = pod.imageTag ? parseVersion(pod.imageTag) : null;
      return {
        kind: 'static-pod',
        path: component.manifest,
        flags: new Map(pod.flags.map((flag) => [flag.name, flag.value])),
        version,
        versionSource: `image tag ${pod.imageTag ?? '(none)'}`,
      };
    } catch (error) {
      return describe(component.manifest, error);
    }
  }
  if (args?.kind === 'error') return { kind: 'error', path: args.path, message: `${args.path}: ${args.error}` };
  if (args?.kind === 'file') {
    try {
      const flags = new Map(parseArgsFile(args.content).args.map((arg) => [arg.name, arg.value]));
      return {
        kind: 'snap',
        path: args.path,
        flags,
        version: obs.kubeletVersion,
        versionSource: `the k8s snap (${obs.kubeletVersion?.source ?? 'version unknown'})`,
      };
    } catch (error) {
      return describe(args.path, error);
    }
  }
  return { kind: 'absent' };
}

/**
 * Every control-plane rule reads the same files: one shared targets function, answering one frozen
 * list (discovery asks every rule's targets several times per reconcile).
 */
export function controlPlaneTargets(): Targets {
  return CONTROL_PLANE_TARGETS;
}

const CONTROL_PLANE_TARGETS: Targets = Object.freeze({
  files: Object.freeze(
    Object.values(COMPONENTS).flatMap((component) => [component.manifest, ...(component.snapArgs === null ? [] : [component.snapArgs])]),
  ),
});
