import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { alertVerdict, nodeVerdict, pauseVerdict, podVerdict } from '../../../agent/core/disruption-blockers.js';
import { matchesLabels, parseLabelSelector, type LabelSelector } from '../../../agent/core/label-selector.js';
import { parsePolicy } from '../../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../../agent/rules/index.js';
import { REPO } from '../../helpers/host.js';

const HEAD = 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\n';
const selector = (text: string): LabelSelector => {
  const parsed = parseLabelSelector(text);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
};

describe('policy: restarts.windows, restarts.paused, restarts.blockers', () => {
  it('loads the example policy in docs/operations.md as documented', () => {
    const doc = readFileSync(path.join(REPO, 'docs/operations.md'), 'utf8');
    const example = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1]!).find((block) => block.includes('windows:'));
    expect(example, 'the windows example in docs/operations.md').to.be.a('string');
    const result = parsePolicy(example!, 'docs/operations.md', RULE_VALUE_SPECS);
    expect(result.ok, result.ok ? '' : result.errors.join('\n')).to.equal(true);
    if (!result.ok) return;
    const { windows, blockers, paused } = result.policy.restarts;
    expect(windows).to.deep.equal([
      { days: ['mon', 'tue', 'wed', 'thu', 'fri'], startMinute: 120, endMinute: 240, timeZone: 'Europe/Berlin' },
      { days: ['sat'], startMinute: 1320, endMinute: 360, timeZone: 'America/New_York' },
    ]);
    expect(paused).to.equal(false);
    expect(blockers.prometheus).to.deep.equal({
      url: 'http://prometheus-k8s.monitoring.svc:9090',
      labels: { severity: 'critical' },
      alertnameRegexp: null,
      timeoutSeconds: 10,
      failClosed: true,
    });
    expect(blockers.podSelectors.map((selector) => selector.text)).to.deep.equal(['kube-harden.io/block-restarts=true']);
    expect(blockers.nodeConditions.map((condition) => `${condition.type}=${condition.status}`)).to.deep.equal([
      'DiskPressure=True',
      'MemoryPressure=True',
    ]);
    expect(blockers.nodeTaints).to.deep.equal([{ key: 'node.kubernetes.io/unschedulable', value: null, effect: null }]);
  });

  it('reads every form of every field', () => {
    const text = `${HEAD}restarts:
  maxConcurrent: 1
  windows:
    - { days: [mon, tue, wed, thu, fri], start: "02:00", end: "04:00", timeZone: Europe/Berlin }
    - { days: [Saturday], start: "22:00", end: "06:00", timeZone: America/New_York }
  paused: false
  blockers:
    prometheus:
      url: http://prometheus-k8s.monitoring.svc:9090/
      alertSelector: { labels: { severity: critical }, alertnameRegexp: "Kube.*" }
      timeoutSeconds: 5
      failClosed: true
    podSelector: "kube-harden.io/block-restarts=true"
    nodeConditions: [DiskPressure, "example.com/Maintenance=True"]
    nodeTaints: [node.kubernetes.io/unschedulable, "example.com/drain=now:NoSchedule"]
`;
    const result = parsePolicy(text, 'p.yaml', RULE_VALUE_SPECS);
    expect(result.ok, result.ok ? '' : result.errors.join('\n')).to.equal(true);
    if (!result.ok) return;
    const restarts = result.policy.restarts;
    expect(restarts.windows).to.deep.equal([
      { days: ['mon', 'tue', 'wed', 'thu', 'fri'], startMinute: 120, endMinute: 240, timeZone: 'Europe/Berlin' },
      { days: ['sat'], startMinute: 1320, endMinute: 360, timeZone: 'America/New_York' },
    ]);
    expect(restarts.paused).to.equal(false);
    expect(restarts.blockers.prometheus).to.deep.equal({
      url: 'http://prometheus-k8s.monitoring.svc:9090',
      labels: { severity: 'critical' },
      alertnameRegexp: 'Kube.*',
      timeoutSeconds: 5,
      failClosed: true,
    });
    expect(restarts.blockers.podSelectors.map((entry) => entry.text)).to.deep.equal(['kube-harden.io/block-restarts=true']);
    expect(restarts.blockers.nodeConditions).to.deep.equal([
      { type: 'DiskPressure', status: 'True' },
      { type: 'example.com/Maintenance', status: 'True' },
    ]);
    expect(restarts.blockers.nodeTaints).to.deep.equal([
      { key: 'node.kubernetes.io/unschedulable', value: null, effect: null },
      { key: 'example.com/drain', value: 'now', effect: 'NoSchedule' },
    ]);
  });

  it('defaults: failClosed true, a 10 s timeout, windows on every day', () => {
    const result = parsePolicy(
      `${HEAD}restarts:\n  windows: [{ start: "02:00", end: "24:00", timeZone: UTC }]\n  blockers:\n    prometheus: { url: "http://127.0.0.1:9090", alertSelector: { alertnameRegexp: "Node.*" } }\n  paused: true\n`,
      'p.yaml',
      RULE_VALUE_SPECS,
    );
    expect(result.ok, result.ok ? '' : result.errors.join('\n')).to.equal(true);
    if (!result.ok) return;
    expect(result.policy.restarts.windows[0]).to.deep.equal({
      days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'],
      startMinute: 120,
      endMinute: 1440,
      timeZone: 'UTC',
    });
    expect(result.policy.restarts.blockers.prometheus).to.include({ timeoutSeconds: 10, failClosed: true, alertnameRegexp: 'Node.*' });
    expect(result.policy.restarts.paused).to.equal(true);
  });

  it('refuses the whole policy and lists every problem, an unknown time zone among them', () => {
    const text = `${HEAD}restarts:
  speed: 3
  paused: "yes"
  windows:
    - { days: [mon, funday], start: "2:00", end: "25:00", timeZone: Europe/Atlantis, extra: 1 }
    - { start: "03:00", end: "03:00", timeZone: UTC }
    - { start: "03:00", end: "04:00" }
    - nope
  blockers:
    prometheus: { url: "ftp://x", alertSelector: { alertnameRegexp: "(" }, timeoutSeconds: 0, failClosed: maybe }
    podSelector: "app in (a,b"
    nodeConditions: ["Disk Pressure"]
    nodeTaints: ["key:Sometimes"]
    other: 1
`;
    const result = parsePolicy(text, 'bad.yaml', RULE_VALUE_SPECS);
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    const expected = [
      'bad.yaml: restarts: unknown field "speed"',
      'bad.yaml: restarts.paused must be true or false',
      'bad.yaml: restarts.windows[0]: unknown field "extra"',
      'bad.yaml: restarts.windows[0].days: must be a non-empty list of days',
      'bad.yaml: restarts.windows[0].start: must be a time "HH:MM"',
      'bad.yaml: restarts.windows[0].end: must be a time "HH:MM"',
      'bad.yaml: restarts.windows[0].timeZone: unknown time zone "Europe/Atlantis"',
      'bad.yaml: restarts.windows[1]: start and end must differ',
      'bad.yaml: restarts.windows[2].timeZone: required',
      'bad.yaml: restarts.windows[3]: must be a mapping',
      'bad.yaml: restarts.blockers: unknown field "other"',
      'bad.yaml: restarts.blockers.prometheus.url: must be an http:// or https:// URL',
      'bad.yaml: restarts.blockers.prometheus.alertSelector.alertnameRegexp: not a valid regular expression',
      'bad.yaml: restarts.blockers.prometheus.timeoutSeconds: must be a number of seconds above 0',
      'bad.yaml: restarts.blockers.prometheus.failClosed: must be true or false',
      'bad.yaml: restarts.blockers.podSelector: "app in (a,b": unbalanced parentheses',
      'bad.yaml: restarts.blockers.nodeConditions: "Disk Pressure"',
      'bad.yaml: restarts.blockers.nodeTaints: "key:Sometimes"',
    ];
    for (const needle of expected)
      expect(
        result.errors.some((error) => error.startsWith(needle)),
        `${needle}\n---\n${result.errors.join('\n')}`,
      ).to.equal(true);
    expect(result.errors).to.have.length(expected.length);
  });

  it('refuses an alert selector that would match every alert (Watchdog always fires)', () => {
    const result = parsePolicy(
      `${HEAD}restarts:\n  blockers:\n    prometheus: { url: "http://p:9090", alertSelector: {} }\n`,
      'p.yaml',
      RULE_VALUE_SPECS,
    );
    expect(result.ok).to.equal(false);
    if (!result.ok)
      expect(result.errors).to.deep.equal([
        'p.yaml: restarts.blockers.prometheus.alertSelector: needs labels or alertnameRegexp (every firing alert, Watchdog included, would block)',
      ]);
  });
});

