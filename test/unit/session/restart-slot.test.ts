import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LeaseApi } from '../../../agent/cluster/api.js';
import { LeaseSemaphore, STUCK_ANNOTATION } from '../../../agent/cluster/semaphore.js';
import type { Activation } from '../../../agent/core/plan.js';
import { HttpHealthProbe } from '../../../agent/host/health.js';
import { RestartSlots, SLOT_UNKNOWN, WAITING_FOR_SLOT } from '../../../agent/session/restart-slot.js';
import { silentLogger } from '../../../agent/telemetry/logger.js';
import { FakeHealthProbe } from '../../fakes/fake-health.js';
import { MemoryLeases } from '../../fakes/memory-leases.js';

const restart: Activation = {
  id: 'restart:kubelet',
  service: 'kubelet',
  kind: 'restart',
  disruption: 'restart',
  reason: 'test',
  rules: ['kubelet.address'],
  changes: ['write|/var/lib/kubelet/config.yaml'],
};

function semaphore(api: LeaseApi, holder: string, onRenewError?: (error: unknown) => void, leaseDurationSeconds = 60): LeaseSemaphore {
  return new LeaseSemaphore(api, {
    namespace: 'kube-harden',
    holder,
    slots: () => 1,
    leaseDurationSeconds: () => leaseDurationSeconds,
    now: () => Date.now(),
    ...(onRenewError ? { onRenewError } : {}),
  });
}

function slots(api: LeaseApi, holder: string): RestartSlots {
  return new RestartSlots(semaphore(api, holder), silentLogger(), 10_000);
}

describe('restart slots (the session side of the semaphore)', () => {
  it('a stuck node keeps its slot on record, and a restarted agent takes it back until the node is healthy', async () => {
    const api = new MemoryLeases();
    const before = slots(api, 'node-a');
    expect(await before.admit([restart])).to.equal(null);
    await before.settle(['kubelet']);
    expect(api.leases.get('kube-harden-restart-0')!.annotations).to.deep.equal({ [STUCK_ANNOTATION]: 'kubelet' });
    await before.stop(); // the pod restarts: the slot is not released

    const other = slots(api, 'node-b');
    expect(await other.admit([restart])).to.equal(WAITING_FOR_SLOT);

    const after = slots(api, 'node-a');
    await after.adopt(null);
    expect(after.stuck).to.equal('kubelet');
    expect(after.holdingSlot).to.equal(true);
    await after.recheckStuck(() => new FakeHealthProbe([false]), 100);
    expect(after.holdingSlot, 'still unhealthy: the rollout stays stopped').to.equal(true);
    await after.recheckStuck(() => new FakeHealthProbe([true]), 100);
    expect(after.holdingSlot).to.equal(false);
    expect(api.leases.get('kube-harden-restart-0')!.holderIdentity).to.equal(null);
    expect(await other.admit([restart])).to.equal(null);
  });

  it('an API error on a slot is not "no slot free": the rules wait with a reason that says so', async () => {
    const broken: LeaseApi = {
      get: () => Promise.reject(new Error('connection refused')),
      create: () => Promise.reject(new Error('connection refused')),
      replace: () => Promise.reject(new Error('connection refused')),
    };
    expect(await slots(broken, 'node-a').admit([restart])).to.equal(SLOT_UNKNOWN);
  });

  it('a failed renewal is reported, not swallowed', async () => {
    const api = new MemoryLeases();
    const errors: unknown[] = [];
    const held = semaphore(api, 'node-a', (error) => errors.push(error), 0.3);
    expect(await held.tryAcquire()).to.equal(true);
    api.replace = () => Promise.reject(new Error('etcdserver: request timed out'));
    await new Promise((resolve) => setTimeout(resolve, 350));
    held.abandon();
    expect(errors.length).to.be.greaterThan(0);
    expect(String(errors[0])).to.contain('request timed out');
  });

  it('a repaired node is released by the re-check even when the kubelet probe settles longer than the re-check waits', async () => {
    const server = http.createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    try {
      // The daemon's kubelet probe waits 5 s before trusting a 200; the re-check gives it 1 s.
      expect(await new HttpHealthProbe(url, 1000, 5000).waitHealthy(1000)).to.deep.equal({ healthy: true });
      const api = new MemoryLeases();
      const stuck = slots(api, 'node-a');
      await stuck.admit([restart]);
      await stuck.settle(['kubelet']);
      await stuck.recheckStuck(() => new HttpHealthProbe(url, 1000, 5000), 1000);
      expect(stuck.holdingSlot).to.equal(false);
    } finally {
      server.close();
    }
  });
});
