import { expect } from 'chai';
import type { EventApi, EventRecord } from '../../../agent/cluster/api.js';
import { EventRecorder, type NodeEvent } from '../../../agent/cluster/events.js';

class RecordingEvents implements EventApi {
  readonly created: EventRecord[] = [];
  readonly patches: { name: string; count: number }[] = [];
  async create(event: EventRecord): Promise<void> {
    this.created.push(event);
  }
  async patchCount(_namespace: string, name: string, count: number): Promise<void> {
    this.patches.push({ name, count });
  }
}

function recorder(api: EventApi, clock: { now: number }, errors: unknown[] = []) {
  return new EventRecorder(api, {
    namespace: 'default',
    node: { name: 'node-a', uid: 'uid-a' },
    burst: 3,
    refillMs: 60_000,
    aggregateWindowMs: 600_000,
    patchIntervalMs: 30_000,
    now: () => clock.now,
    onError: (error) => errors.push(error),
  });
}

const drift: NodeEvent = {
  type: 'Normal',
  reason: 'DriftCorrected',
  message: 'Corrected drift of kubelet.read-only-port in /var/lib/kubelet/config.yaml',
};

describe('EventRecorder: aggregated and rate-limited Node events', () => {
  it('folds 100 repeats of one event into one Event whose count is patched at most every patch interval', async () => {
    const api = new RecordingEvents();
    const clock = { now: 1_000_000 };
    const events = recorder(api, clock);
    for (let index = 0; index < 100; index++) {
      events.record(drift);
      clock.now += 1000; // one per second for 100 s
    }
    await events.flush();
    expect(api.created).to.have.length(1);
    expect(api.created[0]).to.include({ reason: 'DriftCorrected', count: 1, namespace: 'default' });
    expect(api.created[0]!.involvedObject).to.deep.equal({ kind: 'Node', name: 'node-a', uid: 'uid-a' });
    // 100 s at one patch per 30 s at most, plus the final flush.
    expect(api.patches.length).to.be.at.most(5);
    expect(api.patches.at(-1)!.count).to.equal(100);
  });

  it('limits new series with a token bucket and counts what it drops', async () => {
    const api = new RecordingEvents();
    const clock = { now: 1_000_000 };
    const events = recorder(api, clock);
    for (let index = 0; index < 50; index++) events.record({ type: 'Warning', reason: 'ChangeBlocked', message: `rule-${index} not remediated` });
    await events.flush();
    expect(api.created).to.have.length(3);
    expect(events.dropped).to.equal(47);
    clock.now += 60_000;
    events.record({ type: 'Warning', reason: 'ChangeBlocked', message: 'rule-x not remediated' });
    await events.flush();
    expect(api.created).to.have.length(4);
  });

  it('starts a new Event once the aggregation window has passed', async () => {
    const api = new RecordingEvents();
    const clock = { now: 1_000_000 };
    const events = recorder(api, clock);
    events.record(drift);
    clock.now += 600_000;
    events.record(drift);
    await events.flush();
    expect(api.created).to.have.length(2);
    expect(new Set(api.created.map((event) => event.name)).size).to.equal(2);
  });

  it('never throws into the caller when the API fails; the error goes to onError', async () => {
    const errors: unknown[] = [];
    const failing: EventApi = {
      create: async () => {
        throw new Error('event default/x: HTTP 403');
      },
      patchCount: async () => undefined,
    };
    const events = recorder(failing, { now: 1 }, errors);
    events.record(drift);
    await events.flush();
    expect(errors).to.have.length(1);
  });
});
