import { expect } from 'chai';
import { FlapGuard } from '../../../agent/daemon/flap-guard.js';

const FILE = '/var/lib/kubelet/config.yaml';
const RULES = ['kubelet.read-only-port'];

/** Eleven corrections of one file, a second apart, starting at `start`: the fight threshold crossed. */
function fight(guard: FlapGuard, start: number): number | null {
  let backoff: number | null = null;
  for (let index = 0; index < 11; index++) backoff = guard.record(FILE, RULES, start + index * 1000);
  return backoff;
}

/** architecture.md: more than 10 corrections of one file within a minute is a fight; held 30 s, doubling to 10 min, forgotten after an hour of quiet. */
describe('flap guard: backing off from another writer', () => {
  it('ten corrections within a minute are edits (never held); the eleventh starts a 30 s hold', () => {
    const guard = new FlapGuard();
    for (let index = 0; index < 10; index++) expect(guard.record(FILE, RULES, index * 1000)).to.equal(null);
    expect(guard.heldRules(10_000).size).to.equal(0);
    expect(guard.record(FILE, RULES, 10_000)).to.equal(30_000);
    expect([...guard.heldRules(10_001).keys()]).to.deep.equal(RULES);
    expect(guard.heldRules(10_001).get(RULES[0]!)).to.contain(`another writer keeps reverting ${FILE}`);
    expect(guard.heldRules(40_000).size, 'released when the hold ends').to.equal(0);
  });

  it('corrections spread over more than a minute are not a fight', () => {
    const guard = new FlapGuard();
    for (let index = 0; index < 30; index++) expect(guard.record(FILE, RULES, index * 7000)).to.equal(null);
  });

  it('each new fight doubles the hold, up to 10 minutes; an hour of quiet starts over at 30 s', () => {
    const guard = new FlapGuard();
    const holds: (number | null)[] = [];
    let at = 0;
    for (let round = 0; round < 7; round++) {
      holds.push(fight(guard, at));
      at += 20 * 60_000; // the next fight, well after the hold, well within the hour
    }
    expect(holds).to.deep.equal([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
    expect(fight(guard, at + 3_600_001)).to.equal(30_000);
  });
});