describe('label selectors (kubectl -l syntax)', () => {
  const table: [string, Record<string, string>, boolean][] = [
    ['app=backup', { app: 'backup' }, true],
    ['app==backup', { app: 'backup', x: 'y' }, true],
    ['app=backup', { app: 'web' }, false],
    ['app!=backup', {}, true],
    ['app!=backup', { app: 'backup' }, false],
    ['app in (backup, restore)', { app: 'restore' }, true],
    ['app notin (backup,restore)', { app: 'restore' }, false],
    ['app notin (backup,restore)', {}, true],
    ['kube-harden.io/block-restarts', { 'kube-harden.io/block-restarts': '' }, true],
    ['!kube-harden.io/block-restarts', { 'kube-harden.io/block-restarts': 'x' }, false],
    ['app=backup,tier in (db),!canary', { app: 'backup', tier: 'db' }, true],
    ['app=backup,tier in (db),!canary', { app: 'backup', tier: 'db', canary: 'true' }, false],
  ];
  for (const [text, labels, match] of table)
    it(`${text} ${match ? 'matches' : 'does not match'} ${JSON.stringify(labels)}`, () =>
      expect(matchesLabels(selector(text), labels)).to.equal(match));

  it('refuses what kubectl refuses', () => {
    for (const bad of ['', 'app=', 'a b', 'app in (x', '-app=1', 'app=x y', 'Example.com/app=1', ',app=1'])
      if (bad !== 'app=') expect(parseLabelSelector(bad), bad).to.be.a('string');
    // An empty value is valid (app= matches app: "").
    expect(matchesLabels(selector('app='), { app: '' })).to.equal(true);
  });
});

