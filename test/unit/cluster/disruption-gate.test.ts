import { expect } from 'chai';
import type { NodeRecord, PodRecord } from '../../../agent/cluster/api.js';
import {
  ReportedDisruptionGate,
  agentDaemonSetName,
  createDisruptionGate,
  type DisruptionDecision,
  type DisruptionGateCluster,
} from '../../../agent/cluster/disruption-gate.js';
import type { AlertSource } from '../../../agent/cluster/prometheus-alerts.js';
import type { PrometheusAlert } from '../../../agent/core/disruption-blockers.js';
import { DEFAULT_DISRUPTION_POLICY, type DisruptionPolicy } from '../../../agent/core/disruption-policy.js';
import { parseLabelSelector, type LabelSelector } from '../../../agent/core/label-selector.js';
import { AgentMetrics } from '../../../agent/telemetry/metrics.js';
import { silentLogger, type Logger } from '../../../agent/telemetry/logger.js';

const at = (iso: string) => Date.parse(iso);

/** A hand-written fake of the three ClusterApi slices the gate reads; each can fail on demand. */
class FakeCluster implements DisruptionGateCluster {
  podList: { name: string; labels: Record<string, string>; phase?: string }[] = [];
  node: Pick<NodeRecord, 'conditions' | 'taints'> = { conditions: [{ type: 'Ready', status: 'True' }], taints: [] };
  dsAnnotations: Record<string, string> | null = {};
  failing = new Set<'pods' | 'nodes' | 'daemonSets'>();
  calls: string[] = [];
  readonly pods = {
    listOnNode: async (node: string) => {
      this.calls.push(`pods ${node}`);
      if (this.failing.has('pods')) throw new Error('pods on node node-a: HTTP 503');
      const pods: PodRecord[] = this.podList.map((pod) => ({
        pod: {
          metadata: { name: pod.name, namespace: 'batch', labels: pod.labels },
          spec: { containers: [] },
          status: { phase: pod.phase ?? 'Running' },
        },
        uid: null,
        resourceVersion: null,
        createdMs: null,
        ready: true,
      }));
      return { pods, resourceVersion: '1' };
    },
  };
  readonly nodes = {
    get: async (name: string): Promise<NodeRecord> => {
      this.calls.push(`node ${name}`);
      if (this.failing.has('nodes')) throw new Error('node node-a: HTTP 503');
      return { name, uid: null, annotations: {}, labels: {}, ready: 'True', kubeletVersion: null, internalIPs: [], ...this.node };
    },
  };
  readonly daemonSets = {
    annotations: async (namespace: string, name: string) => {
      this.calls.push(`daemonset ${namespace}/${name}`);
      if (this.failing.has('daemonSets')) throw new Error(`daemonset ${namespace}/${name}: HTTP 403: forbidden`);
      return this.dsAnnotations;
    },
  };
}

class FakeAlerts implements AlertSource {
  firing: PrometheusAlert[] = [];
  error: Error | null = null;
  asked: { url: string; timeoutMs: number }[] = [];
  async alerts(url: string, timeoutMs: number): Promise<PrometheusAlert[]> {
    this.asked.push({ url, timeoutMs });
    if (this.error) throw this.error;
    return this.firing;
  }
}

function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    ...silentLogger(),
    warn: (text: string) => warnings.push(text),
    info: (text: string) => infos.push(text),
    warnings,
    infos,
  } as unknown as Logger & {
    warnings: string[];
    infos: string[];
  };
}

const selector = (text: string) => parseLabelSelector(text) as LabelSelector;
const window = { days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const, startMinute: 120, endMinute: 240, timeZone: 'Europe/Berlin' };

