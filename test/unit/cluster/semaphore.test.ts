import { expect } from 'chai';
import type { LeaseApi, LeaseRecord } from '../../../agent/cluster/api.js';
import { annotationPatch, nodeState } from '../../../agent/cluster/node-status.js';
import { LeaseSemaphore, slotFree } from '../../../agent/cluster/semaphore.js';
import { MemoryLeases } from '../../fakes/memory-leases.js';

const lease = (holder: string | null, resourceVersion = '7', leaseDurationSeconds = 60): LeaseRecord => ({
  name: 'kube-harden-restart-0',
  namespace: 'kube-harden',
  resourceVersion,
  holderIdentity: holder,
  leaseDurationSeconds,
  acquireTimeMs: 0,
  renewTimeMs: 0,
  labels: {},
});

function semaphore(api: LeaseApi, holder: string, clock: { now: number }, slots = 1) {
  return new LeaseSemaphore(api, { namespace: 'kube-harden', holder, slots: () => slots, leaseDurationSeconds: () => 60, now: () => clock.now });
}

describe('restart semaphore', () => {
  describe('slotFree (pure)', () => {
    const seen = (resourceVersion: string, seenAtMs: number) => ({ resourceVersion, holder: 'b', seenAtMs });
    it('is free without a holder, or for the holder itself', () => {
      expect(slotFree(lease(null), 'a', undefined, 0)).to.equal(true);
      expect(slotFree(lease('a'), 'a', undefined, 0)).to.equal(true);
    });
    it('is taken while the holder keeps changing it, whatever the Lease says about times', () => {
      expect(slotFree(lease('b', '7'), 'a', undefined, 10_000_000)).to.equal(false);
      expect(slotFree(lease('b', '8'), 'a', seen('7', 0), 10_000_000)).to.equal(false);
    });
    it('frees one whole lease duration after this agent first saw the same version (clock skew cannot shorten it)', () => {
      expect(slotFree(lease('b', '7'), 'a', seen('7', 1000), 60_999)).to.equal(false);
      expect(slotFree(lease('b', '7'), 'a', seen('7', 1000), 61_000)).to.equal(true);
    });
  });

  it('two agents racing for one slot: exactly one wins, the other sees a conflict and waits', async () => {
    const api = new MemoryLeases();
    const clock = { now: 0 };
    const a = semaphore(api, 'a', clock);
    const b = semaphore(api, 'b', clock);
    const [wonA, wonB] = await Promise.all([a.tryAcquire(), b.tryAcquire()]);
    expect([wonA, wonB].filter(Boolean)).to.have.length(1);
    await (wonA ? a : b).release();
    expect(await (wonA ? b : a).tryAcquire()).to.equal(true);
  });

  it('a rival writing the slot between read and replace makes the replace a conflict, not a double holder', async () => {
    const api = new MemoryLeases();
    api.store(lease(null, '1'));
    api.beforeWrite = () => api.store({ ...lease('rival'), resourceVersion: null });
    const clock = { now: 0 };
    expect(await semaphore(api, 'a', clock).tryAcquire()).to.equal(false);
    expect(api.leases.get('kube-harden-restart-0')!.holderIdentity).to.equal('rival');
  });

  it('maxConcurrent 2 gives two slots; a third agent waits', async () => {
    const api = new MemoryLeases();
    const clock = { now: 0 };
    expect(await semaphore(api, 'a', clock, 2).tryAcquire()).to.equal(true);
    expect(await semaphore(api, 'b', clock, 2).tryAcquire()).to.equal(true);
    expect(await semaphore(api, 'c', clock, 2).tryAcquire()).to.equal(false);
    expect([...api.leases.keys()].sort()).to.deep.equal(['kube-harden-restart-0', 'kube-harden-restart-1']);
  });

  it('a renewal that finds the slot taken over reports it lost', async () => {
    const api = new MemoryLeases();
    const clock = { now: 0 };
    const lost: string[] = [];
    const a = new LeaseSemaphore(api, {
      namespace: 'kube-harden',
      holder: 'a',
      slots: () => 1,
      leaseDurationSeconds: () => 60,
      now: () => clock.now,
      onLost: (slot) => lost.push(slot),
    });
    expect(await a.tryAcquire()).to.equal(true);
    api.store({ ...api.leases.get('kube-harden-restart-0')!, holderIdentity: 'b' });
    expect(await a.renew()).to.equal(false);
    expect(lost).to.deep.equal(['kube-harden-restart-0']);
    expect(a.slot).to.equal(null);
  });
});

describe('node status (pure)', () => {
  it('patches on a state change, and refreshes an unchanged state only once per heartbeat', () => {
    expect(annotationPatch({ state: null, lastReconcileMs: null }, 'compliant', 0, 300_000)).to.deep.equal({
      'kube-harden.io/state': 'compliant',
      'kube-harden.io/last-reconcile': '1970-01-01T00:00:00.000Z',
    });
    expect(annotationPatch({ state: 'compliant', lastReconcileMs: 0 }, 'compliant', 299_999, 300_000)).to.equal(null);
    expect(annotationPatch({ state: 'compliant', lastReconcileMs: 0 }, 'compliant', 300_000, 300_000)).to.not.equal(null);
    expect(annotationPatch({ state: 'compliant', lastReconcileMs: 0 }, 'drifted', 1, 300_000)).to.not.equal(null);
  });

  it('degraded beats remediating beats drifted', () => {
    expect(nodeState({ remainingFindings: 0, remediating: false, degraded: false })).to.equal('compliant');
    expect(nodeState({ remainingFindings: 2, remediating: false, degraded: false })).to.equal('drifted');
    expect(nodeState({ remainingFindings: 2, remediating: true, degraded: false })).to.equal('remediating');
    expect(nodeState({ remainingFindings: 0, remediating: true, degraded: true })).to.equal('degraded');
  });
});
