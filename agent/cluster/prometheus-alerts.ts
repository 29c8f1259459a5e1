/**
 * Reads the alerts Prometheus currently has (`GET <url>/api/v1/alerts`), for the alert blocker. Any
 * failure (refused, timed out, not 200, not the API's JSON) throws with a message that says which:
 * the gate turns it into an `unknown` verdict.
 */
import type { PrometheusAlert } from '../core/disruption-blockers.js';

/** How the gate asks for alerts; tests pass a fake. */
export interface AlertSource {
  alerts(url: string, timeoutMs: number): Promise<PrometheusAlert[]>;
}

type AlertsResponse = { status?: string; data?: { alerts?: { labels?: Record<string, string>; state?: string }[] } };

/** The real source: Node's fetch with a timeout covering the connection and the body. */
export const httpAlertSource: AlertSource = {
  async alerts(url: string, timeoutMs: number): Promise<PrometheusAlert[]> {
    const endpoint = `${url.replace(/\/+$/, '')}/api/v1/alerts`;
    let response: Response;
    let text: string;
    try {
      response = await fetch(endpoint, { signal: AbortSignal.timeout(timeoutMs), headers: { Accept: 'application/json' } });
      text = await response.text();
    } catch (error) {
      const cause = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : describe(error);
      throw new Error(`prometheus unreachable: ${cause}`);
    }
    if (response.status !== 200) throw new Error(`prometheus answered HTTP ${response.status}`);
    let body: AlertsResponse;
    try {
      body = JSON.parse(text) as AlertsResponse;
    } catch {
      throw new Error('prometheus answered something that is not JSON');
    }
    if (body.status !== 'success' || !Array.isArray(body.data?.alerts)) throw new Error('prometheus answered without a list of alerts');
    return body.data.alerts.map((alert) => ({ labels: alert.labels ?? {}, state: alert.state ?? '' }));
  },
};

function describe(error: unknown): string {
  // fetch wraps the socket error (ECONNREFUSED, ENOTFOUND) in `cause`.
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  return error instanceof Error ? error.message : String(error);
}
