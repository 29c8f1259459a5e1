import { expect } from 'chai';
import { AuthenticationV1Api, AuthorizationV1Api, KubeConfig, type KubernetesObject, type V1PolicyRule } from '@kubernetes/client-node';
import type { ClusterApi } from '../../../agent/cluster/api.js';
import { EventRecorder } from '../../../agent/cluster/events.js';
import { nodeHealthCheck } from '../../../agent/cluster/node-health.js';
import { NodeAnnotator } from '../../../agent/cluster/node-status.js';
import { NodePodWatch } from '../../../agent/cluster/pod-watch.js';
import { LeaseSemaphore } from '../../../agent/cluster/semaphore.js';
import { AGENT_USER, realApiServerHooks, shippedRbac, type AuditRecord, type RealApiServer } from '../../helpers/real-apiserver.js';
import { sleep, waitFor } from '../../helpers/wait.js';

const NODE = 'rbac-node';

/**
 * Granted, but not exercisable on this v1.20.2 server: its build (Go 1.19 with the vendored
 * modern-go/reflect2) crashes on the first request for any custom resource. The ClusterPolicyReport
 * calls are exercised against the fake API server (test/integration/cluster/policy-report.test.ts).
 */
const NOT_ON_1_20 = new Set(['clusterpolicyreports']);

/** The cluster state the agent meets: its Node and node Lease, kube-proxy's ConfigMap, DaemonSet and pod, kubeadm's kubelet-config and kubeadm-config. */
async function clusterFixture(server: RealApiServer): Promise<void> {
  await server.putNode(NODE, 'True', 'v1.31.4', '10.0.0.30');
  await server.renewNodeLease(NODE, Date.now());
  await server.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kube-proxy', namespace: 'kube-system' },
    data: { 'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n' },
  } as KubernetesObject);
  await server.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kubelet-config', namespace: 'kube-system' },
    data: { kubelet: 'apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n' },
  } as KubernetesObject);
  await server.apply({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'kubeadm-config', namespace: 'kube-system' },
    data: { ClusterConfiguration: 'apiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\n' },
  } as KubernetesObject);
  await server.apply({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-proxy', namespace: 'kube-system' },
    spec: {
      selector: { matchLabels: { 'k8s-app': 'kube-proxy' } },
      template: {
        metadata: { labels: { 'k8s-app': 'kube-proxy' } },
        spec: { containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.31.4' }] },
      },
    },
  } as KubernetesObject);
  // The agent's own DaemonSet: its annotation kube-harden.io/paused is the fleet's pause switch.
  await server.apply({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'kube-harden', namespace: 'kube-harden' },
    spec: {
      selector: { matchLabels: { app: 'kube-harden' } },
      template: { metadata: { labels: { app: 'kube-harden' } }, spec: { containers: [{ name: 'agent', image: 'kube-harden:test' }] } },
    },
  } as KubernetesObject);
}

let run = 0;

/**
 * Every API operation the agent makes, through the agent's own cluster code as the ServiceAccount: the
 * Node annotator, the Event recorder, the restart semaphore, the health check, the pod watch, the
 * namespace list of the namespace rules, the leader's ConfigMap and DaemonSet calls, a control-plane
 * node's kubeadm-config update, the kube-proxy roll's pod delete, and the two reviews the
 * kube-rbac-proxy sidecar makes under the same ServiceAccount for each scrape. Errors are expected
 * when a permission is missing; the server's audit log says which.
 */
