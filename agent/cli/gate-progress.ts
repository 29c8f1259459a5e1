import { StagedHealthProbe, type HealthProbe, type HealthVerdict } from '../host/health.js';
import type { RestartGate } from '../node/health-gate.js';

/** Where progress goes: stderr (stdout keeps the table or JSON), and whether it is a terminal. */
export interface ProgressOutput {
  readonly write: (text: string) => void;
  readonly isTTY: boolean;
  readonly now: () => number;
}

/** How often the elapsed time is redrawn on a terminal. */
const TICK_MS = 1000;

/**
 * A health gate that says what it waits for while `apply` waits (up to healthTimeoutSeconds): on a
 * terminal one line redrawn with the elapsed time; elsewhere (CI logs, a pipe) one line per stage and
 * one for the outcome, never a redraw.
 */
export function withProgress(gate: RestartGate, out: ProgressOutput): RestartGate {
  return (service, sinceMs) => {
    const probe = gate(service, sinceMs);
    return { describe: probe.describe, waitHealthy: (timeoutMs) => watched(probe, service, timeoutMs, out) } satisfies HealthProbe;
  };
}

async function watched(probe: HealthProbe, service: string, timeoutMs: number, out: ProgressOutput): Promise<HealthVerdict> {
  const started = out.now();
  const seconds = () => Math.round((out.now() - started) / 1000);
  const limit = Math.round(timeoutMs / 1000);
  let current = probe.describe ?? 'its health check';
  const line = () => `waiting for ${service}: ${current} (${seconds()}s of ${limit}s)`;
  if (probe instanceof StagedHealthProbe)
    probe.onStage = (_index, describe) => {
      current = describe;
      if (!out.isTTY) out.write(`${line()}\n`);
    };
  else if (!out.isTTY) out.write(`${line()}\n`);
  const ticker = out.isTTY ? setInterval(() => out.write(`\r\u001b[2K${line()}`), TICK_MS) : null;
  if (out.isTTY) out.write(line());
  try {
    const verdict = await probe.waitHealthy(timeoutMs);
    const end = verdict.healthy ? `${service} healthy after ${seconds()}s` : `${service} not healthy after ${seconds()}s: ${verdict.reason}`;
    out.write(`${out.isTTY ? '\r\u001b[2K' : ''}${end}\n`);
    return verdict;
  } finally {
    if (ticker) clearInterval(ticker);
    if (probe instanceof StagedHealthProbe) probe.onStage = null;
  }
}
