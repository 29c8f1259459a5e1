import { executePlan, type ApplyResult } from '../apply/executor.js';
import { inspectNode, readPolicyFile, type InspectedNode } from '../apply/inspect.js';
import type { OperatorInput } from '../core/observation.js';
import { buildPlan } from '../core/planner.js';
import type { Policy } from '../core/policy.js';
import { BackupStore } from '../host/backups.js';
import type { PluginProber } from '../host/cni-plugin.js';
import type { CommandRunner } from '../host/commands.js';
import type { HealthProbe } from '../host/health.js';
import type { HostFs } from '../host/host-fs.js';
import type { ServiceManager } from '../host/service-manager.js';
import { kubeletRestartNeeded } from '../rules/kubelet/restart-need.js';
import type { Logger } from '../telemetry/logger.js';
import type { AgentMetrics } from '../telemetry/metrics.js';
import { watch, type FSWatcher } from 'chokidar';
import { DEFAULT_FLAP_GUARD, FlapGuard, type FlapGuardOptions } from './flap-guard.js';
import { DirectoryWatcher, watchedHostDirs } from './watcher.js';

/** Why a reconcile runs. `startup` changes are remediations; later ones count as drift corrections. */
export type ReconcileReason = 'startup' | 'event' | 'poll' | 'resync' | 'policy';

export interface DaemonOptions {
  readonly policyFile: string | null;
  readonly input: OperatorInput;
  readonly noRestart: boolean;
  /** Debounce of watcher events before a reconcile. */
  readonly debounceMs: number;
  /** Sysctls give no file events: how often they are polled. */
  readonly pollMs: number;
  /** Minimum time between two restarts of one service by the loop. */
  readonly restartIntervalMs: number;
  /** Fight detection; the default suits nodes (a benchmark of many tampers raises the threshold). */
  readonly flapGuard?: FlapGuardOptions;
}

export const DEFAULT_DAEMON_TIMING = { debounceMs: 50, pollMs: 10_000, restartIntervalMs: 300_000 } as const;

export interface DaemonDeps {
  readonly fs: HostFs;
  readonly runner: CommandRunner;
  readonly plugins: PluginProber;
  readonly services: ServiceManager;
  readonly health: (service: string) => HealthProbe;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  readonly now: () => number;
}

/**
 * The long-running loop: reconcile at start, then on every watched change (debounced), on a sysctl poll,
 * on a periodic resync and when the policy file changes. One reconcile at a time; a trigger during one
 * schedules exactly one more.
 */
export class Daemon {
  private policy!: Policy;
  private policyText = '';
  private kubeletVersion: string | null;
  private readonly flap: FlapGuard;
  private readonly watcher: DirectoryWatcher;
  private policyWatcher: FSWatcher | null = null;
  private running: Promise<void> | null = null;
  private again: ReconcileReason | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private readonly lastRestart = new Map<string, number>();
  private readonly pendingRestarts = new Set<string>();
  /** Completed reconciles; /readyz is ready after the first. */
  reconciles = 0;
  /** When the loop last finished a reconcile or a tick (for /healthz). */
  lastActivity: number;
  reconcileStartedAt: number | null = null;

  constructor(
    private readonly options: DaemonOptions,
    private readonly deps: DaemonDeps,
  ) {
    this.kubeletVersion = options.input.kubeletVersion;
    this.flap = new FlapGuard(options.flapGuard ?? DEFAULT_FLAP_GUARD);
    this.watcher = new DirectoryWatcher(deps.fs.hostRoot, (file) => this.onFileEvent(file));
    this.lastActivity = deps.now();
  }

  /** Loads the policy (refusing to start on an invalid one), reconciles once, then starts the triggers. */
  async start(): Promise<void> {
    const loaded = await readPolicyFile(this.options.policyFile);
    if (!loaded.ok) throw new Error(`invalid policy, not starting:\n  ${loaded.errors.join('\n  ')}`);
    this.policy = loaded.policy;
    this.policyText = policyKey(loaded.policy);
    this.deps.logger.info('policy loaded', { file: this.options.policyFile ?? '(built-in)', mode: this.policy.mode });
    if (this.options.policyFile) {
      // The policy is an agent file (a mounted ConfigMap swaps a `..data` symlink in its directory).
      this.policyWatcher = watch(this.policyDir(), { depth: 0, ignoreInitial: true, followSymlinks: false });
      this.policyWatcher.on('all', (_event, file) => this.onFileEvent(file));
      await new Promise<void>((resolve) => this.policyWatcher!.once('ready', () => resolve()));
    }
    await this.reconcile('startup');
    this.timers.push(setInterval(() => this.trigger('poll'), this.options.pollMs));
    this.timers.push(setInterval(() => this.trigger('resync'), this.policy.drift.resyncSeconds * 1000));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.forEach((timer) => clearInterval(timer));
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    // Let a reconcile in progress finish its writes (a write is never cut in half), then close the
    // watchers: closing first would let that reconcile open new ones.
    await this.running;
    await this.watcher.close();
    await this.policyWatcher?.close();
  }

