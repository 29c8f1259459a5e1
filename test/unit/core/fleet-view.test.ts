import { expect } from 'chai';
import { fleetView, type FleetInput } from '../../../agent/core/fleet-view.js';

const NOW = 1_800_000_000_000;
const input = (nodes: FleetInput['nodes'], slots: FleetInput['slots'] = []): FleetInput => ({
  nodes,
  slots,
  reports: [],
  nowMs: NOW,
  staleMs: 900_000,
});
const node = (name: string, state: string | null, agoMs = 0) => ({ name, state, lastReconcileMs: state === null ? null : NOW - agoMs });

describe('fleet view: node states for kube-harden report', () => {
  const cases: [string, FleetInput, string, string | null][] = [
    ['compliant', input([node('a', 'compliant')]), 'compliant', null],
    ['drifted (audit mode)', input([node('a', 'drifted')]), 'drifted', null],
    [
      'remediating with a slot',
      input([node('a', 'remediating')], [{ name: 'kube-harden-restart-0', holder: 'a', expiresMs: NOW + 1 }]),
      'remediating',
      'holds kube-harden-restart-0',
    ],
    ['remediating without a slot is held', input([node('a', 'remediating')]), 'held', 'waiting for a restart slot'],
    [
      'remediating with an expired slot is held',
      input([node('a', 'remediating')], [{ name: 'kube-harden-restart-0', holder: 'a', expiresMs: NOW - 1 }]),
      'held',
      'waiting for a restart slot',
    ],
    ['degraded', input([node('a', 'degraded')]), 'degraded', null],
    // operations.md: a disruption that may not happen now is held, with why.
    ['outside the maintenance windows is held', input([node('a', 'pending-window')]), 'held', 'outside the maintenance windows'],
    ['paused is held', input([node('a', 'paused')]), 'held', 'paused (the pause switch)'],
    ['blocked is held', input([node('a', 'blocked')]), 'held', 'a disruption blocker holds it (alert, pod, node condition or taint)'],
    ['no annotation', input([node('a', null)]), 'unknown', 'no kube-harden.io/state annotation (no agent reported)'],
    ['an unknown value', input([node('a', 'happy')]), 'unknown', 'unknown state "happy"'],
    [
      'silent for longer than staleMs',
      input([node('a', 'compliant', 900_001)]),
      'unknown',
      `last reported ${new Date(NOW - 900_001).toISOString()} (agent silent)`,
    ],
  ];
  for (const [name, given, state, detail] of cases)
    it(name, () => {
      const view = fleetView(given);
      expect(view.nodes[0]).to.include({ state, detail });
      expect(view.failing).to.equal(state !== 'compliant');
    });

  it('the stuck node holds a slot while degraded; a slot held by a deleted Node is named so', () => {
    const view = fleetView(
      input(
        [node('a', 'degraded'), node('b', 'remediating'), node('c', 'compliant')],
        [
          { name: 'kube-harden-restart-0', holder: 'a', expiresMs: NOW + 10 },
          { name: 'kube-harden-restart-1', holder: 'gone', expiresMs: NOW + 10 },
          { name: 'kube-harden-restart-2', holder: null, expiresMs: null },
        ],
      ),
    );
    expect(view.rollout).to.deep.equal({
      total: 3,
      compliant: 1,
      slotsHeld: [
        { slot: 'kube-harden-restart-0', node: 'a' },
        { slot: 'kube-harden-restart-1', node: 'gone (no such Node)' },
      ],
      stuck: ['a'],
    });
    expect(view.states).to.deep.equal({ compliant: 1, drifted: 0, remediating: 0, held: 1, degraded: 1, unknown: 0 });
  });
});
