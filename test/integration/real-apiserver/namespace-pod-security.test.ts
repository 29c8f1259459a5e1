import { expect } from 'chai';
import { CoreV1Api, type KubernetesObject } from '@kubernetes/client-node';
import { DEFAULT_EVENT_LIMITS, EventRecorder } from '../../../agent/cluster/events.js';
import type { Policy } from '../../../agent/core/policy.js';
import { WorkloadAuditor } from '../../../agent/daemon/workload-audit.js';
import { ENFORCE_LABEL, NAMESPACE_POD_SECURITY } from '../../../agent/rules/workloads/namespace-rules.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { AgentMetrics } from '../../../agent/telemetry/metrics.js';
import { policyFrom } from '../../helpers/policy.js';
import { realApiServerHooks, shippedRbac, type RealApiServer } from '../../helpers/real-apiserver.js';

/** What the series of the namespace rule say on one agent: namespace → value. */
async function namespaceSeries(metrics: AgentMetrics): Promise<Record<string, number>> {
  const pattern = new RegExp(
    `kube_harden_workload_violations\\{rule="${NAMESPACE_POD_SECURITY.replace('.', '\\.')}",namespace="([^"]+)"\\} (\\d+)`,
    'g',
  );
  return Object.fromEntries([...(await metrics.text()).matchAll(pattern)].map((match) => [match[1]!, Number(match[2])]));
}

async function putNamespace(server: RealApiServer, name: string, labels: Record<string, string>): Promise<void> {
  await server.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } } as KubernetesObject);
}

/** One agent's namespace half of the workload audit, as the shipped ServiceAccount (its own metrics and Event recorder). */
function agent(server: RealApiServer, node: string, policy: Policy) {
  const api = server.agentApi();
  const metrics = new AgentMetrics('test');
  const recorder = () =>
    new EventRecorder(api.events, {
      namespace: 'default',
      node: { name: node, uid: null },
      ...DEFAULT_EVENT_LIMITS,
      now: () => Date.now(),
      onError: () => undefined,
    });
  const namespaceEvents = recorder();
  const auditor = new WorkloadAuditor(
    node,
    null,
    {
      pods: api.pods,
      events: recorder(),
      metrics,
      logger: silentLogger(),
      policy: () => policy,
      now: () => Date.now(),
      namespaces: api.namespaces,
      namespaceEvents,
      selfNamespace: 'kube-harden',
    },
    20,
  );
  return { auditor, metrics, namespaceEvents };
}

/**
 * workload.namespace-pod-security against a REAL kube-apiserver v1.20.2, as the shipped ServiceAccount:
 * the namespace list RBAC grants, the verdicts in kube_harden_workload_violations, and the Warning
 * Event on each failing Namespace, one per finding however many agents report it.
 */