async function everyAgentOperation(server: RealApiServer): Promise<void> {
  run += 1;
  const api: ClusterApi = server.agentApi();
  const quietly = async (step: () => Promise<unknown>) => {
    await step().catch(() => undefined);
  };
  // A fresh kube-proxy pod on the node, for the roll's delete.
  await server.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `kube-proxy-${run}`, namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' } },
    spec: { nodeName: NODE, containers: [{ name: 'kube-proxy', image: 'registry.k8s.io/kube-proxy:v1.31.4' }] },
  } as KubernetesObject);

  await quietly(() => new NodeAnnotator(api.nodes, NODE, 300_000).report(run % 2 ? 'drifted' : 'compliant', Date.now()));
  await quietly(() => api.nodes.list());
  const recorder = new EventRecorder(api.events, {
    namespace: 'default',
    node: { name: NODE, uid: null },
    burst: 10,
    refillMs: 60_000,
    aggregateWindowMs: 600_000,
    patchIntervalMs: 60_000,
    now: () => Date.now(),
    onError: () => undefined,
  });
  recorder.record({ type: 'Normal', reason: 'Remediated', message: `run ${run}` });
  recorder.record({ type: 'Normal', reason: 'Remediated', message: `run ${run}` });
  await quietly(() => recorder.flush());
  // A new slot Lease per run, so that each run creates one (the first agent of a cluster does) and updates it.
  const semaphore = new LeaseSemaphore(api.leases, {
    namespace: 'kube-harden',
    holder: NODE,
    slots: () => 1,
    leaseDurationSeconds: () => 30,
    now: () => Date.now(),
    prefix: `kube-harden-restart-rbac${run}`,
  });
  await quietly(async () => {
    if (await semaphore.tryAcquire()) {
      await semaphore.renew();
      await semaphore.release();
    }
  });
  semaphore.abandon();
  await quietly(() => nodeHealthCheck(api.nodes, api.leases, NODE, 0).check());
  const watch = new NodePodWatch(api.pods, { node: NODE, retryMs: 60_000, onChange: () => undefined, onError: () => undefined });
  await quietly(() => watch.start());
  await sleep(100);
  watch.stop();
  await quietly(() => api.namespaces.list());
  await quietly(async () => {
    const configMap = await api.configMaps.get('kube-system', 'kube-proxy');
    if (configMap) await api.configMaps.replace({ ...configMap, data: { ...configMap.data, run: String(run) } });
  });
  await quietly(() => api.configMaps.patchAnnotations('kube-system', 'kube-proxy', { 'kube-harden.io/roll-state': 'rolling' }));
  await quietly(async () => {
    const configMap = await api.configMaps.get('kube-system', 'kubelet-config');
    if (configMap) await api.configMaps.replace({ ...configMap, data: { ...configMap.data, run: String(run) } });
  });
  // A kubeadm control-plane node keeping kubeadm-config in step (get, then replace at that resourceVersion).
  await quietly(async () => {
    const configMap = await api.configMaps.get('kube-system', 'kubeadm-config');
    if (configMap) await api.configMaps.replace({ ...configMap, data: { ...configMap.data, run: String(run) } });
  });
  await quietly(() => api.daemonSets.images('kube-system', 'kube-proxy'));
  await quietly(() => api.daemonSets.annotations('kube-harden', 'kube-harden'));
  await quietly(() => api.pods.delete('kube-system', `kube-proxy-${run}`));
  await quietly(() => metricsProxyReviews(server));
}

/** What kube-rbac-proxy does per scrape with the pod's ServiceAccount: a TokenReview, then a SubjectAccessReview. */
async function metricsProxyReviews(server: RealApiServer): Promise<void> {
  const config = new KubeConfig();
  config.loadFromFile(server.agentKubeconfig);
  await config.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token: 'a-scraper-token' } } });
  await config
    .makeApiClient(AuthorizationV1Api)
    .createSubjectAccessReview({ body: { spec: { user: 'prometheus', nonResourceAttributes: { path: '/metrics', verb: 'get' } } } });
}

/** One removable entry of the shipped RBAC: a verb, or one of several resourceNames, of one rule. */
interface Entry {
  readonly object: KubernetesObject & { rules: V1PolicyRule[] };
  readonly rule: number;
  readonly verb: string | null;
  readonly resourceName: string | null;
}

function describeEntry(entry: Entry): string {
  const rule = entry.object.rules[entry.rule]!;
  const where = `${entry.object.kind} ${entry.object.metadata?.namespace ? `${entry.object.metadata.namespace}/` : ''}${entry.object.metadata?.name}`;
  const what = entry.verb ? `verb ${entry.verb}` : `resourceName ${entry.resourceName}`;
  return `${where}: ${rule.resources?.join(',') ?? rule.nonResourceURLs?.join(',')} ${what}`;
}

function without(entry: Entry): KubernetesObject {
  const rules = entry.object.rules
    .map((rule, index) => {
      if (index !== entry.rule) return rule;
      if (entry.verb) return { ...rule, verbs: rule.verbs.filter((verb) => verb !== entry.verb) };
      return { ...rule, resourceNames: rule.resourceNames!.filter((name) => name !== entry.resourceName) };
    })
    .filter((rule) => rule.verbs.length > 0);
  return { ...entry.object, rules } as KubernetesObject;
}

/** Would the ServiceAccount be allowed this entry's verb on this entry's resource (the server's own answer)? */
async function allowed(server: RealApiServer, entry: Entry): Promise<boolean> {
  const rule = entry.object.rules[entry.rule]!;
  const review = await server
    .adminConfig()
    .makeApiClient(AuthorizationV1Api)
    .createSubjectAccessReview({
      body: {
        spec: {
          user: AGENT_USER,
          groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-harden', 'system:authenticated'],
          resourceAttributes: {
            group: rule.apiGroups?.[0] ?? '',
            resource: rule.resources?.[0],
            verb: entry.verb ?? rule.verbs[0],
            ...(entry.object.metadata?.namespace ? { namespace: entry.object.metadata.namespace } : {}),
            ...(entry.resourceName ? { name: entry.resourceName } : rule.resourceNames?.[0] ? { name: rule.resourceNames[0] } : {}),
          },
        },
      },
    });
  return review.status?.allowed === true;
}

