import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inspectNode } from '../../agent/apply/inspect.js';
import { defaultPolicy } from '../../agent/core/policy.js';
import { ExecPluginProber } from '../../agent/host/cni-plugin.js';
import { HEALTHY, type HealthProbe, type HealthVerdict } from '../../agent/host/health.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import type { ServiceManager } from '../../agent/host/service-manager.js';
import { RULE_VALUE_SPECS } from '../../agent/rules/index.js';
import type { FakeApiServer } from './fake-api-server.js';
import { FakeCommandRunner } from './fake-command-runner.js';

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

  private async argvFromFiles(): Promise<string[]> {
    const fs = new HostFs(await HostRoot.open(this.root));
    const input = { nodeName: 'stand-in', nodeIp: null, nodeIpSource: null, kubeletVersion: 'v1.31.4', pluginDir: '/nonexistent' };
    const runner = new FakeCommandRunner();
    const node = await inspectNode(fs, runner, new ExecPluginProber(fs, runner, '/nonexistent'), input, defaultPolicy(RULE_VALUE_SPECS));
    return ['/usr/bin/kubelet', ...node.ctx.kubelet.flags.map((flag) => `--${flag.name}=${flag.value}`)];
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
