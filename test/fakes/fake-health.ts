import type { HealthProbe, HealthVerdict } from '../../agent/host/health.js';

/** Answers a scripted sequence of health results (the last one repeats). */
export class FakeHealthProbe implements HealthProbe {
  readonly calls: number[] = [];
  constructor(private readonly answers: boolean[]) {}

  async waitHealthy(timeoutMs: number): Promise<HealthVerdict> {
    this.calls.push(timeoutMs);
    const healthy = this.answers.length > 1 ? this.answers.shift()! : (this.answers[0] ?? true);
    return healthy ? { healthy } : { healthy, reason: 'the fake probe says unhealthy' };
  }
}
