import type { FileState, Observation, PluginProbe, SysctlState } from '../../agent/core/observation.js';
import { parseVersion } from '../../agent/core/version.js';

/** Builds an Observation from literal files (content, default mode 0600 root) for pure tests. */
export function observation(options: {
  files?: Record<string, string | FileState>;
  dirs?: Record<string, string[]>;
  sysctls?: Record<string, string>;
  kubeletVersion?: string | null;
  nodeIp?: string | null;
  stats?: Record<string, { kind: 'file' | 'dir'; mode: number; uid?: number; gid?: number }>;
  kernelRelease?: string | null;
  lsm?: Observation['lsm'];
  hostPlugins?: Record<string, PluginProbe>;
  shippedPlugins?: Record<string, PluginProbe>;
}): Observation {
  const files = new Map<string, FileState>();
  for (const [path, value] of Object.entries(options.files ?? {}))
    files.set(path, typeof value === 'string' ? { kind: 'file', path, content: value, mode: 0o600, uid: 0, gid: 0 } : value);
  const dirs = new Map(
    Object.entries(options.dirs ?? {}).map(([path, entries]) => [
      path,
      { kind: 'dir' as const, path, entries: [...entries].sort(), mode: 0o755, uid: 0, gid: 0 },
    ]),
  );
  const sysctls = new Map<string, SysctlState>(Object.entries(options.sysctls ?? {}).map(([key, value]) => [key, { kind: 'value', key, value }]));
  const versionText = options.kubeletVersion === undefined ? 'v1.31.4' : options.kubeletVersion;
  const version = versionText ? parseVersion(versionText) : null;
  return {
    files: new Proxy(files, {
      // Anything the test did not list is missing, as observe would report it.
      get(target, prop, receiver) {
        if (prop === 'get') return (path: string) => target.get(path) ?? { kind: 'missing', path };
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }),
    dirs,
    stats: new Map(
      Object.entries(options.stats ?? {}).map(([path, stat]) => [
        path,
        { kind: stat.kind, path, mode: stat.mode, uid: stat.uid ?? 0, gid: stat.gid ?? 0 },
      ]),
    ),
    sysctls,
    hostPlugins: new Map(Object.entries(options.hostPlugins ?? {})),
    shippedPlugins: new Map(Object.entries(options.shippedPlugins ?? {})),
    kubeletProcess: null,
    kubeletVersion: version ? { ...version, raw: versionText!, source: 'test' } : null,
    kernelRelease: options.kernelRelease === undefined ? '6.1.0' : options.kernelRelease,
    lsm: options.lsm ?? { apparmor: 'enabled', apparmorProfiles: 12, selinux: 'disabled' },
    input: {
      nodeName: 'n1',
      nodeIp: options.nodeIp ?? null,
      nodeIpSource: options.nodeIp ? '--node-ip' : null,
      kubeletVersion: null,
      pluginDir: '/usr/lib/kube-harden/cni',
    },
  };
}

export const KUBEADM_DROPIN = `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;

/** A kubeadm node: drop-in, config.yaml, flag files; pass overrides per path. */
export function kubeadmNode(files: Record<string, string | FileState> = {}, extra: Parameters<typeof observation>[0] = {}): Observation {
  return observation({
    ...extra,
    files: {
      '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf': KUBEADM_DROPIN,
      '/var/lib/kubelet/config.yaml': 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n',
      '/var/lib/kubelet/kubeadm-flags.env': 'KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.5"\n',
      '/etc/default/kubelet': 'KUBELET_EXTRA_ARGS=""\n',
      '/etc/kubernetes/kubelet.conf': 'kind: Config\n',
      ...files,
    },
    dirs: { '/usr/lib/systemd/system/kubelet.service.d': ['10-kubeadm.conf'], ...(extra.dirs ?? {}) },
  });
}