describe('disruption gate: windows, then pause, then blockers (fakes, fake clock)', () => {
  let cluster: FakeCluster;
  let alerts: FakeAlerts;
  let policy: DisruptionPolicy;
  let logger: ReturnType<typeof recordingLogger>;
  const gate = () =>
    createDisruptionGate({
      policy: () => policy,
      nodeName: 'node-a',
      cluster,
      daemonSet: { namespace: 'kube-harden', name: 'kube-harden' },
      alerts,
      logger,
      recheckMs: 30_000,
    });
  const blockers = (extra: Partial<DisruptionPolicy['blockers']>) => ({ ...DEFAULT_DISRUPTION_POLICY.blockers, ...extra });

  beforeEach(() => {
    cluster = new FakeCluster();
    alerts = new FakeAlerts();
    policy = DEFAULT_DISRUPTION_POLICY;
    logger = recordingLogger();
  });

  it('with nothing configured: allowed, after reading only the pause annotation', async () => {
    expect(await gate().check(at('2026-06-01T14:00:00Z'))).to.deep.equal({ allowed: true });
    expect(cluster.calls).to.deep.equal(['daemonset kube-harden/kube-harden']);
    expect(alerts.asked).to.deep.equal([]);
  });

  it('a restart due at 14:00 with a 02:00-04:00 window waits (pending-window, retry at 02:00) and goes at 02:00', async () => {
    policy = { ...DEFAULT_DISRUPTION_POLICY, windows: [{ ...window, days: [...window.days] }] };
    const first = await gate().check(at('2026-07-01T12:00:00Z')); // 14:00 CEST
    expect(first).to.deep.include({ allowed: false, state: 'pending-window', cause: 'window', retryAtMs: at('2026-07-02T00:00:00Z') });
    // Outside the window nothing else is asked: no API calls, no Prometheus query.
    expect(cluster.calls).to.deep.equal([]);
    const retry = (first as { retryAtMs: number }).retryAtMs;
    expect(await gate().check(retry - 1000)).to.deep.include({ allowed: false, state: 'pending-window' });
    expect(await gate().check(retry)).to.deep.equal({ allowed: true });
  });

  it('the window comes before the pause; the pause before the blockers', async () => {
    policy = { ...DEFAULT_DISRUPTION_POLICY, windows: [{ ...window, days: [...window.days] }], paused: true };
    expect(await gate().check(at('2026-07-01T12:00:00Z'))).to.deep.include({ state: 'pending-window' });
    const inWindow = at('2026-07-02T00:30:00Z');
    expect(await gate().check(inWindow)).to.deep.equal({
      allowed: false,
      state: 'paused',
      cause: 'paused',
      reason: 'paused by the policy (restarts.paused: true)',
      retryAtMs: inWindow + 30_000,
    });
    policy = { ...policy, paused: false, blockers: blockers({ podSelectors: [selector('app=backup')] }) };
    cluster.podList = [{ name: 'backup-1', labels: { app: 'backup' } }];
    cluster.dsAnnotations = { 'kube-harden.io/paused': 'true: freeze' };
    cluster.calls = [];
    expect(await gate().check(inWindow)).to.deep.include({
      state: 'paused',
      reason: 'paused by kube-harden.io/paused on DaemonSet kube-harden/kube-harden: freeze',
    });
    expect(cluster.calls).to.deep.equal(['daemonset kube-harden/kube-harden']); // blockers not consulted while paused
    cluster.dsAnnotations = { 'kube-harden.io/paused': 'false' };
    expect(await gate().check(inWindow)).to.deep.include({
      state: 'blocked',
      cause: 'pod',
      reason: 'blocking pod running on this node: batch/backup-1',
    });
  });

  it('an unreadable pause switch (API error, missing DaemonSet) holds the disruption as unknown', async () => {
    cluster.failing.add('daemonSets');
    expect(await gate().check(0)).to.deep.include({
      allowed: false,
      state: 'blocked',
      cause: 'unknown',
      reason: 'pause switch unreadable: daemonset kube-harden/kube-harden: HTTP 403: forbidden',
    });
    cluster.failing.clear();
    cluster.dsAnnotations = null;
    expect(await gate().check(0)).to.deep.include({
      cause: 'unknown',
      reason: 'pause switch unreadable: DaemonSet kube-harden/kube-harden not found',
    });
  });

  it('a firing alert blocks; an unreachable Prometheus blocks when failClosed, lets it go with a warning otherwise', async () => {
    const prometheus = { url: 'http://prom:9090', labels: { severity: 'critical' }, alertnameRegexp: null, timeoutSeconds: 2, failClosed: true };
    policy = { ...DEFAULT_DISRUPTION_POLICY, blockers: blockers({ prometheus }) };
    alerts.firing = [{ labels: { alertname: 'EtcdDown', severity: 'critical' }, state: 'firing' }];
    expect(await gate().check(0)).to.deep.include({ state: 'blocked', cause: 'alert', reason: 'Prometheus alert firing: EtcdDown' });
    expect(alerts.asked).to.deep.equal([{ url: 'http://prom:9090', timeoutMs: 2000 }]);
    alerts.firing = [{ labels: { alertname: 'EtcdDown', severity: 'warning' }, state: 'firing' }];
    expect(await gate().check(0)).to.deep.equal({ allowed: true });
    alerts.error = new Error('prometheus unreachable: ECONNREFUSED');
    expect(await gate().check(0)).to.deep.include({ state: 'blocked', cause: 'unknown', reason: 'prometheus unreachable: ECONNREFUSED' });
    policy = { ...policy, blockers: blockers({ prometheus: { ...prometheus, failClosed: false } }) };
    expect(await gate().check(0)).to.deep.equal({ allowed: true });
    expect(logger.warnings).to.deep.equal(['prometheus alerts unknown, disruption allowed (restarts.blockers.prometheus.failClosed: false)']);
  });

  it('node conditions and taints block; an unreadable Node or pod list is unknown; a real block wins over an unknown', async () => {
    policy = {
      ...DEFAULT_DISRUPTION_POLICY,
      blockers: blockers({
        nodeConditions: [{ type: 'DiskPressure', status: 'True' }],
        nodeTaints: [{ key: 'example.com/maintenance', value: null, effect: null }],
        podSelectors: [selector('app=backup')],
      }),
    };
    expect(await gate().check(0)).to.deep.equal({ allowed: true });
    cluster.node = {
      conditions: [{ type: 'DiskPressure', status: 'True' }],
      taints: [{ key: 'example.com/maintenance', value: null, effect: 'NoSchedule' }],
    };
    expect(await gate().check(0)).to.deep.include({
      cause: 'node',
      reason: 'node condition DiskPressure=True, taint example.com/maintenance:NoSchedule',
    });
    cluster.failing.add('pods');
    expect(await gate().check(0)).to.deep.include({ cause: 'node' });
    cluster.node = { conditions: [], taints: [] };
    expect(await gate().check(0)).to.deep.include({
      state: 'blocked',
      cause: 'unknown',
      reason: 'blocking pods unknown: pods on node node-a: HTTP 503',
    });
    cluster.failing = new Set(['nodes']);
    expect(await gate().check(0)).to.deep.include({ cause: 'unknown', reason: 'node conditions and taints unknown: node node-a: HTTP 503' });
  });

  it('without cluster credentials: windows, policy pause and Prometheus still work; pod and node blockers are unknown', async () => {
    const standalone = (p: DisruptionPolicy) =>
      createDisruptionGate({ policy: () => p, nodeName: 'node-a', cluster: null, daemonSet: null, alerts, logger }).check(0);
    expect(await standalone(DEFAULT_DISRUPTION_POLICY)).to.deep.equal({ allowed: true });
    expect(await standalone({ ...DEFAULT_DISRUPTION_POLICY, paused: true })).to.deep.include({ state: 'paused' });
    expect(await standalone({ ...DEFAULT_DISRUPTION_POLICY, blockers: blockers({ podSelectors: [selector('a=b')] }) })).to.deep.include({
      cause: 'unknown',
      reason: 'blocking pods unknown: no cluster credentials',
    });
  });

  it('a blocked or paused node asks again after a minute by default', async () => {
    const g = createDisruptionGate({
      policy: () => ({ ...DEFAULT_DISRUPTION_POLICY, paused: true }),
      nodeName: 'n',
      cluster,
      daemonSet: null,
      alerts,
      logger,
    });
    expect(await g.check(1_000)).to.deep.include({ state: 'paused', retryAtMs: 61_000 });
  });

  it('reads the policy at every check (a reloaded policy applies at once)', async () => {
    const g = gate();
    expect(await g.check(0)).to.deep.equal({ allowed: true });
    policy = { ...DEFAULT_DISRUPTION_POLICY, paused: true };
    expect(await g.check(0)).to.deep.include({ state: 'paused' });
  });

  it('the DaemonSet name comes from $KUBE_HARDEN_DAEMONSET, default kube-harden', () => {
    expect(agentDaemonSetName({})).to.equal('kube-harden');
    expect(agentDaemonSetName({ KUBE_HARDEN_DAEMONSET: 'prod-kube-harden' })).to.equal('prod-kube-harden');
  });
});