describe('real API server: namespaces without a Pod Security level', function () {
  this.timeout(120_000);
  const real = realApiServerHooks();
  // The server's own namespaces (default, kube-system, kube-public, kube-node-lease) have no label either.
  const policy = policyFrom(
    [
      'exemptions:',
      `  - { rule: ${NAMESPACE_POD_SECURITY}, namespaces: [default, kube-system, kube-public, kube-node-lease], reason: "the server's own" }`,
      `  - { rule: ${NAMESPACE_POD_SECURITY}, labels: { team: infra }, reason: "infra tooling", expires: 2999-01-01 }`,
      '',
    ].join('\n'),
  );

  before(async () => {
    for (const object of shippedRbac()) await real.server.apply(object);
    await putNamespace(real.server, 'team-open', {});
    await putNamespace(real.server, 'team-privileged', { [ENFORCE_LABEL]: 'privileged' });
    await putNamespace(real.server, 'team-baseline', { [ENFORCE_LABEL]: 'baseline' });
    await putNamespace(real.server, 'team-restricted', { [ENFORCE_LABEL]: 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' });
    await putNamespace(real.server, 'infra-tools', { [ENFORCE_LABEL]: 'privileged', team: 'infra' });
    await putNamespace(real.server, 'kube-harden', { [ENFORCE_LABEL]: 'privileged' });
  });

  it('missing and privileged fail in the metric and as one Warning Event on the Namespace, from two agents; the rest pass or are exempt', async () => {
    const from = real.server.audit().length;
    const agents = [agent(real.server, 'node-a', policy), agent(real.server, 'node-b', policy)];
    for (const { auditor } of agents) await auditor.refreshNamespaces(true);
    for (const { namespaceEvents } of agents) await namespaceEvents.flush();

    for (const { metrics } of agents) expect(await namespaceSeries(metrics)).to.deep.equal({ 'team-open': 1, 'team-privileged': 1 });
    const audit = agents[0]!.auditor.audit();
    expect(audit.namespaces).to.be.at.least(10);
    expect(audit.exempted.map((entry) => `${entry.namespace}: ${entry.reason}`)).to.include.members([
      'infra-tools: infra tooling',
      "kube-harden: the agent's own namespace: the agent runs privileged by design",
      "default: the server's own",
    ]);

    const core = real.server.adminConfig().makeApiClient(CoreV1Api);
    for (const [namespace, words] of [
      ['team-open', `no ${ENFORCE_LABEL} label`],
      ['team-privileged', `${ENFORCE_LABEL}=privileged restricts nothing`],
    ] as const) {
      const events = (await core.listNamespacedEvent({ namespace })).items;
      expect(events, namespace).to.have.length(1);
      expect(events[0]!).to.deep.include({ type: 'Warning', reason: 'WorkloadViolation', count: 1 });
      expect(events[0]!.involvedObject).to.deep.include({ kind: 'Namespace', name: namespace });
      expect(events[0]!.message).to.contain(`${NAMESPACE_POD_SECURITY}: ${words}`);
    }
    for (const namespace of ['team-baseline', 'team-restricted', 'infra-tools'])
      expect((await core.listNamespacedEvent({ namespace })).items, namespace).to.deep.equal([]);

    // The server's record: one namespace list per agent, the second agent's creates were conflicts, no 403.
    const records = real.server.agentRequests(from);
    expect(records.filter((record) => record.resource === 'namespaces').map((record) => `${record.verb} ${record.code}`)).to.deep.equal([
      'list 200',
      'list 200',
    ]);
    const creates = records.filter((record) => record.resource === 'events' && record.verb === 'create').map((record) => record.code);
    expect(creates.sort()).to.deep.equal([201, 201, 409, 409]);
    expect(records.filter((record) => record.code === 403)).to.deep.equal([]);
  });

  it('a label set later clears the finding at the next refresh; an agent that stops reporting drops its series', async () => {
    const reporter = agent(real.server, 'node-a', policy);
    const other = agent(real.server, 'node-b', policy);
    await reporter.auditor.refreshNamespaces(true);
    await other.auditor.refreshNamespaces(true);
    expect(await namespaceSeries(reporter.metrics)).to.have.property('team-open', 1);

    await putNamespace(real.server, 'team-open', { [ENFORCE_LABEL]: 'baseline' });
    await reporter.auditor.refreshNamespaces(true);
    expect(await namespaceSeries(reporter.metrics)).to.deep.equal({ 'team-privileged': 1 });

    await other.auditor.refreshNamespaces(false);
    expect(await namespaceSeries(other.metrics)).to.deep.equal({});
  });

  it('the policy minimum restricted fails baseline too', async () => {
    const strict = agent(
      real.server,
      'node-a',
      policyFrom(
        `rules:\n  ${NAMESPACE_POD_SECURITY}: { value: restricted }\nexemptions:\n  - { rule: ${NAMESPACE_POD_SECURITY}, namespaces: [default, kube-system, kube-public, kube-node-lease, infra-tools], reason: "x" }\n`,
      ),
    );
    await strict.auditor.refreshNamespaces(true);
    expect(await namespaceSeries(strict.metrics)).to.deep.equal({ 'team-baseline': 1, 'team-open': 1, 'team-privileged': 1 });
  });
});
