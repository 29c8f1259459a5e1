/**
 * The policy fields that say when a disruption may happen (`restarts.windows`, `restarts.paused`,
 * `restarts.blockers`): types and validation. Pure; parsePolicy calls `parseDisruptionPolicy` and
 * collects every problem with the others.
 */
import { parseLabelSelector, type LabelSelector } from './label-selector.js';
import { WEEKDAYS, isKnownTimeZone, type MaintenanceWindow, type Weekday } from './maintenance-window.js';

/** `restarts.blockers.prometheus`: firing alerts that match hold every disruption. */
export interface PrometheusBlockerPolicy {
  /** The Prometheus base URL; the agent GETs `<url>/api/v1/alerts`. */
  readonly url: string;
  /** Every pair must be among the alert's labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** A JavaScript regular expression the whole alertname must match, or null for any. */
  readonly alertnameRegexp: string | null;
  readonly timeoutSeconds: number;
  /** Unreachable Prometheus: true (default) blocks, false lets the disruption go with a warning. */
  readonly failClosed: boolean;
}

/** A Node condition that blocks while it has `status` (e.g. `DiskPressure` True). */
export interface NodeConditionMatch {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
}

/** A Node taint that blocks while present: by key, and value and effect when given. */
export interface NodeTaintMatch {
  readonly key: string;
  readonly value: string | null;
  readonly effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute' | null;
}

export interface DisruptionBlockersPolicy {
  readonly prometheus: PrometheusBlockerPolicy | null;
  /** Pods on this node matching any of these selectors block. */
  readonly podSelectors: readonly LabelSelector[];
  readonly nodeConditions: readonly NodeConditionMatch[];
  readonly nodeTaints: readonly NodeTaintMatch[];
}

/** When a disruptive change may happen (issue 21). Non-disruptive changes never wait for these. */
export interface DisruptionPolicy {
  /** Empty: any time. */
  readonly windows: readonly MaintenanceWindow[];
  /** `restarts.paused: true` stops every new disruption, like the DaemonSet's pause annotation. */
  readonly paused: boolean;
  readonly blockers: DisruptionBlockersPolicy;
}

export const DEFAULT_DISRUPTION_POLICY: DisruptionPolicy = {
  windows: [],
  paused: false,
  blockers: { prometheus: null, podSelectors: [], nodeConditions: [], nodeTaints: [] },
};

export const DISRUPTION_POLICY_KEYS = ['windows', 'paused', 'blockers'] as const;

type Raw = Record<string, unknown>;

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownKeys(value: Raw, allowed: readonly string[], where: string, errors: string[]): void {
  for (const key of Object.keys(value)) if (!allowed.includes(key)) errors.push(`${where}: unknown field "${key}" (expected ${allowed.join(', ')})`);
}

const DAY_NAMES: Record<string, Weekday> = Object.fromEntries(
  WEEKDAYS.flatMap((day) => {
    const full = { sun: 'sunday', mon: 'monday', tue: 'tuesday', wed: 'wednesday', thu: 'thursday', fri: 'friday', sat: 'saturday' }[day];
    return [
      [day, day],
      [full, day],
    ];
  }),
);

/** `HH:MM` to minutes after midnight; `24:00` only when `allowEndOfDay`. */
function parseClock(value: unknown, allowEndOfDay: boolean): number | null {
  if (typeof value !== 'string') return null;
  const match = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(value);
  if (!match) return null;
  const minute = Number(match[1]) * 60 + Number(match[2]);
  if (minute > 1440 || (minute === 1440 && !allowEndOfDay)) return null;
  return minute;
}

