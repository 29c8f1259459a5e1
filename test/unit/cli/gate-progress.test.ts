import { expect } from 'chai';
import { withProgress } from '../../../agent/cli/gate-progress.js';
import { StagedHealthProbe, type HealthCheck } from '../../../agent/host/health.js';
import { FakeHealthProbe } from '../../fakes/fake-health.js';

const passesAfter = (describe: string, calls: number): HealthCheck => {
  let left = calls;
  return { describe, check: async () => (--left <= 0 ? null : 'not yet') };
};

describe('apply: what a health gate waits for, while it waits', () => {
  it('not a terminal: one line per stage and one for the outcome, never a redraw', async () => {
    const lines: string[] = [];
    const staged = new StagedHealthProbe([passesAfter('a new kubelet process', 2), passesAfter('the node Lease renewed', 1)], 5);
    const gate = withProgress(() => staged, { write: (text) => lines.push(text), isTTY: false, now: () => 0 });
    expect(await gate('kubelet', 0).waitHealthy(1000)).to.deep.equal({ healthy: true });
    expect(lines).to.deep.equal([
      'waiting for kubelet: a new kubelet process (0s of 1s)\n',
      'waiting for kubelet: the node Lease renewed (0s of 1s)\n',
      'kubelet healthy after 0s\n',
    ]);
  });

  it('on a terminal: one line redrawn in place, then the outcome with the reason', async () => {
    let text = '';
    let clock = 0;
    const gate = withProgress(() => new FakeHealthProbe([false]), { write: (chunk) => (text += chunk), isTTY: true, now: () => (clock += 1500) });
    const verdict = await gate('static-pod/kube-apiserver', 0).waitHealthy(120_000);
    expect(verdict.healthy).to.equal(false);
    expect(text).to.match(
      /^waiting for static-pod\/kube-apiserver: its health check \(\d+s of 120s\)\r.\[2Kstatic-pod\/kube-apiserver not healthy after \d+s: the fake probe says unhealthy\n$/,
    );
    expect(text).to.include('\r\u001b[2K'); // the terminal's erase-line: the line is redrawn in place
    expect(text).to.not.match(/\n.*\n/);
  });
});
