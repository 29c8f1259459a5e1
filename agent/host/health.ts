import http from 'node:http';
import https from 'node:https';

/** Waits for a service to report healthy. Tests use a real local HTTP server or a fake. */
export interface HealthProbe {
  /** Resolves true once healthy, false when `timeoutMs` passes first. */
  waitHealthy(timeoutMs: number): Promise<boolean>;
}

/** The kubelet's healthz endpoint (healthzBindAddress/healthzPort defaults). */
export const KUBELET_HEALTHZ_URL = 'http://127.0.0.1:10248/healthz';

function getOnce(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    // Control-plane endpoints on loopback serve the component's own certificate; only the status code
    // matters here, so the certificate is not verified (the connection never leaves the host).
    const client = url.startsWith('https:') ? https : http;
    const request = client.get(url, { timeout: timeoutMs, ...(client === https ? { rejectUnauthorized: false } : {}) }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

/**
 * Polls an HTTP health endpoint until it answers 200. A restarted kubelet may still be the old process
 * for a moment, so the first 200 is only accepted after `settleMs` (the caller may also compare PIDs).
 */
export class HttpHealthProbe implements HealthProbe {
  constructor(
    private readonly url: string = KUBELET_HEALTHZ_URL,
    private readonly intervalMs = 1000,
    private readonly settleMs = 0,
  ) {}

  async waitHealthy(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    if (this.settleMs > 0) await sleep(Math.min(this.settleMs, timeoutMs));
    while (Date.now() < deadline) {
      if ((await getOnce(this.url, Math.min(5000, Math.max(100, deadline - Date.now())))) === 200) return true;
      await sleep(Math.min(this.intervalMs, Math.max(0, deadline - Date.now())));
    }
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