  /** Watched files and the policy file both land here; events carry no information the loop uses. */
  private onFileEvent(file: string): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    const policyEvent = this.options.policyFile !== null && file.startsWith(this.policyDir());
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.trigger(policyEvent ? 'policy' : 'event');
    }, this.options.debounceMs);
  }

  private policyDir(): string {
    const file = this.options.policyFile ?? '';
    return file.slice(0, file.lastIndexOf('/') + 1);
  }

  /** Starts a reconcile, or marks one more to run after the current one. */
  trigger(reason: ReconcileReason): void {
    if (this.stopped) return;
    this.lastActivity = this.deps.now();
    if (this.running) {
      this.again = this.again === 'policy' || this.again === 'resync' ? this.again : reason;
      return;
    }
    this.running = this.reconcile(reason).finally(() => {
      this.running = null;
      const next = this.again;
      this.again = null;
      if (next) this.trigger(next);
    });
  }

  /** Resolves when no reconcile is running, queued or waiting on the debounce (tests and shutdown). */
  async settled(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      else if (this.debounce || this.again) await new Promise((resolve) => setTimeout(resolve, this.options.debounceMs + 5));
      else return;
    }
  }

  private async reloadPolicy(): Promise<void> {
    const loaded = await readPolicyFile(this.options.policyFile);
    if (!loaded.ok) {
      this.deps.logger.error('policy refused, keeping the last good one', { file: this.options.policyFile, errors: loaded.errors });
      return;
    }
    const text = policyKey(loaded.policy);
    if (text === this.policyText) return;
    this.policyText = text;
    this.policy = loaded.policy;
    this.deps.logger.info('policy reloaded', { file: this.options.policyFile, mode: this.policy.mode });
  }

  private async reconcile(reason: ReconcileReason): Promise<void> {
    const started = this.deps.now();
    this.reconcileStartedAt = started;
    const end = this.deps.metrics.reconcileDuration.startTimer();
    try {
      if (reason === 'policy' || reason === 'resync') await this.reloadPolicy();
      if (reason === 'resync') this.kubeletVersion = this.options.input.kubeletVersion; // re-detect: the kubelet may have been upgraded
      const input = { ...this.options.input, kubeletVersion: this.kubeletVersion };
      const node = await inspectNode(this.deps.fs, this.deps.runner, this.deps.plugins, input, this.policy);
      if (!this.kubeletVersion && node.obs.kubeletVersion) this.kubeletVersion = node.obs.kubeletVersion.raw;
      const findings = node.evaluated.map((rule) => rule.evaluation.finding);
      this.deps.metrics.recordFindings(findings);
      this.deps.metrics.recordNode(node.obs, node.ctx.kubelet.layout);
      const held = this.flap.heldRules(started);
      this.deps.metrics.recordConflicts(
        findings.map((finding) => finding.id),
        new Set(held.keys()),
      );
      const enforce = this.policy.mode === 'enforce' && (this.policy.drift.enabled || reason === 'startup');
      if (enforce) this.judgeRunningKubelet(node);
      if (enforce) {
        const plan = buildPlan(node.evaluated, node.obs, this.policy, { heldRules: held });
        if (plan.changes.length > 0) {
          const result = await executePlan(
            {
              fs: this.deps.fs,
              plugins: this.deps.plugins,
              backups: new BackupStore(this.deps.fs, () => new Date(this.deps.now())),
              services: this.deps.services,
              health: this.deps.health,
              logger: this.deps.logger,
            },
            {
              plan,
              obs: node.obs,
              replan: (failedRules) => buildPlan(node.evaluated, node.obs, this.policy, { failedRules, heldRules: held }),
              noRestart: this.options.noRestart || plan.restarts.some((restart) => this.restartTooSoon(restart.service, started)),
              healthTimeoutMs: this.policy.restarts.healthTimeoutSeconds * 1000,
              retainBackups: this.policy.backups.retain,
            },
          );
          this.account(result, reason, started);
        }
      }
      await this.restartPending(started);
      if (!this.stopped) await this.watcher.update(watchedHostDirs(node.obs));
      this.reconciles += 1;
    } catch (error) {
      this.deps.logger.error('reconcile failed', { reason, error: error instanceof Error ? error.message : String(error) });
    } finally {
      end();
      this.deps.metrics.lastReconcile.set(this.deps.now() / 1000);
      this.lastActivity = this.deps.now();
      this.reconcileStartedAt = null;
    }
  }

  /**
   * When the running kubelet is visible in /proc, its start time against the settings files' change
   * times decides whether a kubelet restart is pending (also after an agent restart, or a change made
   * with --no-restart). Judged before this reconcile's own changes, which add their pending restarts.
   */
  private judgeRunningKubelet(node: InspectedNode): void {
    const service = node.ctx.kubelet.service;
    if (!service || node.obs.kubeletProcess?.startedAtMs == null) return;
    const need = kubeletRestartNeeded(node.ctx, node.evaluated);
    if (!need) {
      this.pendingRestarts.delete(service);
      return;
    }
    if (!this.pendingRestarts.has(service))
      this.deps.logger.warn('service restart pending', { service, reason: need.reason, noRestart: this.options.noRestart });
    this.pendingRestarts.add(service);
  }

  private restartTooSoon(service: string, now: number): boolean {
    const last = this.lastRestart.get(service);
    return last !== undefined && now - last < this.options.restartIntervalMs;
  }

  /** Counts what an apply did; later corrections are drift, and feed the flap guard. */
  private account(result: ApplyResult, reason: ReconcileReason, now: number): void {
    const { metrics, logger } = this.deps;
    for (const entry of result.changes) {
      for (const rule of entry.change.rules) metrics.remediations.inc({ rule, result: entry.result });
      if (entry.result !== 'applied') continue;
      if (reason !== 'startup') {
        for (const rule of entry.change.rules) metrics.driftCorrections.inc({ rule });
        const backoff = this.flap.record(entry.change.path, entry.change.rules, now);
        if (backoff !== null)
          logger.warn('another writer keeps reverting a file, backing off', {
            path: entry.change.path,
            rules: entry.change.rules,
            backoffSeconds: backoff / 1000,
          });
      }
    }
    for (const restart of result.restarts) {
      if (restart.result === 'pending') {
        // Restarts the loop must not do now (--no-restart or too soon) stay pending until they can.
        if (!this.pendingRestarts.has(restart.service))
          logger.warn('service restart pending', { service: restart.service, noRestart: this.options.noRestart });
        this.pendingRestarts.add(restart.service);
        continue;
      }
      this.lastRestart.set(restart.service, now);
      this.pendingRestarts.delete(restart.service);
      metrics.serviceRestarts.inc({ service: restart.service, result: restart.result });
      if (restart.result === 'rolled-back' || restart.result === 'failed') metrics.rollbacks.inc({ service: restart.service });
    }
  }

  /** A restart deferred by the rate limit is done once it is allowed (never with --no-restart). */
  private async restartPending(now: number): Promise<void> {
    if (this.options.noRestart) return;
    for (const service of [...this.pendingRestarts]) {
      if (this.restartTooSoon(service, now)) continue;
      this.pendingRestarts.delete(service);
      this.lastRestart.set(service, now);
      try {
        await this.deps.services.restart(service);
        const healthy = await this.deps.health(service).waitHealthy(this.policy.restarts.healthTimeoutSeconds * 1000);
        this.deps.metrics.serviceRestarts.inc({ service, result: healthy ? 'restarted' : 'unhealthy' });
        if (!healthy) this.deps.logger.error('service unhealthy after a deferred restart', { service });
      } catch (error) {
        this.deps.metrics.serviceRestarts.inc({ service, result: 'failed' });
        this.deps.logger.error('deferred restart failed', { service, error: error instanceof Error ? error.message : String(error) });
      }
    }
  }
}

/** A comparable text of a policy (its rules are a Map, which JSON would drop). */
function policyKey(policy: Policy): string {
  return JSON.stringify({ ...policy, rules: [...policy.rules] });
}
