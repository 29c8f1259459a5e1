import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { connectCluster } from '../../../agent/cli/cluster.js';
import { runCli } from '../../../agent/cli/index.js';
import { Daemon } from '../../../agent/daemon/daemon.js';
import type { ClusterApi, ConfigMapApi } from '../../../agent/cluster/api.js';
import { EventRecorder } from '../../../agent/cluster/events.js';
import type { Policy } from '../../../agent/core/policy.js';
import { ExecPluginProber } from '../../../agent/host/cni-plugin.js';
import { HostFs } from '../../../agent/host/host-fs.js';
import { HostRoot } from '../../../agent/host/host-root.js';
import { inspectNode, type InspectedNode } from '../../../agent/node/inspect.js';
import { KubeadmConfigSync } from '../../../agent/session/kubeadm-config.js';
import { RestartSlots } from '../../../agent/session/restart-slot.js';
import { EnforcementSession } from '../../../agent/session/session.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { AgentMetrics } from '../../../agent/telemetry/metrics.js';
import { FakeCommandRunner } from '../../fakes/fake-command-runner.js';
import { FakeHealthProbe } from '../../fakes/fake-health.js';
import { FakeServiceManager } from '../../fakes/fake-service-manager.js';
import { cleanupTempDirs, copyFixture, read, testCli } from '../../helpers/host.js';
import { policyFrom, writePolicyFile } from '../../helpers/policy.js';
import { waitFor } from '../../helpers/wait.js';
import { AGENT_USER, realApiServerHooks, shippedRbac, type AuditRecord, type RealApiServer } from '../../helpers/real-apiserver.js';

/** What `kubeadm init` v1.29 stores (v1beta3: extraArgs as a map), with the operator's own flag and comment. */
const V1BETA3 = `apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
# set by the operator at init
apiServer:
  extraArgs:
    authorization-mode: Node,RBAC
    oidc-issuer-url: https://issuer.example.com
  timeoutForControlPlane: 4m0s
certificatesDir: /etc/kubernetes/pki
clusterName: kubernetes
controllerManager: {}
dns: {}
etcd:
  local:
    dataDir: /var/lib/etcd
imageRepository: registry.k8s.io
kubernetesVersion: v1.29.10
networking:
  dnsDomain: cluster.local
  serviceSubnet: 10.96.0.0/12
scheduler: {}
`;

/** What `kubeadm init` v1.31+ stores (v1beta4: extraArgs as a list of { name, value }). */
const V1BETA4 = `apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
apiServer:
  extraArgs:
  - name: authorization-mode
    value: Node,RBAC
caCertificateValidityPeriod: 87600h0m0s
certificateValidityPeriod: 8760h0m0s
certificatesDir: /etc/kubernetes/pki
clusterName: kubernetes
controllerManager: {}
dns: {}
encryptionAlgorithm: RSA-2048
etcd:
  local:
    dataDir: /var/lib/etcd
imageRepository: registry.k8s.io
kubernetesVersion: v1.29.10
networking:
  dnsDomain: cluster.local
  serviceSubnet: 10.96.0.0/12
proxy: {}
scheduler: {}
`;

/** A kubeadm control plane hardened by `kube-harden apply`, then judged as the daemon judges it. */
async function hardenedControlPlane(name: string, address: string, policy: Policy): Promise<ControlPlaneNode> {
  const root = copyFixture('kubeadm-control-plane');
  // Each control-plane node has its own address and etcd member name: none of it may reach the shared configuration.
  for (const manifest of ['kube-apiserver', 'etcd']) {
    const file = path.join(root, `etc/kubernetes/manifests/${manifest}.yaml`);
    writeFileSync(file, read(root, `etc/kubernetes/manifests/${manifest}.yaml`).replaceAll('10.0.0.10', address).replaceAll('cp-1', name));
  }
  await runCli(['apply', '--output', 'json', '--host-root', root], testCli({ health: new FakeHealthProbe([true]) }).deps);
  const fs = new HostFs(await HostRoot.open(root));
  const inspectAs = (judged: Policy) => {
    const runner = new FakeCommandRunner();
    const input = { nodeName: name, nodeIp: address, nodeIpSource: 'operator', kubeletVersion: 'v1.29.10', pluginDir: '/nonexistent' };
    return inspectNode(fs, runner, new ExecPluginProber(fs, runner, '/nonexistent'), input, judged);
  };
  return { name, fs, node: await inspectAs(policy), inspectAs };
}

