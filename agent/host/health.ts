/** The outcome of a health gate; `reason` says what did not hold (for logs, Events and the JSON output). */
export type HealthVerdict = { readonly healthy: true } | { readonly healthy: false; readonly reason: string };

export const HEALTHY: HealthVerdict = { healthy: true };

/** Waits for a service to report healthy. Tests use a real local HTTP server or a fake. */
export interface HealthProbe {
  /** Resolves healthy once it is, or unhealthy with the reason when `timeoutMs` passes first. */
  waitHealthy(timeoutMs: number): Promise<HealthVerdict>;
  /** What it waits for, for a person watching (`http://127.0.0.1:10248/healthz answering 200`). */
  readonly describe?: string;
}

/** A service's own health endpoint, given what is known of the node (its IP, where an endpoint moves to it). */
export type ServiceProbes = (service: string, node?: { readonly nodeIp: string | null }) => HealthProbe;

/** One condition of a health gate, checked once: null when it holds, else why not. */
export interface HealthCheck {
  check(): Promise<string | null>;
  /** What it waits for, for a person watching. */
  readonly describe?: string;
}

/** The kubelet's healthz endpoint (healthzBindAddress/healthzPort defaults). */
export const KUBELET_HEALTHZ_URL = 'http://127.0.0.1:10248/healthz';

async function getOnce(url: string, timeoutMs: number): Promise<number> {
  // Loaded on first use: every command builds probes, only a restart polls one (node:https brings TLS,
  // a few milliseconds of every cold `audit` otherwise).
  const secure = url.startsWith('https:');
  const client = secure ? (await import('node:https')).default : (await import('node:http')).default;
  // 0 = no HTTP answer (refused, reset, timed out).
  return new Promise((resolve) => {
    // Control-plane endpoints on loopback serve the component's own certificate; only the status code
    // matters here, so the certificate is not verified (the connection never leaves the host).
    const request = client.get(url, { timeout: timeoutMs, ...(secure ? { rejectUnauthorized: false } : {}) }, (response) => {
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
  private readonly urls: readonly string[];

  get describe(): string {
    return `${this.urls.join(' or ')} answering 200`;
  }

  /** With several URLs (a service whose endpoint may have moved), any one answering 200 is healthy. */
  constructor(
    url: string | readonly string[] = KUBELET_HEALTHZ_URL,
    private readonly intervalMs = 1000,
    private readonly settleMs = 0,
  ) {
    this.urls = typeof url === 'string' ? [url] : url;
  }

  async waitHealthy(timeoutMs: number): Promise<HealthVerdict> {
    const deadline = Date.now() + timeoutMs;
    if (this.settleMs > 0) await sleep(Math.min(this.settleMs, timeoutMs));
    const last = new Map<string, number>();
    // At least one request, even when the settle time used up the timeout: a short re-check of a
    // node that is healthy again must be able to say so.
    do {
      for (const url of this.urls) {
        const status = await getOnce(url, Math.min(5000, Math.max(100, deadline - Date.now())));
        if (status === 200) return HEALTHY;
        last.set(url, status);
      }
      await sleep(Math.min(this.intervalMs, Math.max(0, deadline - Date.now())));
    } while (Date.now() < deadline);
    const why = this.urls.map((url) => `${url} ${(last.get(url) ?? 0) === 0 ? 'did not answer' : `answered HTTP ${last.get(url)}`}`);
    return { healthy: false, reason: why.join('; ') };
  }
}

/**
 * A health gate in stages, each waited for in order within one overall timeout: e.g. a new kubelet
 * process with the hardened flags, then its /healthz, then the Node's Lease renewed and Ready. Checks
 * are polled every `intervalMs`; the verdict names the stage that did not come.
 */
export class StagedHealthProbe implements HealthProbe {
  /** Told when each stage starts to be waited for (progress for a person watching `apply`). */
  onStage: ((stage: number, describe: string) => void) | null = null;

  constructor(
    private readonly stages: readonly (HealthProbe | HealthCheck)[],
    private readonly intervalMs = 1000,
  ) {}

  get describe(): string {
    return this.stages.map((stage) => stage.describe ?? 'a health check').join(', then ');
  }

  async waitHealthy(timeoutMs: number): Promise<HealthVerdict> {
    const deadline = Date.now() + timeoutMs;
    for (const [index, stage] of this.stages.entries()) {
      this.onStage?.(index, stage.describe ?? 'a health check');
      const verdict =
        'check' in stage ? await pollCheck(stage, deadline, this.intervalMs) : await stage.waitHealthy(Math.max(0, deadline - Date.now()));
      if (!verdict.healthy) return verdict;
    }
    return HEALTHY;
  }
}

async function pollCheck(check: HealthCheck, deadline: number, intervalMs: number): Promise<HealthVerdict> {
  for (;;) {
    const problem = await check.check().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
    if (problem === null) return HEALTHY;
    if (Date.now() >= deadline) return { healthy: false, reason: problem };
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
