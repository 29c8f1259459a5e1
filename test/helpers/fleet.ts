import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { connectCluster } from '../../agent/cli/cluster.js';
import { daemonDisruptionGate } from '../../agent/cluster/disruption-gate.js';
import { disruptionEvent } from '../../agent/daemon/reporting.js';
import { Daemon } from '../../agent/daemon/daemon.js';
import { ExecPluginProber } from '../../agent/host/cni-plugin.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import { silentLogger } from '../../agent/telemetry/logger.js';
import { AgentMetrics } from '../../agent/telemetry/metrics.js';
import { FakeApiServer } from '../fakes/fake-api-server.js';
import { FakeCommandRunner } from '../fakes/fake-command-runner.js';
import { StandInKubelet, type StandInOptions } from '../fakes/stand-in-kubelet.js';
import { cleanupTempDirs, copyFixture, tempDir } from './host.js';

/** One simulated node: its host root, its stand-in kubelet and its agent (a Daemon wired to the cluster). */
export interface SimulatedNode {
  readonly name: string;
  readonly root: string;
  readonly kubelet: StandInKubelet;
  readonly daemon: Daemon;
  readonly metrics: AgentMetrics;
}

export interface FleetPolicy {
  readonly maxConcurrent: number;
  readonly healthTimeoutSeconds: number;
  readonly leaseDurationSeconds: number;
}

/** Writes a HardeningPolicy file with the fleet settings (everything else default). */
export function writeFleetPolicy(policy: FleetPolicy): string {
  const file = path.join(tempDir('kh-policy-'), 'policy.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: kube-harden.io/v1alpha1',
      'kind: HardeningPolicy',
      'mode: enforce',
      `restarts: { maxConcurrent: ${policy.maxConcurrent}, healthTimeoutSeconds: ${policy.healthTimeoutSeconds}, leaseDurationSeconds: ${policy.leaseDurationSeconds} }`,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * A kubeadm worker whose agent talks to the fake API server through the real client and the real
 * wiring of `kube-harden run` (connectCluster with a kubeconfig). Not started.
 */
export async function simulatedNode(
  server: FakeApiServer,
  name: string,
  policyFile: string,
  kubelet: Omit<StandInOptions, 'api'> = {},
  {
    internalIP = '10.0.0.10',
    rollCheckMs = 60_000,
    fixture = 'kubeadm-worker',
    kubeletVersion = 'v1.31.4',
    pauseSwitch = false,
  }: {
    internalIP?: string;
    rollCheckMs?: number;
    fixture?: string;
    kubeletVersion?: string;
    /** Consult the pause switch on the agent's DaemonSet kube-harden/kube-harden, as `run` does in a pod. */
    pauseSwitch?: boolean;
  } = {},
): Promise<SimulatedNode> {
  const root = copyFixture(fixture);
  server.putNode(name, 'True', kubeletVersion, internalIP);
  server.renewNodeLease(name, Date.now() - 60_000);
  const standIn = new StandInKubelet(root, { ...kubelet, api: { server, node: name } });
  const fs = new HostFs(await HostRoot.open(root));
  const runner = new FakeCommandRunner();
  const metrics = new AgentMetrics('test');
  const logger = silentLogger();
  let daemon: Daemon | null = null;
  const { cluster } = await connectCluster({
    credentials: { kind: 'kubeconfig', path: await server.kubeconfig() },
    namespace: 'kube-harden',
    nodeName: name,
    policy: () => daemon!.policyInForce,
    logger,
    now: () => Date.now(),
    metrics,
    self: null,
    workloadDebounceMs: 20,
  });
  daemon = new Daemon(
    {
      policyFile,
      input: { nodeName: name, nodeIp: internalIP, nodeIpSource: 'operator', kubeletVersion, pluginDir: '/nonexistent' },
      noRestart: false,
      debounceMs: 20,
      pollMs: 60_000,
      restartIntervalMs: 0,
      slotRetryMs: 100,
      gateIntervalMs: 20,
      rollCheckMs,
    },
    {
      fs,
      runner,
      plugins: new ExecPluginProber(fs, runner, '/nonexistent'),
      services: standIn,
      health: () => standIn.healthProbe(),
      metrics,
      logger,
      now: () => Date.now(),
      cluster,
      disruption: daemonDisruptionGate({
        policy: () => daemon!.policyInForce.restarts,
        nodeName: name,
        cluster: cluster.api,
        namespace: pauseSwitch ? 'kube-harden' : null,
        env: {},
        metrics,
        logger,
        onChange: (decision) => cluster.events.record(disruptionEvent(decision)),
      }),
    },
  );
  return { name, root, kubelet: standIn, daemon, metrics };
}

/** Registers a fresh fake API server and node list per test, and stops every agent and the server after. */
export function fleetHooks(): { readonly server: FakeApiServer; readonly nodes: SimulatedNode[] } {
  const state = { server: null as FakeApiServer | null, nodes: [] as SimulatedNode[] };
  beforeEach(async () => {
    state.server = await new FakeApiServer().start();
    state.nodes = [];
  });
  afterEach(async () => {
    await Promise.all(state.nodes.map((node) => node.daemon.stop()));
    await state.server?.stop();
    cleanupTempDirs();
  });
  return {
    get server() {
      return state.server!;
    },
    get nodes() {
      return state.nodes;
    },
  };
}