function forbidden(records: readonly AuditRecord[]): AuditRecord[] {
  return records.filter((record) => record.code === 403);
}

describe('real API server: the shipped RBAC, both ways', function () {
  this.timeout(180_000);
  const real = realApiServerHooks();
  let rbac: KubernetesObject[];

  before(async function () {
    rbac = shippedRbac();
    for (const object of rbac) await real.server.apply(object);
    await clusterFixture(real.server);
  });

  it('what the shipped RBAC does not grant is refused to the ServiceAccount (the token really is subject to RBAC)', async () => {
    const from = real.server.audit().length;
    const config = new KubeConfig();
    config.loadFromFile(real.server.agentKubeconfig);
    const refused = await config
      .makeApiClient(AuthorizationV1Api)
      .createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { resource: 'secrets', verb: 'list' } } } });
    expect(refused.status?.allowed).to.equal(false);
    const api = real.server.agentApi();
    const error = await api.configMaps.get('kube-system', 'coredns').then(
      () => null,
      (caught: Error) => caught.message,
    );
    expect(error).to.match(/HTTP 403/);
    expect(forbidden(real.server.agentRequests(from))).to.have.length(1);
  });

  it('every agent operation as the shipped ServiceAccount: zero 403s, and every granted verb is used', async () => {
    const from = real.server.audit().length;
    await everyAgentOperation(real.server);
    const records = real.server.agentRequests(from);
    expect(forbidden(records).map((record) => `${record.verb} ${record.uri}`)).to.deep.equal([]);
    expect(records.filter((record) => record.code >= 400 && record.code !== 404)).to.deep.equal([]);
    // Every (resource, verb) the shipped roles bound to the agent grant appears in what it did.
    const used = new Set(records.map((record) => `${record.resource}|${record.verb}`));
    const granted = rbac
      .filter((object) => object.kind === 'Role' || (object.kind === 'ClusterRole' && object.metadata?.name === 'kube-harden-agent'))
      .flatMap((object) => (object as unknown as { rules: V1PolicyRule[] }).rules)
      .flatMap((rule) =>
        (rule.resources ?? [])
          .filter((resource) => !NOT_ON_1_20.has(resource))
          .flatMap((resource) => rule.verbs.map((verb) => `${resource}|${verb}`)),
      );
    expect(granted.filter((grant) => !used.has(grant))).to.deep.equal([]);
  });

  it('removing any single verb or resourceName from the shipped Roles and ClusterRole makes an agent operation fail with 403', async () => {
    const bound = new Set(
      rbac
        .filter((object) => object.kind === 'RoleBinding' || object.kind === 'ClusterRoleBinding')
        .map(
          (binding) =>
            `${(binding as unknown as { roleRef: { kind: string; name: string } }).roleRef.kind}/${(binding as unknown as { roleRef: { name: string } }).roleRef.name}/${binding.metadata?.namespace ?? ''}`,
        ),
    );
    const entries: Entry[] = [];
    for (const object of rbac) {
      if (object.kind !== 'Role' && object.kind !== 'ClusterRole') continue;
      const roles = object as KubernetesObject & { rules: V1PolicyRule[] };
      const key = `${object.kind}/${object.metadata?.name}/${object.kind === 'Role' ? (object.metadata?.namespace ?? '') : ''}`;
      if (!bound.has(key)) continue; // kube-harden-metrics-reader is for Prometheus to bind, not the agent's
      roles.rules.forEach((rule, index) => {
        if (rule.resources?.some((resource) => NOT_ON_1_20.has(resource))) return;
        for (const verb of rule.verbs) entries.push({ object: roles, rule: index, verb, resourceName: null });
        // Dropping the only resourceName would widen the rule; dropping one of several narrows it.
        if ((rule.resourceNames?.length ?? 0) > 1)
          for (const resourceName of rule.resourceNames!) entries.push({ object: roles, rule: index, verb: null, resourceName });
      });
    }
    expect(entries.length).to.be.at.least(15);
    const unused: string[] = [];
    for (const entry of entries) {
      await real.server.apply(without(entry));
      await waitFor(async () => !(await allowed(real.server, entry)), 10_000, `RBAC without ${describeEntry(entry)} in force`);
      const from = real.server.audit().length;
      await everyAgentOperation(real.server);
      const rule = entry.object.rules[entry.rule]!;
      const denied = forbidden(real.server.agentRequests(from)).filter(
        (record) => rule.resources?.includes(record.resource ?? '') && (entry.verb ? record.verb === entry.verb : record.name === entry.resourceName),
      );
      if (denied.length === 0) unused.push(describeEntry(entry));
      await real.server.apply(entry.object);
      await waitFor(() => allowed(real.server, entry), 10_000, `RBAC restored after ${describeEntry(entry)}`);
    }
    expect(unused, 'permissions no agent operation needs').to.deep.equal([]);
  });
});
