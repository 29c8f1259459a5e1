import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Policy } from '../core/policy.js';
import type { AgentMetrics } from '../telemetry/metrics.js';

/** What the probes need to know about the loop. */
export interface LoopState {
  readonly reconciles: number;
  readonly lastActivity: number;
  readonly reconcileStartedAt: number | null;
}

export interface HealthLimits {
  /** /healthz fails when the loop has not ticked for this long (it ticks at every sysctl poll). */
  readonly staleAfterMs: number;
  /** /healthz fails when one reconcile runs longer than this (stuck on a hung command or mount). */
  readonly stuckAfterMs: number;
}

/**
 * The limits for the policy in force, read at every probe: a policy update that raises
 * `healthTimeoutSeconds` raises the stuck limit with it, so the liveness probe does not kill an agent
 * in the middle of a longer gate. Each gate may take healthTimeoutSeconds, and a rollback another: a
 * reconcile is stuck only well past what its gates may take.
 */
export function healthLimits(policy: () => Pick<Policy, 'restarts'>): HealthLimits {
  return {
    staleAfterMs: 60_000,
    get stuckAfterMs() {
      return Math.max(300_000, policy().restarts.healthTimeoutSeconds * 1000 * 8);
    },
  };
}

/** Parses `host:port`, `[v6]:port` or `:port` (all interfaces). */
export function parseListenAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port < 1 || port > 65535) throw new Error(`must be host:port, e.g. 127.0.0.1:9742 or :9742 (got "${text}")`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}

/** Which endpoints one listener serves (metrics on loopback and probes on the node IP may be split). */
export interface Endpoints {
  readonly metrics: boolean;
  readonly probes: boolean;
}

/** Serves /metrics, /healthz (the loop is alive and not stuck) and /readyz (first reconcile done). */
export async function serveHttp(
  address: { host: string; port: number },
  metrics: AgentMetrics,
  loop: () => LoopState,
  limits: HealthLimits,
  now: () => number,
  endpoints: Endpoints = { metrics: true, probes: true },
): Promise<http.Server> {
  const server = http.createServer((request, response) => {
    const url = (request.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    if (request.method !== 'GET' && request.method !== 'HEAD') return reply(405, 'method not allowed\n');
    if (url === '/metrics' && endpoints.metrics) {
      metrics
        .text()
        .then((text) => reply(200, text, metrics.registry.contentType))
        .catch(() => reply(500, 'metrics unavailable\n'));
      return;
    }
    if (!endpoints.probes) return reply(404, 'not found\n');
    const state = loop();
    const at = now();
    if (url === '/healthz') {
      // A reconcile in progress (the first one may wait minutes on a health gate) is alive until it
      // runs past the stuck limit; between reconciles the loop must keep ticking.
      if (state.reconcileStartedAt !== null)
        return at - state.reconcileStartedAt > limits.stuckAfterMs ? reply(503, 'reconcile stuck\n') : reply(200, 'ok\n');
      if (at - state.lastActivity > limits.staleAfterMs) return reply(503, 'loop not ticking\n');
      return reply(200, 'ok\n');
    }
    if (url === '/readyz') return state.reconciles > 0 ? reply(200, 'ok\n') : reply(503, 'first reconcile not done\n');
    reply(404, 'not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => resolve());
  });
  return server;
}

export function boundPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}