describe('reported disruption gate: the metric and one log line and callback per change', () => {
  const blocked = (value: number, reason: string) => `kube_harden_disruption_blocked{reason="${reason}"} ${value}`;

  it('sets kube_harden_disruption_blocked{reason} to 1 while held, 0 for the others, and clears', async () => {
    const metrics = new AgentMetrics('test');
    for (const reason of ['window', 'paused', 'alert', 'pod', 'node', 'unknown']) expect(await metrics.text()).to.contain(blocked(0, reason));
    let next: DisruptionDecision = { allowed: false, state: 'pending-window', cause: 'window', reason: 'outside', retryAtMs: 5 };
    const changes: DisruptionDecision[] = [];
    const logger = recordingLogger();
    const reported = new ReportedDisruptionGate({ check: async () => next }, metrics, logger, (decision) => changes.push(decision));
    await reported.check(0);
    await reported.check(1); // the same answer: no second log line or callback
    expect(await metrics.text())
      .to.contain(blocked(1, 'window'))
      .and.contain(blocked(0, 'paused'));
    next = { allowed: false, state: 'paused', cause: 'paused', reason: 'paused by the policy', retryAtMs: 10 };
    await reported.check(2);
    expect(await metrics.text())
      .to.contain(blocked(0, 'window'))
      .and.contain(blocked(1, 'paused'));
    expect(reported.decision).to.deep.equal(next);
    next = { allowed: true };
    await reported.check(3);
    expect(await metrics.text()).to.contain(blocked(0, 'paused'));
    expect(changes.map((decision) => (decision.allowed ? 'allowed' : decision.state))).to.deep.equal(['pending-window', 'paused', 'allowed']);
    expect(logger.infos).to.deep.equal(['disruption held', 'disruption held', 'disruption allowed']);
    next = { allowed: false, state: 'blocked', cause: 'alert', reason: 'x', retryAtMs: 1 };
    await reported.check(4);
    expect(await metrics.text()).to.contain(blocked(1, 'alert'));
    reported.clear();
    expect(await metrics.text()).to.contain(blocked(0, 'alert'));
    expect(reported.decision).to.equal(null);
  });
});
