import { expect } from 'chai';
import { describeWindow, isKnownTimeZone, windowState, type MaintenanceWindow, type Weekday } from '../../../agent/core/maintenance-window.js';

const EVERY_DAY: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
const window = (start: string, end: string, timeZone: string, days: Weekday[] = EVERY_DAY): MaintenanceWindow => ({
  days,
  startMinute: minutes(start),
  endMinute: minutes(end),
  timeZone,
});
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe('maintenance windows (fake clock, wall-clock time in IANA zones)', () => {
  it('without windows, disruption is allowed at any time', () => {
    const state = windowState([], at('2026-06-01T14:00:00Z'));
    expect(state).to.deep.include({ open: true, nextOpenMs: null });
  });

  // Each row: windows, the clock, expected open, expected next opening (UTC).
  const table: [string, MaintenanceWindow[], string, boolean, string | null][] = [
    // The case: a restart due at 14:00 with a 02:00-04:00 window waits until 02:00, then goes.
    [
      'restart due at 14:00, 02:00-04:00 UTC: closed until 02:00',
      [window('02:00', '04:00', 'UTC')],
      '2026-06-01T14:00:00Z',
      false,
      '2026-06-02T02:00:00.000Z',
    ],
    ['at 02:00 the window is open', [window('02:00', '04:00', 'UTC')], '2026-06-02T02:00:00Z', true, null],
    ['one second before 02:00 it is still closed', [window('02:00', '04:00', 'UTC')], '2026-06-02T01:59:59Z', false, '2026-06-02T02:00:00.000Z'],
    ['at 03:59:59 open', [window('02:00', '04:00', 'UTC')], '2026-06-02T03:59:59Z', true, null],
    ['at 04:00 closed again until the next night', [window('02:00', '04:00', 'UTC')], '2026-06-02T04:00:00Z', false, '2026-06-03T02:00:00.000Z'],
    // Europe/Berlin in summer (UTC+2) and winter (UTC+1).
    [
      'Berlin summer: 14:00 local waits for 02:00 CEST = 00:00Z',
      [window('02:00', '04:00', 'Europe/Berlin')],
      '2026-07-01T12:00:00Z',
      false,
      '2026-07-02T00:00:00.000Z',
    ],
    [
      'Berlin winter: 14:00 local waits for 02:00 CET = 01:00Z',
      [window('02:00', '04:00', 'Europe/Berlin')],
      '2026-01-15T13:00:00Z',
      false,
      '2026-01-16T01:00:00.000Z',
    ],
    // Spring forward 2026-03-29 01:00Z: 02:00 CET jumps to 03:00 CEST; 02:00 never happens, the window opens at the jump.
    [
      'Berlin spring forward: a 02:00 start opens when the clock jumps to 03:00',
      [window('02:00', '04:00', 'Europe/Berlin')],
      '2026-03-28T13:00:00Z',
      false,
      '2026-03-29T01:00:00.000Z',
    ],
    ['Berlin spring forward: open at 03:30 CEST', [window('02:00', '04:00', 'Europe/Berlin')], '2026-03-29T01:30:00Z', true, null],
    [
      'Berlin spring forward: closed at 04:00 CEST (02:00Z), only one real hour that night',
      [window('02:00', '04:00', 'Europe/Berlin')],
      '2026-03-29T02:00:00Z',
      false,
      '2026-03-30T00:00:00.000Z',
    ],
    // Fall back 2026-10-25 01:00Z: 03:00 CEST becomes 02:00 CET; the window lasts three real hours.
    [
      'Berlin fall back: 14:00 CEST waits for 02:00 CEST = 00:00Z',
      [window('02:00', '04:00', 'Europe/Berlin')],
      '2026-10-24T12:00:00Z',
      false,
      '2026-10-25T00:00:00.000Z',
    ],
    ['Berlin fall back: still open at 02:30Z (03:30 CET)', [window('02:00', '04:00', 'Europe/Berlin')], '2026-10-25T02:30:00Z', true, null],
    [
      'Berlin fall back: closed at 03:00Z (04:00 CET)',
      [window('02:00', '04:00', 'Europe/Berlin')],
      '2026-10-25T03:00:00Z',
      false,
      '2026-10-26T01:00:00.000Z',
    ],
    // A window inside the repeated hour happens twice: 02:00-02:30 CEST, then 02:00-02:30 CET.
    [
      'Berlin fall back: a window in the repeated hour opens again at 02:00 CET',
      [window('02:00', '02:30', 'Europe/Berlin')],
      '2026-10-25T00:45:00Z',
      false,
      '2026-10-25T01:00:00.000Z',
    ],
    // America/New_York: spring forward 2026-03-08 07:00Z (02:00 EST -> 03:00 EDT), fall back 2026-11-01 06:00Z.
    [
      'New York, Sundays 02:00-04:00: Saturday 14:00 EST waits for the jump to 03:00 EDT',
      [window('02:00', '04:00', 'America/New_York', ['sun'])],
      '2026-03-07T19:00:00Z',
      false,
      '2026-03-08T07:00:00.000Z',
    ],
    ['New York spring forward: open at 03:15 EDT', [window('02:00', '04:00', 'America/New_York', ['sun'])], '2026-03-08T07:15:00Z', true, null],
    [
      'New York, Sundays 02:00-04:00 after the spring Sunday: next Sunday 02:00 EDT',
      [window('02:00', '04:00', 'America/New_York', ['sun'])],
      '2026-03-08T08:00:00Z',
      false,
      '2026-03-15T06:00:00.000Z',
    ],
    [
      'New York fall back: 01:00-02:00 opens at 01:00 EDT (05:00Z)',
      [window('01:00', '02:00', 'America/New_York')],
      '2026-10-31T18:00:00Z',
      false,
      '2026-11-01T05:00:00.000Z',
    ],
    [
      'New York fall back: open through the repeated hour (01:30 EST = 06:30Z)',
      [window('01:00', '02:00', 'America/New_York')],
      '2026-11-01T06:30:00Z',
      true,
      null,
    ],
    [
      'New York fall back: closed at 02:00 EST (07:00Z)',
      [window('01:00', '02:00', 'America/New_York')],
      '2026-11-01T07:00:00Z',
      false,
      '2026-11-02T06:00:00.000Z',
    ],
    // Days of the week and windows crossing midnight.
    [
      'weekdays only: Friday 14:00 waits for Monday 02:00',
      [window('02:00', '04:00', 'UTC', ['mon', 'tue', 'wed', 'thu', 'fri'])],
      '2026-06-05T14:00:00Z',
      false,
      '2026-06-08T02:00:00.000Z',
    ],
    ['Friday 22:00-02:00 is open on Saturday at 01:00', [window('22:00', '02:00', 'UTC', ['fri'])], '2026-06-06T01:00:00Z', true, null],
    [
      'Friday 22:00-02:00 is closed on Saturday 22:00, opens next Friday',
      [window('22:00', '02:00', 'UTC', ['fri'])],
      '2026-06-06T22:00:00Z',
      false,
      '2026-06-12T22:00:00.000Z',
    ],
    [
      'Friday 22:00-02:00 closed on Friday 21:59',
      [window('22:00', '02:00', 'UTC', ['fri'])],
      '2026-06-05T21:59:00Z',
      false,
      '2026-06-05T22:00:00.000Z',
    ],
    ['a whole day 00:00-24:00 on Saturdays is open at 23:59', [window('00:00', '24:00', 'UTC', ['sat'])], '2026-06-06T23:59:00Z', true, null],
    [
      'a whole day on Saturdays: Sunday waits six days',
      [window('00:00', '24:00', 'UTC', ['sat'])],
      '2026-06-07T00:00:00Z',
      false,
      '2026-06-13T00:00:00.000Z',
    ],
    [
      'two windows: the earlier opening wins',
      [window('02:00', '04:00', 'UTC'), window('15:00', '16:00', 'Asia/Tokyo')],
      '2026-06-01T03:30:00Z',
      true,
      null,
    ],
    [
      'two windows: next is Tokyo 15:00 (06:00Z) before UTC 02:00',
      [window('02:00', '04:00', 'UTC'), window('15:00', '16:00', 'Asia/Tokyo')],
      '2026-06-01T04:00:00Z',
      false,
      '2026-06-01T06:00:00.000Z',
    ],
  ];
  for (const [name, windows, now, open, next] of table)
    it(name, () => {
      const state = windowState(windows, at(now));
      expect({ open: state.open, next: iso(state.nextOpenMs) }).to.deep.equal({ open, next });
      if (!open) {
        expect(state.reason).to.match(/^outside the maintenance windows; next opens /);
        // The next opening really is open, and one second before it is not.
        expect(windowState(windows, state.nextOpenMs!).open).to.equal(true);
        expect(windowState(windows, state.nextOpenMs! - 1000).open).to.equal(false);
      } else expect(state.reason).to.match(/^inside maintenance window /);
    });

  it('a restart due at 14:00 with a 02:00-04:00 window happens at 02:00 on a ticking fake clock', () => {
    const windows = [window('02:00', '04:00', 'Europe/Berlin')];
    let clock = at('2026-03-28T13:00:00Z'); // 14:00 CET, the night before spring forward
    const checked: string[] = [];
    while (!windowState(windows, clock).open) {
      checked.push(iso(clock)!);
      clock = windowState(windows, clock).nextOpenMs!;
    }
    expect(checked).to.have.length(1); // one wait, straight to the opening
    expect(iso(clock)).to.equal('2026-03-29T01:00:00.000Z');
  });

  it('names windows in messages and knows IANA zones', () => {
    expect(describeWindow(window('22:00', '02:00', 'Europe/Berlin', ['fri', 'sat']))).to.equal('fri,sat 22:00-02:00 Europe/Berlin');
    expect(describeWindow(window('00:00', '24:00', 'UTC'))).to.equal('every day 00:00-24:00 UTC');
    expect(isKnownTimeZone('America/New_York')).to.equal(true);
    expect(isKnownTimeZone('Mars/Olympus_Mons')).to.equal(false);
  });
});