function parseWindows(raw: unknown, where: string, errors: string[]): MaintenanceWindow[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    errors.push(`${where}: must be a list of windows such as { days: [sat, sun], start: "02:00", end: "04:00", timeZone: Europe/Berlin }`);
    return [];
  }
  const windows: MaintenanceWindow[] = [];
  raw.forEach((item: unknown, index) => {
    const at = `${where}[${index}]`;
    if (!isRecord(item)) {
      errors.push(`${at}: must be a mapping with days, start, end, timeZone`);
      return;
    }
    const before = errors.length;
    unknownKeys(item, ['days', 'start', 'end', 'timeZone'], at, errors);
    let days: Weekday[] = [...WEEKDAYS];
    if (item.days !== undefined) {
      const list = Array.isArray(item.days) ? item.days : [];
      const parsed = list.map((day) => (typeof day === 'string' ? DAY_NAMES[day.toLowerCase()] : undefined));
      if (list.length === 0 || parsed.some((day) => day === undefined))
        errors.push(`${at}.days: must be a non-empty list of days (mon, tue, wed, thu, fri, sat, sun)`);
      else days = WEEKDAYS.filter((day) => parsed.includes(day));
    }
    const start = parseClock(item.start, false);
    if (start === null) errors.push(`${at}.start: must be a time "HH:MM" from 00:00 to 23:59 (quote it in YAML)`);
    const end = parseClock(item.end, true);
    if (end === null) errors.push(`${at}.end: must be a time "HH:MM" from 00:01 to 24:00 (quote it in YAML)`);
    if (start !== null && end !== null && (start === end || end === 0))
      errors.push(`${at}: start and end must differ and end cannot be 00:00 (a whole day is start "00:00", end "24:00")`);
    if (typeof item.timeZone !== 'string' || item.timeZone === '')
      errors.push(`${at}.timeZone: required, an IANA time zone name such as Europe/Berlin or UTC`);
    else if (!isKnownTimeZone(item.timeZone))
      errors.push(`${at}.timeZone: unknown time zone "${item.timeZone}" (expected an IANA name such as Europe/Berlin)`);
    if (errors.length === before) windows.push({ days, startMinute: start!, endMinute: end!, timeZone: item.timeZone as string });
  });
  return windows;
}

function positiveNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

function parsePrometheus(raw: unknown, where: string, errors: string[]): PrometheusBlockerPolicy | null {
  if (raw === undefined || raw === null) return null;
  if (!isRecord(raw)) {
    errors.push(`${where}: must be a mapping with url and alertSelector`);
    return null;
  }
  const before = errors.length;
  unknownKeys(raw, ['url', 'alertSelector', 'timeoutSeconds', 'failClosed'], where, errors);
  let url = '';
  try {
    const parsed = new URL(typeof raw.url === 'string' ? raw.url : '');
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('scheme');
    url = typeof raw.url === 'string' ? raw.url.replace(/\/+$/, '') : '';
  } catch {
    errors.push(`${where}.url: must be an http:// or https:// URL of Prometheus, e.g. http://prometheus-k8s.monitoring.svc:9090`);
  }
  const selector = raw.alertSelector;
  let labels: Record<string, string> = {};
  let alertnameRegexp: string | null = null;
  if (!isRecord(selector)) errors.push(`${where}.alertSelector: required, a mapping with labels and/or alertnameRegexp`);
  else {
    unknownKeys(selector, ['labels', 'alertnameRegexp'], `${where}.alertSelector`, errors);
    const selectorBefore = errors.length;
    if (selector.labels !== undefined) {
      if (isRecord(selector.labels) && Object.values(selector.labels).every((value) => typeof value === 'string'))
        labels = selector.labels as Record<string, string>;
      else errors.push(`${where}.alertSelector.labels: must be a mapping of label names to values, e.g. { severity: critical }`);
    }
    if (selector.alertnameRegexp !== undefined) {
      if (typeof selector.alertnameRegexp !== 'string') errors.push(`${where}.alertSelector.alertnameRegexp: must be a string`);
      else
        try {
          new RegExp(selector.alertnameRegexp);
          alertnameRegexp = selector.alertnameRegexp;
        } catch (error) {
          errors.push(`${where}.alertSelector.alertnameRegexp: not a valid regular expression (${(error as Error).message})`);
        }
    }
    // An empty selector would make an always-firing alert (kube-prometheus' Watchdog) block forever.
    if (errors.length === selectorBefore && Object.keys(labels).length === 0 && alertnameRegexp === null)
      errors.push(`${where}.alertSelector: needs labels or alertnameRegexp (every firing alert, Watchdog included, would block)`);
  }
  let timeoutSeconds = 10;
  if (raw.timeoutSeconds !== undefined) {
    if (positiveNumber(raw.timeoutSeconds) && raw.timeoutSeconds <= 300) timeoutSeconds = raw.timeoutSeconds;
    else errors.push(`${where}.timeoutSeconds: must be a number of seconds above 0, at most 300`);
  }
  let failClosed = true;
  if (raw.failClosed !== undefined) {
    if (typeof raw.failClosed === 'boolean') failClosed = raw.failClosed;
    else errors.push(`${where}.failClosed: must be true or false`);
  }
  return errors.length === before ? { url, labels, alertnameRegexp, timeoutSeconds, failClosed } : null;
}