interface ControlPlaneNode {
  readonly name: string;
  readonly fs: HostFs;
  readonly node: InspectedNode;
  /** The same host judged under another policy. */
  readonly inspectAs: (policy: Policy) => Promise<InspectedNode>;
}

/** The agent's side as `kube-harden run` wires it: the ServiceAccount's API, the session, the Event recorder. */
function agent(server: RealApiServer, host: ControlPlaneNode, policy: () => Policy, configMaps?: (real: ConfigMapApi) => Pick<ConfigMapApi, 'get'>) {
  const api: ClusterApi = server.agentApi();
  const runner = new FakeCommandRunner();
  const session = new EnforcementSession({
    fs: host.fs,
    plugins: new ExecPluginProber(host.fs, runner, '/nonexistent'),
    services: new FakeServiceManager(),
    logger: silentLogger(),
    now: () => Date.now(),
    slots: new RestartSlots(null, silentLogger(), 10_000),
    held: null,
    cluster: { configMaps: api.configMaps, pods: api.pods },
  });
  const events = new EventRecorder(api.events, {
    namespace: 'default',
    node: { name: host.name, uid: null },
    burst: 10,
    refillMs: 60_000,
    aggregateWindowMs: 600_000,
    patchIntervalMs: 30_000,
    now: () => Date.now(),
    onError: () => undefined,
  });
  const sync = new KubeadmConfigSync({
    configMaps: configMaps ? configMaps(api.configMaps) : api.configMaps,
    session,
    events,
    logger: silentLogger(),
    policy,
    nodeName: host.name,
  });
  return { sync, events };
}

async function putKubeadmConfig(server: RealApiServer, text: string): Promise<void> {
  await server.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
    data: { ClusterConfiguration: text },
  } as KubernetesObject);
}

async function clusterConfiguration(server: RealApiServer): Promise<string> {
  return (await server.adminConfig().makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'kubeadm-config', namespace: 'kube-system' })).data!
    .ClusterConfiguration!;
}

/** The agent's requests on kube-system/kubeadm-config since `from`: `verb code`. */
function kubeadmConfigCalls(server: RealApiServer, from: number): string[] {
  return server
    .audit()
    .slice(from)
    .filter((record: AuditRecord) => record.user === AGENT_USER && record.resource === 'configmaps' && record.name === 'kubeadm-config')
    .map((record) => `${record.verb} ${record.code}`);
}

const ENFORCE = policyFrom('mode: enforce');
const AUDIT = policyFrom('mode: audit');

/**
 * Each kubeadm control-plane node keeps ConfigMap kube-system/kubeadm-config in step with its hardened
 * manifests, through the enforcement session, as the shipped ServiceAccount, against a REAL
 * kube-apiserver (v1.20.2): optimistic concurrency and RBAC as the server enforces them.
 */