describe('blocker verdicts', () => {
  const alert = (alertname: string, state = 'firing', labels: Record<string, string> = {}) => ({ labels: { alertname, ...labels }, state });

  it('alerts: firing ones matching every label and the whole alertname block; pending ones do not', () => {
    const critical = { labels: { severity: 'critical' }, alertnameRegexp: null };
    expect(alertVerdict([alert('NodeDown', 'firing', { severity: 'critical' })], critical)).to.deep.equal({
      verdict: 'blocked',
      reason: 'Prometheus alert firing: NodeDown',
    });
    expect(alertVerdict([alert('NodeDown', 'pending', { severity: 'critical' })], critical).verdict).to.equal('clear');
    expect(alertVerdict([alert('NodeDown', 'firing', { severity: 'warning' })], critical).verdict).to.equal('clear');
    const kube = { labels: {}, alertnameRegexp: 'Kube.*' };
    expect(alertVerdict([alert('Watchdog'), alert('NotKubeX')], kube).verdict).to.equal('clear'); // anchored
    expect(alertVerdict([alert('KubeA'), alert('KubeB'), alert('KubeC'), alert('KubeD'), alert('KubeA')], kube)).to.deep.equal({
      verdict: 'blocked',
      reason: 'Prometheus alert firing: KubeA, KubeB, KubeC and 1 more',
    });
  });

  it('pods: running pods matching a selector block; finished ones do not', () => {
    const pod = (name: string, labels: Record<string, string>, phase = 'Running') => ({
      metadata: { name, namespace: 'batch', labels },
      status: { phase },
    });
    const selectors = [selector('app=backup')];
    expect(podVerdict([pod('b-1', { app: 'backup' }), pod('web', { app: 'web' })], selectors)).to.deep.equal({
      verdict: 'blocked',
      reason: 'blocking pod running on this node: batch/b-1',
    });
    expect(podVerdict([pod('b-1', { app: 'backup' }, 'Succeeded'), pod('b-2', { app: 'backup' }, 'Failed')], selectors).verdict).to.equal('clear');
    expect(podVerdict([pod('b-1', { app: 'backup' }, 'Pending')], selectors).verdict).to.equal('blocked');
    expect(podVerdict([pod('b-1', { app: 'backup' })], []).verdict).to.equal('clear');
  });

  it('node: a condition with the given status or a matching taint blocks', () => {
    const node = {
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'DiskPressure', status: 'True' },
        { type: 'MemoryPressure', status: 'False' },
      ],
      taints: [{ key: 'example.com/drain', value: 'now', effect: 'NoSchedule' }],
    };
    expect(nodeVerdict(node, [{ type: 'MemoryPressure', status: 'True' }], []).verdict).to.equal('clear');
    expect(nodeVerdict(node, [{ type: 'DiskPressure', status: 'True' }], [{ key: 'example.com/drain', value: null, effect: null }])).to.deep.equal({
      verdict: 'blocked',
      reason: 'node condition DiskPressure=True, taint example.com/drain=now:NoSchedule',
    });
    expect(nodeVerdict(node, [], [{ key: 'example.com/drain', value: 'later', effect: null }]).verdict).to.equal('clear');
    expect(nodeVerdict(node, [], [{ key: 'example.com/drain', value: null, effect: 'NoExecute' }]).verdict).to.equal('clear');
  });

  it('pause: the policy field, the annotation with or without a reason, "false", a missing DaemonSet', () => {
    expect(pauseVerdict(true, {}, 'ns/ds')).to.deep.equal({ verdict: 'blocked', reason: 'paused by the policy (restarts.paused: true)' });
    expect(pauseVerdict(false, {}, 'ns/ds').verdict).to.equal('clear');
    expect(pauseVerdict(false, { 'kube-harden.io/paused': 'false' }, 'ns/ds').verdict).to.equal('clear');
    expect(pauseVerdict(false, { 'kube-harden.io/paused': 'true' }, 'kh/kube-harden')).to.deep.equal({
      verdict: 'blocked',
      reason: 'paused by kube-harden.io/paused on DaemonSet kh/kube-harden',
    });
    expect(pauseVerdict(false, { 'kube-harden.io/paused': 'true: change freeze until Monday' }, 'kh/kube-harden')).to.deep.equal({
      verdict: 'blocked',
      reason: 'paused by kube-harden.io/paused on DaemonSet kh/kube-harden: change freeze until Monday',
    });
    // Any other value was written to pause: fail closed.
    expect(pauseVerdict(false, { 'kube-harden.io/paused': 'yes' }, 'kh/ds').verdict).to.equal('blocked');
    expect(pauseVerdict(false, null, 'kh/ds')).to.deep.equal({ verdict: 'unknown', reason: 'pause switch unreadable: DaemonSet kh/ds not found' });
  });
});