function stringList(raw: unknown, where: string, what: string, errors: string[]): string[] {
  if (raw === undefined || raw === null) return [];
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
    errors.push(`${where}: must be ${what} or a list of them`);
    return [];
  }
  return list;
}

const CONDITION = /^([A-Za-z0-9][-A-Za-z0-9_./]*)(?:=(True|False|Unknown))?$/;
const TAINT = /^([A-Za-z0-9][-A-Za-z0-9_./]*)(?:=([-A-Za-z0-9_.]*))?(?::(NoSchedule|PreferNoSchedule|NoExecute))?$/;

function parseBlockers(raw: unknown, where: string, errors: string[]): DisruptionBlockersPolicy {
  if (raw === undefined || raw === null) return DEFAULT_DISRUPTION_POLICY.blockers;
  if (!isRecord(raw)) {
    errors.push(`${where}: must be a mapping (prometheus, podSelector, nodeConditions, nodeTaints)`);
    return DEFAULT_DISRUPTION_POLICY.blockers;
  }
  unknownKeys(raw, ['prometheus', 'podSelector', 'nodeConditions', 'nodeTaints'], where, errors);
  const prometheus = parsePrometheus(raw.prometheus, `${where}.prometheus`, errors);
  const podSelectors: LabelSelector[] = [];
  for (const text of stringList(raw.podSelector, `${where}.podSelector`, 'a label selector such as "app=backup,tier!=web"', errors)) {
    const selector = parseLabelSelector(text);
    if (typeof selector === 'string') errors.push(`${where}.podSelector: "${text}": ${selector}`);
    else podSelectors.push(selector);
  }
  const nodeConditions: NodeConditionMatch[] = [];
  for (const text of stringList(raw.nodeConditions, `${where}.nodeConditions`, 'a condition type such as DiskPressure (or Type=False)', errors)) {
    const match = CONDITION.exec(text);
    if (!match) errors.push(`${where}.nodeConditions: "${text}": expected a condition type, optionally =True, =False or =Unknown`);
    else nodeConditions.push({ type: match[1]!, status: (match[2] as NodeConditionMatch['status'] | undefined) ?? 'True' });
  }
  const nodeTaints: NodeTaintMatch[] = [];
  for (const text of stringList(raw.nodeTaints, `${where}.nodeTaints`, 'a taint key such as node.kubernetes.io/unschedulable', errors)) {
    const match = TAINT.exec(text);
    if (!match) errors.push(`${where}.nodeTaints: "${text}": expected key, key=value, key:Effect or key=value:Effect`);
    else nodeTaints.push({ key: match[1]!, value: match[2] ?? null, effect: (match[3] as NodeTaintMatch['effect'] | undefined) ?? null });
  }
  return { prometheus, podSelectors, nodeConditions, nodeTaints };
}

/** Reads `restarts.windows`, `restarts.paused` and `restarts.blockers`; problems go to `errors`. */
export function parseDisruptionPolicy(restarts: Raw, file: string, errors: string[]): DisruptionPolicy {
  let paused = false;
  if (restarts.paused !== undefined) {
    if (typeof restarts.paused === 'boolean') paused = restarts.paused;
    else errors.push(`${file}: restarts.paused must be true or false`);
  }
  return {
    windows: parseWindows(restarts.windows, `${file}: restarts.windows`, errors),
    paused,
    blockers: parseBlockers(restarts.blockers, `${file}: restarts.blockers`, errors),
  };
}
