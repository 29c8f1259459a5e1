import { executePlan, restartAndWait, type ApplyResult } from '../apply/executor.js';
import { restartGate, type RestartGate } from '../apply/health-gate.js';
import { policyHash } from '../apply/rolled-back.js';
import { nodeState } from '../cluster/node-status.js';
import { inspectNode, readPolicyFile, type InspectedNode } from '../apply/inspect.js';
import { buildPlan } from '../core/planner.js';
import type { Policy } from '../core/policy.js';
import { BackupStore } from '../host/backups.js';
import { watch, type FSWatcher } from 'chokidar';
import { DEFAULT_FLAP_GUARD, FlapGuard } from './flap-guard.js';
import { DisruptionControl, WAITING_FOR_SLOT } from './disruption.js';
import { NodeReporter } from './reporting.js';
import { policyForThisNode } from './node-policy.js';
import { RestartBook } from './restart-book.js';
import { clusterSettingsFor, type ClusterSettings } from './cluster-settings.js';
import type { Finding } from '../core/finding.js';
import type { DaemonCluster, DaemonDeps, DaemonOptions, ReconcileReason } from './types.js';
import { DirectoryWatcher, watchedHostDirs } from './watcher.js';

export { DEFAULT_DAEMON_TIMING, type DaemonCluster, type DaemonDeps, type DaemonOptions, type ReconcileReason } from './types.js';

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
  private readonly restarts: RestartBook;
  private readonly settings: ClusterSettings | null;
  /** The leader's findings on cluster-wide settings, refreshed at start-up, resync and policy change. */
  private clusterFindings: readonly Finding[] = [];
  private readonly disruption: DisruptionControl;
  private readonly reporter: NodeReporter;
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
    this.restarts = new RestartBook(options.restartIntervalMs, options.noRestart, deps.logger);
    this.disruption = new DisruptionControl(deps.fs, deps.cluster?.semaphore ?? null, deps.logger, options.slotRetryMs);
    this.reporter = new NodeReporter(deps.cluster, deps.logger);
    this.settings = deps.cluster ? this.clusterSettings(deps.cluster) : null;
  }

  private clusterSettings(cluster: DaemonCluster): ClusterSettings {
    return clusterSettingsFor({
      ...cluster,
      disruption: this.disruption,
      logger: this.deps.logger,
      now: this.deps.now,
      nodeName: this.options.input.nodeName,
      policy: () => this.policy,
      policyHash: () => policyHash(this.policyText),
      pollMs: this.options.gateIntervalMs,
    });
  }

  /** The policy the loop currently enforces (the last good one). Set by `start`. */
  get policyInForce(): Policy {
    return this.policy;
  }

  /** Loads the policy (refusing to start on an invalid one), reconciles once, then starts the triggers. */
  async start(): Promise<void> {
    const loaded = await this.readNodePolicy(); // issue 19 hook: node-pool overrides
    if (!loaded.ok) throw new Error(`invalid policy, not starting:\n  ${loaded.errors.join('\n  ')}`);
    this.policy = loaded.policy;
    this.policyText = policyKey(loaded.policy);
    await this.disruption.rolledBack.load(policyHash(this.policyText));
    this.deps.logger.info('policy loaded', { file: this.options.policyFile ?? '(built-in)', mode: this.policy.mode, overrides: loaded.applied });
    if (this.options.policyFile) {
      // The policy is an agent file (a mounted ConfigMap swaps a `..data` symlink in its directory).
      this.policyWatcher = watch(this.policyDir(), { depth: 0, ignoreInitial: true, followSymlinks: false });
      this.policyWatcher.on('all', (_event, file) => this.onFileEvent(file));
      await new Promise<void>((resolve) => this.policyWatcher!.once('ready', () => resolve()));
    }
    // Through trigger, so anything asking for a reconcile meanwhile queues behind this one.
    this.trigger('startup');
    await this.running;
    await this.deps.cluster?.workloads?.start();
    this.timers.push(setInterval(() => this.trigger('poll'), this.options.pollMs));
    this.timers.push(setInterval(() => this.trigger('resync'), this.policy.drift.resyncSeconds * 1000));
    if (this.settings) this.timers.push(setInterval(() => this.trigger('roll'), this.options.rollCheckMs));
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
    this.deps.cluster?.workloads?.stop();
    await this.disruption.stop();
    await this.reporter.stop();
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

  /** issue 19 hook: the policy file with this node's pool overrides folded in (its Node's labels). */
  private async readNodePolicy() {
    return policyForThisNode(await readPolicyFile(this.options.policyFile), this.deps.cluster?.api.nodes ?? null, this.options.input.nodeName);
  }

  private async reloadPolicy(): Promise<void> {
    const loaded = await this.readNodePolicy(); // issue 19 hook: node-pool overrides
    if (!loaded.ok) {
      this.deps.logger.error('policy refused, keeping the last good one', { file: this.options.policyFile, errors: loaded.errors });
      return;
    }
    const text = policyKey(loaded.policy);
    if (text === this.policyText) return;
    this.policyText = text;
    this.policy = loaded.policy;
    await this.disruption.rolledBack.policyChanged(policyHash(text));
    this.deps.logger.info('policy reloaded', { file: this.options.policyFile, mode: this.policy.mode, overrides: loaded.applied });
  }

  private async reconcile(reason: ReconcileReason): Promise<void> {
    const started = this.deps.now();
    this.reconcileStartedAt = started;
    const end = this.deps.metrics.reconcileDuration.startTimer();
    try {
      if (reason === 'policy' || reason === 'resync') {
        await this.reloadPolicy();
        // Exemptions may have changed, or expired since the last audit.
        this.deps.cluster?.workloads?.audit();
      }
      if (reason === 'resync') this.kubeletVersion = this.options.input.kubeletVersion; // re-detect: the kubelet may have been upgraded
      const input = { ...this.options.input, kubeletVersion: this.kubeletVersion };
      const node = await inspectNode(this.deps.fs, this.deps.runner, this.deps.plugins, input, this.policy);
      if (!this.kubeletVersion && node.obs.kubeletVersion) this.kubeletVersion = node.obs.kubeletVersion.raw;
      if (this.settings && reason !== 'event' && reason !== 'poll') {
        if (reason === 'roll') await this.settings.rollStep();
        else this.clusterFindings = await this.settings.reconcile();
      }
      // On a kubeadm node the kube-proxy rules skip (the ConfigMap is cluster-wide); the leader's verdict on it counts.
      const findings = node.evaluated.map(
        (rule) =>
          (rule.evaluation.finding.status === 'skip' && this.clusterFindings.find((finding) => finding.id === rule.meta.id)) ||
          rule.evaluation.finding,
      );
      this.deps.metrics.recordFindings(findings);
      await this.reporter.policyReport(findings, policyHash(this.policyText), this.deps.now()); // issue 19 hook
      this.deps.metrics.recordNode(node.obs, node.ctx.kubelet.layout);
      const held = this.flap.heldRules(started);
      this.deps.metrics.recordConflicts(
        findings.map((finding) => finding.id),
        new Set(held.keys()),
      );
      const enforce = this.policy.mode === 'enforce' && (this.policy.drift.enabled || reason === 'startup');
      const gate = this.gate(node);
      await this.disruption.recheckStuck(gate);
      let remaining = findings.filter((finding) => finding.status === 'fail' || finding.status === 'unknown').map((finding) => finding.id);
      let waiting = false;
      if (enforce) {
        this.restarts.judgeRunningKubelet(node);
        const outcome = await this.enforce(node, held, gate, reason, started);
        waiting = outcome.waiting;
        remaining = remaining.filter((id) => !outcome.fixed.has(id));
      }
      await this.restartPending(started, gate);
      await this.reporter.state(
        nodeState({
          remainingFindings: remaining.length,
          remediating: waiting || this.restarts.pendingCount > 0,
          degraded: this.disruption.degraded,
        }),
        this.deps.now(),
      );
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
   * Plans and applies: holds changes that were rolled back before, waits for a restart slot for the
   * disruptive ones (the rest go ahead), applies, and remembers what a failed health gate rolled back.
   * Returns the rules this reconcile fixed and whether a disruptive change is still waiting.
   */
  private async enforce(
    node: InspectedNode,
    flapHeld: ReadonlyMap<string, string>,
    gate: RestartGate,
    reason: ReconcileReason,
    started: number,
  ): Promise<{ fixed: ReadonlySet<string>; waiting: boolean }> {
    const plan = (heldRules: ReadonlyMap<string, string>, failedRules?: ReadonlySet<string>) =>
      buildPlan(node.evaluated, node.obs, this.policy, { heldRules, ...(failedRules ? { failedRules } : {}) });
    const { current, held, noRestart, waiting, disrupting } = await this.disruption.prepare(
      plan,
      flapHeld,
      (candidate) =>
        this.options.noRestart ||
        candidate.restarts.some((restart) => restart.disruption === 'restart' && this.restarts.tooSoon(restart.service, started)),
      () => this.trigger('event'),
    );
    if (disrupting) await this.reporter.state('remediating', this.deps.now());
    this.reporter.blocked(current.blocked, (why) => why === WAITING_FOR_SLOT || why.startsWith('rolled back at'));
    if (current.changes.length === 0) {
      await this.disruption.settle({ unhealthy: [] });
      return { fixed: new Set(), waiting };
    }
    const result = await executePlan(
      {
        fs: this.deps.fs,
        plugins: this.deps.plugins,
        backups: new BackupStore(this.deps.fs, () => new Date(this.deps.now())),
        services: this.deps.services,
        health: gate,
        logger: this.deps.logger,
      },
      {
        plan: current,
        obs: node.obs,
        replan: (failedRules) => plan(held, failedRules),
        noRestart,
        healthTimeoutMs: this.policy.restarts.healthTimeoutSeconds * 1000,
        retainBackups: this.policy.backups.retain,
      },
    );
    this.account(result, reason, started);
    // The rollback also undid changes that did not need the failed restart (sysctls, modes): the next
    // reconcile puts those back at once instead of at the next resync.
    if (await this.disruption.rememberRollbacks(result, this.deps.now())) this.trigger('event');
    await this.disruption.settle(result);
    const fixed = new Set(result.ok ? result.changes.filter((entry) => entry.result === 'applied').flatMap((entry) => entry.change.rules) : []);
    return { fixed, waiting };
  }

  /** The health gate for this node: endpoint, new kubelet process with the flags on disk, cluster view. */
  private gate(node: InspectedNode): RestartGate {
    return restartGate({
      http: this.deps.health,
      fs: this.deps.fs,
      kubeletService: node.ctx.kubelet.service,
      kubeletVisible: node.obs.kubeletProcess !== null,
      kubeletView: async () =>
        (
          await inspectNode(
            this.deps.fs,
            this.deps.runner,
            this.deps.plugins,
            { ...this.options.input, kubeletVersion: this.kubeletVersion },
            this.policy,
          )
        ).ctx.kubelet,
      node: this.deps.cluster?.nodeHealth ?? null,
      intervalMs: this.options.gateIntervalMs,
      nodeIp: node.ctx.nodeIp.value,
    });
  }

  /** Counts what an apply did; later corrections are drift, and feed the flap guard. */
  private account(result: ApplyResult, reason: ReconcileReason, now: number): void {
    const { metrics, logger } = this.deps;
    this.reporter.applied(result, reason !== 'startup');
    for (const entry of result.changes) {
      for (const rule of entry.change.rules) metrics.remediations.inc({ rule, result: entry.result });
      if (entry.result !== 'applied' || reason === 'startup') continue;
      for (const rule of entry.change.rules) metrics.driftCorrections.inc({ rule });
      const backoff = this.flap.record(entry.change.path, entry.change.rules, now);
      if (backoff !== null)
        logger.warn('another writer keeps reverting a file, backing off', {
          path: entry.change.path,
          rules: entry.change.rules,
          backoffSeconds: backoff / 1000,
        });
    }
    this.restarts.recordApply(result.restarts, now, metrics);
  }

  /**
   * A restart deferred by the rate limit is done once it is allowed (never with --no-restart), under a
   * restart slot like any other disruption.
   */
  private async restartPending(now: number, gate: RestartGate): Promise<void> {
    for (const service of this.restarts.due(now)) {
      const wait = await this.disruption.admit(
        { changes: [], blocked: [], restarts: [{ service, disruption: 'restart', reason: 'pending', rules: [service] }] },
        true,
      );
      if (wait.size > 0) {
        this.disruption.waitForSlot(() => this.trigger('event'));
        continue;
      }
      this.restarts.restarted(service, now);
      const problem = await restartAndWait({ services: this.deps.services, health: gate }, service, this.policy.restarts.healthTimeoutSeconds * 1000);
      this.deps.metrics.serviceRestarts.inc({ service, result: problem === null ? 'restarted' : 'unhealthy' });
      if (problem !== null) {
        this.deps.logger.error('service unhealthy after a deferred restart', { service, reason: problem });
        this.reporter.applied(
          {
            backupId: null,
            changes: [],
            blocked: [],
            ok: false,
            unhealthy: [service],
            restarts: [{ service, reason: 'pending', rules: [], result: 'failed', error: problem }],
          },
          true,
        );
      }
      await this.disruption.settle({ unhealthy: problem === null ? [] : [service] });
    }
  }
}

/** A comparable text of a policy (its rules are a Map, which JSON would drop). */
function policyKey(policy: Policy): string {
  return JSON.stringify({ ...policy, rules: [...policy.rules] });
}