describe('real API server: kubeadm-config kept in step by the control-plane nodes', function () {
  this.timeout(120_000);
  const real = realApiServerHooks();
  let cp1: ControlPlaneNode;
  let cp2: ControlPlaneNode;

  before(async function () {
    for (const object of shippedRbac()) await real.server.apply(object);
    cp1 = await hardenedControlPlane('cp-1', '10.0.0.10', ENFORCE);
    cp2 = await hardenedControlPlane('cp-2', '10.0.0.11', ENFORCE);
  });
  after(cleanupTempDirs);

  for (const [version, text] of [
    ['v1beta3', V1BETA3],
    ['v1beta4', V1BETA4],
  ] as const)
    it(`${version}: enforce mirrors the hardened flags and their mounts, nothing per node; a second run changes nothing`, async () => {
      await putKubeadmConfig(real.server, text);
      const { sync, events } = agent(real.server, cp1, () => ENFORCE);
      const from = real.server.audit().length;
      const finding = await sync.reconcile(cp1.node, true);
      expect(finding).to.deep.include({ id: 'kubeadm.cluster-configuration', status: 'pass' });
      expect(kubeadmConfigCalls(real.server, from)).to.deep.equal(['get 200', 'update 200']);

      const after = await clusterConfiguration(real.server);
      const config = parse(after);
      const args = (section: { extraArgs?: unknown }): Record<string, string> =>
        Array.isArray(section.extraArgs)
          ? Object.fromEntries((section.extraArgs as { name: string; value: string }[]).map((entry) => [entry.name, entry.value]))
          : (section.extraArgs as Record<string, string>);
      expect(Array.isArray(config.apiServer.extraArgs)).to.equal(version === 'v1beta4');
      expect(args(config.apiServer)).to.include({
        profiling: 'false',
        'enable-admission-plugins': 'NodeRestriction,EventRateLimit',
        'admission-control-config-file': '/etc/kubernetes/admission-control.yaml',
        'audit-policy-file': '/etc/kubernetes/audit-policy.yaml',
        'audit-log-path': '/var/log/kubernetes/audit/audit.log',
      });
      expect(args(config.controllerManager)).to.include({ profiling: 'false', 'terminated-pod-gc-threshold': '12500' });
      expect(args(config.scheduler)).to.include({ profiling: 'false', 'bind-address': '127.0.0.1' });
      expect(args(config.etcd.local)).to.include({ 'client-cert-auth': 'true', 'peer-client-cert-auth': 'true' });
      expect(config.apiServer.extraVolumes.map((volume: { name: string }) => volume.name)).to.deep.equal([
        'kube-harden-admission-control',
        'kube-harden-audit-log',
        'kube-harden-audit-policy',
      ]);
      // Per-node values never reach the configuration every control-plane node is built from.
      expect(after).to.not.contain('10.0.0.10').and.not.contain('cp-1');
      expect(after).to.not.match(/advertise|listen-|initial-cluster/);
      // Held rules (anonymous auth before 1.32; the operator's OIDC flag it would move) are left as they were.
      expect(args(config.apiServer)).to.not.have.property('anonymous-auth');
      if (version === 'v1beta3') {
        expect(args(config.apiServer)['oidc-issuer-url']).to.equal('https://issuer.example.com');
        expect(after).to.contain('# set by the operator at init');
      }
      expect(config).to.include({ kubernetesVersion: 'v1.29.10', certificatesDir: '/etc/kubernetes/pki' });

      await events.flush();
      const recorded = await real.server.adminConfig().makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: 'kube-system' });
      expect(recorded.items.some((event) => event.reason === 'KubeadmConfigUpdated' && event.involvedObject.name === 'kubeadm-config')).to.equal(
        true,
      );

      // A second run, even a fresh one: read, judged in step, nothing written.
      const again = real.server.audit().length;
      expect(await sync.reconcile(cp1.node, true)).to.deep.include({ status: 'pass' });
      expect(kubeadmConfigCalls(real.server, again)).to.deep.equal(['get 200']);
      expect(await clusterConfiguration(real.server)).to.equal(after);
      // Not fresh and nothing changed on the node: not even read.
      const quiet = real.server.audit().length;
      await sync.reconcile(cp1.node, false);
      expect(kubeadmConfigCalls(real.server, quiet)).to.deep.equal([]);
    });

  it('audit mode: judged and reported failing, nothing written (the server saw no update)', async () => {
    await putKubeadmConfig(real.server, V1BETA3);
    const node = await cp1.inspectAs(AUDIT);
    const { sync } = agent(real.server, cp1, () => AUDIT);
    const from = real.server.audit().length;
    const finding = await sync.reconcile(node, true);
    expect(finding).to.deep.include({ status: 'fail', remediable: true });
    expect(finding!.message).to.contain('audit mode: nothing written');
    expect(finding!.actual).to.contain('apiServer.extraArgs profiling');
    expect(kubeadmConfigCalls(real.server, from)).to.deep.equal(['get 200']);
    expect(await clusterConfiguration(real.server)).to.equal(V1BETA3);
  });

  it('a write that loses to another writer (409) re-reads and is retried; both changes stay', async () => {
    await putKubeadmConfig(real.server, V1BETA4);
    let raced = false;
    // Another control-plane node (here: admin) writes right after this agent read: its update is at a stale resourceVersion.
    const { sync } = agent(
      real.server,
      cp1,
      () => ENFORCE,
      (configMaps) => ({
        get: async (namespace, name) => {
          const read = await configMaps.get(namespace, name);
          if (!raced) {
            raced = true;
            await putKubeadmConfig(real.server, V1BETA4.replace('clusterName: kubernetes', 'clusterName: renamed'));
          }
          return read;
        },
      }),
    );
    const from = real.server.audit().length;
    expect(await sync.reconcile(cp1.node, true)).to.deep.include({ status: 'pass' });
    expect(kubeadmConfigCalls(real.server, from)).to.deep.equal(['get 200', 'update 409', 'get 200', 'update 200']);
    const config = parse(await clusterConfiguration(real.server));
    expect(config.clusterName).to.equal('renamed');
    expect(config.apiServer.extraArgs).to.deep.include({ name: 'profiling', value: 'false' });
  });

  it('a writer that keeps winning: the finding says so and the next reconcile tries again, even without a change on the node', async () => {
    await putKubeadmConfig(real.server, V1BETA3);
    let races = 0;
    let racing = true;
    const { sync } = agent(
      real.server,
      cp1,
      () => ENFORCE,
      (configMaps) => ({
        get: async (namespace, name) => {
          const read = await configMaps.get(namespace, name);
          if (racing) await putKubeadmConfig(real.server, V1BETA3.replace('clusterName: kubernetes', `clusterName: race-${(races += 1)}`));
          return read;
        },
      }),
    );
    const from = real.server.audit().length;
    const lost = await sync.reconcile(cp1.node, true);
    expect(lost).to.deep.include({ status: 'fail' });
    expect(lost!.message).to.contain('other writers kept changing it; judged again at the next reconcile');
    expect(kubeadmConfigCalls(real.server, from).filter((call) => call === 'update 409')).to.have.length(3);
    racing = false;
    expect(await sync.reconcile(cp1.node, false)).to.deep.include({ status: 'pass' });
    expect(parse(await clusterConfiguration(real.server)).apiServer.extraArgs.profiling).to.equal('false');
  });

  it('two control-plane nodes at once converge on one content; then neither writes', async () => {
    await putKubeadmConfig(real.server, V1BETA4);
    const first = agent(real.server, cp1, () => ENFORCE).sync;
    const second = agent(real.server, cp2, () => ENFORCE).sync;
    const findings = await Promise.all([first.reconcile(cp1.node, true), second.reconcile(cp2.node, true)]);
    expect(findings.map((finding) => finding!.status)).to.deep.equal(['pass', 'pass']);
    const converged = await clusterConfiguration(real.server);
    expect(converged).to.not.match(/10\.0\.0\.1[01]|cp-[12]/);
    const from = real.server.audit().length;
    await Promise.all([first.reconcile(cp1.node, true), second.reconcile(cp2.node, true)]);
    expect(kubeadmConfigCalls(real.server, from)).to.deep.equal(['get 200', 'get 200']);
    expect(await clusterConfiguration(real.server)).to.equal(converged);
  });

  it('an apiVersion it does not know is left alone with a clear unknown finding', async () => {
    const v1beta2 = V1BETA3.replace('kubeadm.k8s.io/v1beta3', 'kubeadm.k8s.io/v1beta2');
    await putKubeadmConfig(real.server, v1beta2);
    const { sync } = agent(real.server, cp1, () => ENFORCE);
    const from = real.server.audit().length;
    const finding = await sync.reconcile(cp1.node, true);
    expect(finding).to.deep.include({
      status: 'unknown',
      message:
        'ClusterConfiguration: apiVersion kubeadm.k8s.io/v1beta2 is not one kube-harden writes (kubeadm.k8s.io/v1beta3, kubeadm.k8s.io/v1beta4); nothing written',
    });
    expect(kubeadmConfigCalls(real.server, from)).to.deep.equal(['get 200']);
    expect(await clusterConfiguration(real.server)).to.equal(v1beta2);
  });

  it('a worker (even the leader) and a control-plane node with the rule turned off never call it', async () => {
    await putKubeadmConfig(real.server, V1BETA3);
    const workerFs = new HostFs(await HostRoot.open(copyFixture('kubeadm-worker')));
    const runner = new FakeCommandRunner();
    const input = { nodeName: 'worker-1', nodeIp: '10.0.0.20', nodeIpSource: 'operator', kubeletVersion: 'v1.31.4', pluginDir: '/nonexistent' };
    const worker = await inspectNode(workerFs, runner, new ExecPluginProber(workerFs, runner, '/nonexistent'), input, ENFORCE);
    const off = policyFrom('mode: enforce\nrules:\n  kubeadm.cluster-configuration: { enabled: false }');
    const from = real.server.audit().length;
    expect(await agent(real.server, cp1, () => ENFORCE).sync.reconcile(worker, true)).to.equal(null);
    expect(await agent(real.server, cp1, () => off).sync.reconcile(await cp1.inspectAs(off), true)).to.equal(null);
    expect(kubeadmConfigCalls(real.server, from)).to.deep.equal([]);
    expect(await clusterConfiguration(real.server)).to.equal(V1BETA3);
  });

  it('no kubeadm-config (not a kubeadm-managed control plane): skip, nothing written', async () => {
    await real.server.objects().delete({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubeadm-config', namespace: 'kube-system' } });
    const { sync } = agent(real.server, cp1, () => ENFORCE);
    const finding = await sync.reconcile(cp1.node, true);
    expect(finding).to.deep.include({ status: 'skip' });
    expect(finding!.message).to.contain('not managed by kubeadm');
  });

  it('the daemon: a control-plane node hardens its manifests, then mirrors them in the reconcile it schedules right after', async () => {
    await putKubeadmConfig(real.server, V1BETA3);
    await real.server.putNode('cp-3', 'True', 'v1.29.10', '10.0.0.12');
    const root = copyFixture('kubeadm-control-plane');
    const metrics = new AgentMetrics('test');
    let daemon: Daemon | null = null;
    const { cluster } = await connectCluster({
      credentials: { kind: 'kubeconfig', path: real.server.agentKubeconfig },
      namespace: 'kube-harden',
      nodeName: 'cp-3',
      policy: () => daemon!.policyInForce,
      logger: silentLogger(),
      now: () => Date.now(),
      metrics,
      self: null,
      workloadDebounceMs: 20,
    });
    const fs = new HostFs(await HostRoot.open(root));
    const runner = new FakeCommandRunner();
    daemon = new Daemon(
      {
        policyFile: writePolicyFile(['mode: enforce']),
        input: { nodeName: 'cp-3', nodeIp: '10.0.0.10', nodeIpSource: 'operator', kubeletVersion: 'v1.29.10', pluginDir: '/nonexistent' },
        // Restarts on: --no-restart would leave the manifests alone (writing one restarts its component).
        noRestart: false,
        debounceMs: 20,
        pollMs: 60_000,
        restartIntervalMs: 300_000,
        slotRetryMs: 100,
        gateIntervalMs: 20,
        rollCheckMs: 60_000,
      },
      {
        fs,
        runner,
        plugins: new ExecPluginProber(fs, runner, '/nonexistent'),
        services: new FakeServiceManager(),
        health: () => new FakeHealthProbe([true]),
        metrics,
        logger: silentLogger(),
        now: () => Date.now(),
        cluster,
        disruption: null,
      },
    );
    // The kubelet's restart gate waits for the node Lease to be renewed after the restart: a kubelet's part.
    const kubelet = setInterval(() => void real.server.renewNodeLease('cp-3', Date.now()), 200);
    try {
      await daemon.start();
      // The start-up reconcile judged the manifests before hardening them: profiling was not yet there to mirror.
      await waitFor(
        async () => /profiling: "false"/.test(await clusterConfiguration(real.server)),
        20_000,
        'profiling=false mirrored into kubeadm-config',
      );
      await daemon.settled();
      expect(read(root, 'etc/kubernetes/manifests/kube-apiserver.yaml')).to.contain('- --profiling=false');
      const config = parse(await clusterConfiguration(real.server));
      expect(config.apiServer.extraArgs).to.include({ 'audit-log-maxage': '30', 'oidc-issuer-url': 'https://issuer.example.com' });
      expect(await metrics.text()).to.contain('kube_harden_rule_status{rule="kubeadm.cluster-configuration",status="pass"} 1');
    } finally {
      clearInterval(kubelet);
      await daemon.stop();
    }
  });
});
