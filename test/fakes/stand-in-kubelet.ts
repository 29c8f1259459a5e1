import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HEALTHY, type HealthProbe, type HealthVerdict } from '../../agent/host/health.js';
import type { ServiceManager } from '../../agent/host/service-manager.js';
import type { FakeApiServer } from './fake-api-server.js';

export interface StandInOptions {
  /** The kubelet exits at start when its config.yaml makes this true (a config it refuses). */
  readonly refuses?: (config: string) => boolean;
  /** Restart with the command line it had before (systemd not reloaded): the flags on disk do not run. */
  readonly staleArgv?: boolean;
  /** The API server this node's kubelet reports to: its node Lease is renewed after a good start. */
  readonly api?: { readonly server: FakeApiServer; readonly node: string };
  readonly startDelayMs?: number;
  /** Called at each restart with this node's name (fleet tests track who is disrupted). */
  readonly onRestart?: () => void;
  /** What the new kubelet does against a real API server once it runs (renew its node Lease, report Ready). */
  readonly onRunning?: () => Promise<void>;
  /** Called once the new kubelet is up and reporting (or known to have crashed). */
  readonly onSettled?: (healthy: boolean) => void;
}

const PID = 4242;
/** The kubeadm drop-in of the fixtures the stand-in runs on (pkgs.k8s.io's layout). */
const DROP_IN = 'usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf';

/**
 * A kubelet for a fixture host root: a process entry under <root>/proc (cmdline and stat, with a start
 * time), restarted by "systemctl restart kubelet" with the flags its files give it (as systemd would
 * expand them), healthy after a short delay unless it refuses its config, and (with `api`) renewing its
 * node Lease in the fake API server like a real kubelet.
 */
export class StandInKubelet implements ServiceManager {
  readonly restarts: string[] = [];
  running = true;
  private argv: string[] = ['/usr/bin/kubelet'];

  constructor(
    private readonly root: string,
    private readonly options: StandInOptions = {},
  ) {
    const bootSeconds = Math.floor(Date.now() / 1000) - 3600;
    writeFileSync(path.join(root, 'proc/stat'), `cpu  1 2 3 4\nbtime ${bootSeconds}\n`);
    this.writeProcess(bootSeconds * 1000);
  }

  async restart(service: string): Promise<void> {
    this.restarts.push(service);
    this.options.onRestart?.();
    this.running = false;
    rmSync(path.join(this.root, `proc/${PID}`), { recursive: true, force: true });
    await new Promise((resolve) => setTimeout(resolve, this.options.startDelayMs ?? 30));
    const config = readFileSync(path.join(this.root, 'var/lib/kubelet/config.yaml'), 'utf8');
    if (this.options.refuses?.(config)) {
      this.options.onSettled?.(false);
      return; // exits at once: no process, no healthz, no Lease renewal
    }
    if (!this.options.staleArgv) this.argv = await this.argvFromFiles();
    this.writeProcess(Date.now());
    this.running = true;
    const api = this.options.api;
    if (api) {
      api.server.renewNodeLease(api.node, Date.now());
      api.server.putNode(api.node, 'True');
    }
    await this.options.onRunning?.();
    this.options.onSettled?.(true);
  }

  /** The kubelet's /healthz: 200 while its process runs. */
  healthProbe(intervalMs = 20): HealthProbe {
    return {
      waitHealthy: async (timeoutMs: number): Promise<HealthVerdict> => {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
          if (this.running) return HEALTHY;
          await new Promise((resolve) => setTimeout(resolve, intervalMs));
        }
        return this.running ? HEALTHY : { healthy: false, reason: 'http://127.0.0.1:10248/healthz did not answer' };
      },
    };
  }

  /**
   * The command line systemd would start, derived here on its own (not through the agent's resolver,
   * or the gate's "new flags are running" check would be tested against itself): the kubeadm drop-in's
   * Environment= and EnvironmentFile= lines, then the last ExecStart= with its $VARIABLES expanded and
   * split into words as systemd does for an unquoted `$VAR`.
   */
  private async argvFromFiles(): Promise<string[]> {
    const dropIn = readFileSync(path.join(this.root, DROP_IN), 'utf8');
    const env = new Map<string, string>();
    const assign = (text: string) => {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(text.trim());
      if (match) env.set(match[1]!, match[2]!.replace(/^"(.*)"$/s, '$1'));
    };
    let execStart = '';
    for (const line of dropIn.split('\n')) {
      const [key, ...rest] = line.split('=');
      const value = rest.join('=');
      if (key === 'Environment') assign(value.replace(/^"(.*)"$/, '$1'));
      else if (key === 'EnvironmentFile') {
        const file = path.join(this.root, value.replace(/^-/, ''));
        if (existsSync(file)) for (const envLine of readFileSync(file, 'utf8').split('\n')) if (!envLine.startsWith('#')) assign(envLine);
      } else if (key === 'ExecStart') execStart = value;
    }
    return execStart
      .split(/\s+/)
      .filter(Boolean)
      .flatMap((word) => (word.startsWith('$') ? (env.get(word.slice(1)) ?? '').split(/\s+/).filter(Boolean) : [word]));
  }

  private writeProcess(startedAtMs: number): void {
    const dir = path.join(this.root, `proc/${PID}`);
    mkdirSync(dir, { recursive: true });
    const boot = Number(/btime (\d+)/.exec(readFileSync(path.join(this.root, 'proc/stat'), 'utf8'))![1]);
    const ticks = Math.max(0, Math.round((startedAtMs - boot * 1000) / 10));
    writeFileSync(path.join(dir, 'cmdline'), `${this.argv.join('\0')}\0`);
    writeFileSync(path.join(dir, 'stat'), `${PID} (kubelet) S 1 ${PID} ${PID} 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${ticks} 1000 100 1\n`);
  }
}
