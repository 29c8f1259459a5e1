import { StagedHealthProbe, type HealthCheck, type HealthProbe, type ServiceProbes } from '../host/health.js';
import { findKubeletProcess } from '../host/facts.js';
import type { HostFs } from '../host/host-fs.js';
import { flagsNotRunning } from '../rules/kubelet/process-args.js';
import type { KubeletView } from '../rules/kubelet/settings.js';

/** Builds the health gate of a service restarted at `sinceMs` (wall clock, comparable with /proc). */
export type RestartGate = (service: string, sinceMs: number) => HealthProbe;

export interface RestartGateOptions {
  /** The service's own endpoint: the kubelet's /healthz, a static pod's health URL. */
  readonly http: ServiceProbes;
  readonly fs: HostFs;
  /** The kubelet's service on this node (`kubelet`, `snap.k8s.kubelet`), null when unknown. */
  readonly kubeletService: string | null;
  /**
   * Whether the kubelet's process was visible before the restart (the agent shares the host's PID
   * namespace). Only then can the gate demand a new process; otherwise it says nothing about processes.
   */
  readonly kubeletVisible: boolean;
  /** The kubelet's configuration as on disk after the writes (whose flags the new process must carry). */
  readonly kubeletView: () => Promise<KubeletView | null>;
  /** The cluster's view of the node since the restart (its Lease renewed, Ready); null without credentials. */
  readonly node: ((sinceMs: number) => HealthCheck) | null;
  readonly intervalMs: number;
  /** This node's IP (the k8s snap's kube-proxy serves /healthz there once hardened). */
  readonly nodeIp: string | null;
}

/**
 * The kubelet's gate, in the order a healthy restart passes it: a kubelet process that started after
 * the restart and runs with the flags on disk, its /healthz, then (in a cluster) the node Lease renewed
 * after the restart and the Node Ready. Ready alone proves little: a short restart rarely flips it.
 * Other services get their own endpoint only.
 */
export function restartGate(options: RestartGateOptions): RestartGate {
  return (service, sinceMs) => {
    if (service !== options.kubeletService) return options.http(service, { nodeIp: options.nodeIp });
    const stages: (HealthProbe | HealthCheck)[] = [];
    if (options.kubeletVisible) stages.push(kubeletProcessCheck(options.fs, sinceMs, options.kubeletView));
    stages.push(options.http(service, { nodeIp: options.nodeIp }));
    if (options.node) stages.push(options.node(sinceMs));
    return new StagedHealthProbe(stages, options.intervalMs);
  };
}

/**
 * /proc's start time has a one-second grain (the boot time is whole seconds), so a process counts as
 * new when it started no earlier than a second before the restart was asked for.
 */
const START_TIME_GRAIN_MS = 1000;

function kubeletProcessCheck(fs: HostFs, sinceMs: number, view: () => Promise<KubeletView | null>): HealthCheck {
  let expected: KubeletView | null | undefined;
  return {
    describe: 'a kubelet process started after the restart, running the flags on disk',
    async check() {
      const process = await findKubeletProcess(fs);
      if (!process) return 'no kubelet process is running';
      if (process.startedAtMs !== null && process.startedAtMs < sinceMs - START_TIME_GRAIN_MS)
        return `the kubelet process (pid ${process.pid}) is the one from before the restart`;
      if (expected === undefined) expected = await view();
      if (!expected) return null;
      const missing = flagsNotRunning(expected, process.argv);
      if (missing.length > 0) return `the running kubelet (pid ${process.pid}) lacks ${missing.slice(0, 3).join(' ')}`;
      return null;
    },
  };
}
