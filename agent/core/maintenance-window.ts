/**
 * Maintenance windows: when a disruptive change (a kubelet restart, a static pod reload, a kube-proxy
 * roll) may happen. Pure: wall-clock times come from Intl in the window's IANA time zone, so daylight
 * saving changes are handled by the zone database, never by fixed offsets.
 */

/** Days as `Intl`/`Date#getUTCDay` number them: 0 = Sunday … 6 = Saturday. */
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * One recurring window (policy `restarts.windows[]`): it opens at `start` (local wall clock in
 * `timeZone`) on each of `days` and closes at `end`; an `end` before `start` closes on the next day.
 */
export interface MaintenanceWindow {
  readonly days: readonly Weekday[];
  /** Minutes after local midnight, 0-1439. */
  readonly startMinute: number;
  /** Minutes after local midnight, 1-1440 (1440 = the end of the day, written `24:00`). */
  readonly endMinute: number;
  /** An IANA zone name, e.g. `Europe/Berlin`; `UTC` is valid too. */
  readonly timeZone: string;
}

/** Whether a disruption may happen now, and if not, when the next window opens. */
export interface WindowState {
  readonly open: boolean;
  /** The next instant a window opens (null when open, or when none opens within the next 8 days). */
  readonly nextOpenMs: number | null;
  readonly reason: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, found);
  }
  return found;
}

/** True when `Intl` knows the zone (an unknown zone refuses the policy). */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** The local wall clock at an instant in a zone. */
interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly minute: number;
  readonly second: number;
  /** 0 = Sunday. */
  readonly weekday: number;
}

function wallClock(timeZone: string, ms: number): WallClock {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(ms)) if (part.type !== 'literal') parts[part.type] = Number(part.value);
  const year = parts.year!;
  const month = parts.month!;
  const day = parts.day!;
  return {
    year,
    month,
    day,
    minute: parts.hour! * 60 + parts.minute!,
    second: parts.second!,
    weekday: new Date(Date.UTC(year, month - 1, day)).getUTCDay(),
  };
}

/** The zone's offset from UTC at an instant, in ms (whole seconds). */
function offsetAt(timeZone: string, ms: number): number {
  const clock = wallClock(timeZone, ms);
  const asUtc = Date.UTC(clock.year, clock.month - 1, clock.day, 0, clock.minute, clock.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

function isOpenAt(window: MaintenanceWindow, ms: number): boolean {
  const clock = wallClock(window.timeZone, ms);
  const days = new Set(window.days.map((day) => WEEKDAYS.indexOf(day)));
  const { startMinute: start, endMinute: end } = window;
  if (start < end) return days.has(clock.weekday) && clock.minute >= start && clock.minute < end;
  // Crossing midnight: the evening part belongs to the window's day, the morning part to the day before.
  return (days.has(clock.weekday) && clock.minute >= start) || (days.has((clock.weekday + 6) % 7) && clock.minute < end);
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** A weekly schedule repeats within 7 days; one more covers a window that opened just before now. */
const HORIZON_DAYS = 8;

/** Instants in [fromMs, toMs] where the zone's offset changes (DST), to the second. */
function offsetChanges(timeZone: string, fromMs: number, toMs: number): number[] {
  const changes: number[] = [];
  let previous = offsetAt(timeZone, fromMs);
  for (let t = fromMs + HOUR_MS; t <= toMs + HOUR_MS; t += HOUR_MS) {
    const offset = offsetAt(timeZone, t);
    if (offset !== previous) {
      // Bisect to the first second with the new offset.
      let low = t - HOUR_MS;
      let high = t;
      while (high - low > 1000) {
        const middle = low + Math.floor((high - low) / 2000) * 1000;
        if (offsetAt(timeZone, middle) === previous) low = middle;
        else high = middle;
      }
      changes.push(high);
      previous = offset;
    }
  }
  return changes;
}

/**
 * Every instant at or after `fromMs` (within the horizon) where `window` may open: each local day's
 * `start` under every offset the zone has around it (a repeated hour has two), and each DST change (a
 * `start` inside a skipped hour opens when the clock jumps past it).
 */
function openingCandidates(window: MaintenanceWindow, fromMs: number): number[] {
  const candidates: number[] = [];
  const first = wallClock(window.timeZone, fromMs);
  for (let offsetDays = -1; offsetDays <= HORIZON_DAYS; offsetDays += 1) {
    const localMidnightAsUtc = Date.UTC(first.year, first.month - 1, first.day + offsetDays);
    const startAsUtc = localMidnightAsUtc + window.startMinute * 60_000;
    const offsets = new Set([-DAY_MS, 0, DAY_MS].map((shift) => offsetAt(window.timeZone, startAsUtc + shift)));
    for (const offset of offsets) {
      const instant = startAsUtc - offset;
      const clock = wallClock(window.timeZone, instant);
      if (clock.minute === window.startMinute && Date.UTC(clock.year, clock.month - 1, clock.day) === localMidnightAsUtc) candidates.push(instant);
    }
  }
  candidates.push(...offsetChanges(window.timeZone, fromMs - DAY_MS, fromMs + HORIZON_DAYS * DAY_MS));
  return candidates.filter((candidate) => candidate > fromMs);
}

function pad(value: number): string {
  return String(value).padStart(2, '0');
}

/** `HH:MM` for minutes after midnight (1440 is `24:00`). */
export function formatMinute(minute: number): string {
  return `${pad(Math.floor(minute / 60))}:${pad(minute % 60)}`;
}

/** How a window reads in messages: `mon,tue 02:00-04:00 Europe/Berlin`. */
export function describeWindow(window: MaintenanceWindow): string {
  const days = window.days.length === 7 ? 'every day' : window.days.join(',');
  return `${days} ${formatMinute(window.startMinute)}-${formatMinute(window.endMinute)} ${window.timeZone}`;
}

/**
 * Whether a disruption may happen at `nowMs`: no windows = always open; otherwise open while any
 * window is, and when closed, the next instant one opens (so a caller can sleep until then).
 */
export function windowState(windows: readonly MaintenanceWindow[], nowMs: number): WindowState {
  if (windows.length === 0) return { open: true, nextOpenMs: null, reason: 'no maintenance windows: disruption allowed at any time' };
  const openWindow = windows.find((window) => isOpenAt(window, nowMs));
  if (openWindow) return { open: true, nextOpenMs: null, reason: `inside maintenance window ${describeWindow(openWindow)}` };
  let next: { ms: number; window: MaintenanceWindow } | null = null;
  for (const window of windows)
    for (const candidate of openingCandidates(window, nowMs))
      if ((next === null || candidate < next.ms) && isOpenAt(window, candidate)) next = { ms: candidate, window };
  if (next === null)
    return {
      open: false,
      nextOpenMs: null,
      reason: `outside the maintenance windows (${windows.map(describeWindow).join('; ')}); none opens within 8 days`,
    };
  const local = wallClock(next.window.timeZone, next.ms);
  return {
    open: false,
    nextOpenMs: next.ms,
    reason: `outside the maintenance windows; next opens ${new Date(next.ms).toISOString()} (${local.year}-${pad(local.month)}-${pad(local.day)} ${formatMinute(local.minute)} ${next.window.timeZone})`,
  };
}
