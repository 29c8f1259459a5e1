import type { ApplyResult } from '../node/executor.js';
import { restartGate, type RestartGate } from '../node/health-gate.js';
import { nodeState } from '../cluster/node-status.js';
import { inspectNode, readKubeletView, type InspectedNode } from '../node/inspect.js';
import { readPolicyFile } from '../node/policy-file.js';
import { changeKey } from '../core/plan.js';
import type { Observation } from '../core/observation.js';
import type { Policy } from '../core/policy.js';
import { watch, type FSWatcher } from 'chokidar';
import { policyHash, RolledBackChanges } from '../session/held-changes.js';
import { RestartSlots, SLOT_UNKNOWN, WAITING_FOR_SLOT } from '../session/restart-slot.js';
import { EnforcementSession, type ChangeCause } from '../session/session.js';
import { DEFAULT_FLAP_GUARD, FlapGuard } from './flap-guard.js';
import { NodeReporter } from './reporting.js';
import { policyForThisNode } from './node-policy.js';
import { RestartBook } from './restart-book.js';
import { ClusterStep } from './cluster-step.js';
import type { DaemonDeps, DaemonOptions, ReconcileReason } from './types.js';
import { DirectoryWatcher, watchedHostDirs } from './watcher.js';
import { uncoveredChecks, uncoveredFinding } from '../rules/cis/catalogue.js';
import { DEFAULT_BENCHMARK } from '../rules/cis/index.js';
import { distributionLabel } from '../rules/platform/distribution.js';

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
  private resync: { readonly seconds: number; readonly timer: NodeJS.Timeout } | null = null;
  private stopped = false;
  private readonly restarts: RestartBook;
  /** The cluster-wide part of each reconcile; null without cluster credentials. */
  private readonly clusterStep: ClusterStep | null;
  /** The last inspection: an unchanged node is not read in full, parsed or judged again. */
  private lastInspected: InspectedNode | null = null;
  /** The observation the file watches were last set from. */
  private watchedObs: Observation | null = null;
  private readonly session: EnforcementSession;
  private readonly reporter: NodeReporter;
  private loaded = false;
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
    this.watcher = new DirectoryWatcher(
      deps.fs.hostRoot,
      (file) => this.onFileEvent(file),
      (error) => {
        deps.metrics.watchErrors.inc();
        deps.logger.warn('file watcher error: drift is found by the poll and resync until it recovers', { error: error.message });
      },
    );
    this.lastActivity = deps.now();
    this.restarts = new RestartBook(options.restartIntervalMs, options.noRestart, deps.logger);
    this.session = new EnforcementSession({
      fs: deps.fs,
      plugins: deps.plugins,
      services: deps.services,
      logger: deps.logger,
      now: deps.now,
      slots: new RestartSlots(deps.cluster?.semaphore ?? null, deps.logger, options.slotRetryMs),
      held: new RolledBackChanges(deps.fs),
      cluster: deps.cluster ? { configMaps: deps.cluster.api.configMaps, pods: deps.cluster.api.pods } : null,
      disruption: deps.disruption ?? null,
    });
    this.reporter = new NodeReporter(deps.cluster, deps.logger);
    this.clusterStep = deps.cluster
      ? new ClusterStep({
          cluster: deps.cluster,
          session: this.session,
          logger: deps.logger,
          now: deps.now,
          nodeName: options.input.nodeName,
          policy: () => this.policy,
          policyHash: () => policyHash(this.policyText),
          gateIntervalMs: options.gateIntervalMs,
        })
      : null;
  }

  /** The policy the loop currently enforces (the last good one). Set by `start`. */
  get policyInForce(): Policy {
    return this.policy;
  }

  /**
   * Loads the policy (refusing an invalid one), what earlier agent processes left on record (held
   * rollbacks on the host, a restart slot this node still holds) and the policy watcher. Fast: the
   * caller opens its probes right after, before the first reconcile.
   */
  async load(): Promise<void> {
    if (this.loaded) return;
    const loaded = await this.readNodePolicy();
    if (!loaded.ok) throw new Error(`invalid policy, not starting:\n  ${loaded.errors.join('\n  ')}`);
    this.policy = loaded.policy;
    this.policyText = policyKey(loaded.policy);
    await this.session.held!.load(policyHash(this.policyText));
    await this.session.slots.adopt(null);
    this.deps.logger.info('policy loaded', { file: this.options.policyFile ?? '(built-in)', mode: this.policy.mode, overrides: loaded.applied });
    if (this.options.policyFile) {
      // The policy is an agent file (a mounted ConfigMap swaps a `..data` symlink in its directory).
      this.policyWatcher = watch(this.policyDir(), { depth: 0, ignoreInitial: true, followSymlinks: false });
      this.policyWatcher.on('all', (_event, file) => this.onFileEvent(file));
      await new Promise<void>((resolve) => this.policyWatcher!.once('ready', () => resolve()));
    }
    this.loaded = true;
  }

  /** Loads (if not yet), reconciles once, then starts the triggers. Resolves after the first reconcile. */
  async start(): Promise<void> {
    await this.load();
    // Through trigger, so anything asking for a reconcile meanwhile queues behind this one.
    this.trigger('startup');
    await this.running;
    if (this.stopped) return;
    await this.deps.cluster?.workloads?.start();
    // A stop that came while the watch started must not leave timers behind (they keep the process up).
    if (this.stopped) {
      this.deps.cluster?.workloads?.stop();
      return;
    }
    this.timers.push(setInterval(() => this.trigger('poll'), this.options.pollMs));
    this.armResync();
    if (this.clusterStep) this.timers.push(setInterval(() => this.trigger('roll'), this.options.rollCheckMs));
  }

  /** (Re)starts the resync timer at the policy's interval (a policy update may change it). */
  private armResync(): void {
    if (this.resync) clearInterval(this.resync.timer);
    const seconds = this.policy.drift.resyncSeconds;
    this.resync = { seconds, timer: setInterval(() => this.trigger('resync'), seconds * 1000) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.forEach((timer) => clearInterval(timer));
    if (this.resync) clearInterval(this.resync.timer);
    this.resync = null;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    // Let a reconcile in progress finish its writes (a write is never cut in half), then close the
    // watchers: closing first would let that reconcile open new ones.
    await this.running;
    await this.watcher.close();
    await this.policyWatcher?.close();
    this.deps.cluster?.workloads?.stop();
    await this.session.slots.stop();
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

  /** The policy file with this node's pool overrides folded in (its Node's labels). */
  private async readNodePolicy() {
    return policyForThisNode(await readPolicyFile(this.options.policyFile), this.deps.cluster?.api.nodes ?? null, this.options.input.nodeName);
  }

  private async reloadPolicy(): Promise<void> {
    const loaded = await this.readNodePolicy();
    if (!loaded.ok) {
      this.deps.logger.error('policy refused, keeping the last good one', { file: this.options.policyFile, errors: loaded.errors });
      return;
    }
    const text = policyKey(loaded.policy);
    if (text === this.policyText) return;
    this.policyText = text;
    this.policy = loaded.policy;
    await this.session.held!.policyChanged(policyHash(text));
    if (this.resync && this.resync.seconds !== this.policy.drift.resyncSeconds) this.armResync();
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
      const node = await inspectNode(this.deps.fs, this.deps.runner, this.deps.plugins, input, this.policy, this.lastInspected);
      this.lastInspected = node;
      if (!this.kubeletVersion && node.obs.kubeletVersion) this.kubeletVersion = node.obs.kubeletVersion.raw;
      const fromCluster = this.clusterStep ? await this.clusterStep.run(node, reason) : [];
      // The cluster's verdicts replace the node's skips for the same rules (see ClusterStep).
      const findings = node.evaluated.map(
        (rule) =>
          (rule.evaluation.finding.status === 'skip' && fromCluster.find((finding) => finding.id === rule.meta.id)) || rule.evaluation.finding,
      );
      this.deps.metrics.recordFindings(findings);
      // The report lists the benchmark's checks no rule judges too (skip, with what to check), as audit does.
      await this.reporter.policyReport([...findings, ...UNCOVERED_CHECKS], policyHash(this.policyText), this.deps.now());
      this.deps.metrics.recordNode(node.obs, distributionLabel(node.ctx.kubelet.distribution));
      const held = this.flap.heldRules(started);
      this.deps.metrics.recordConflicts(
        findings.map((finding) => finding.id),
        new Set(held.keys()),
      );
      const gate = this.gate(node);
      await this.session.slots.recheckStuck(gate, RECHECK_TIMEOUT_MS);
      let remaining = findings.filter((finding) => finding.status === 'fail' || finding.status === 'unknown').map((finding) => finding.id);
      let waiting = false;
      let disruptionHeld: 'pending-window' | 'paused' | 'blocked' | null = null;
      // Audit mode goes through the session too: it judges and reports, and writes nothing.
      if (this.policy.drift.enabled || reason === 'startup') {
        if (this.policy.mode === 'enforce') this.restarts.judgeRunningKubelet(node);
        const outcome = await this.enforce(node, held, gate, started);
        waiting = outcome.waiting;
        disruptionHeld = outcome.disruptionHeld;
        remaining = remaining.filter((id) => !outcome.fixed.has(id));
        // Control-plane flags just hardened: mirror them into kubeadm-config from a fresh look at once.
        if (this.clusterStep?.mirrors(outcome.fixed)) this.trigger('event');
      }
      if (this.policy.mode === 'enforce') await this.restartPending(started, gate);
      await this.reporter.state(
        nodeState({
          remainingFindings: remaining.length,
          remediating: waiting || this.restarts.pendingCount > 0,
          degraded: this.session.degraded,
          disruptionHeld,
        }),
        this.deps.now(),
      );
      // The watch set follows the observation; an unchanged one (the 10 s poll) keeps the watches it has.
      if (!this.stopped && node.obs !== this.watchedObs) {
        await this.watcher.update(watchedHostDirs(node.obs));
        this.watchedObs = node.obs;
      }
      this.reconciles += 1;
      // Only a reconcile that finished moves the timestamp: a dashboard must see a loop that fails.
      this.deps.metrics.lastReconcile.set(this.deps.now() / 1000);
    } catch (error) {
      this.deps.metrics.reconcileErrors.inc();
      this.deps.logger.error('reconcile failed', { reason, error: error instanceof Error ? error.message : String(error) });
    } finally {
      end();
      this.lastActivity = this.deps.now();
      this.reconcileStartedAt = null;
    }
  }

  /**
   * Hands the node's plan to the enforcement session (which holds rolled-back changes, takes a restart
   * slot for disruptive ones and writes nothing in audit mode) and accounts for what it did. Returns the
   * rules this reconcile fixed and whether a disruptive change is still waiting.
   */
  private async enforce(
    node: InspectedNode,
    flapHeld: ReadonlyMap<string, string>,
    gate: RestartGate,
    started: number,
  ): Promise<{ fixed: ReadonlySet<string>; waiting: boolean; disruptionHeld: 'pending-window' | 'paused' | 'blocked' | null }> {
    const outcome = await this.session.enforceNode({
      policy: this.policy,
      policyKey: this.policyText,
      node,
      gate,
      held: flapHeld,
      noRestart: (candidate) =>
        this.options.noRestart ||
        candidate.activations.some((activation) => activation.kind === 'restart' && this.restarts.tooSoon(activation.service, started)),
      noReload: this.options.noRestart,
      onSlotFree: () => this.trigger('event'),
    });
    if (outcome.disrupting) await this.reporter.state('remediating', this.deps.now());
    // Waiting (for a slot, a window, the pause switch or a blocker) is reported by state and its own Event.
    this.reporter.blocked(
      outcome.plan.blocked,
      (why) => why === WAITING_FOR_SLOT || why === SLOT_UNKNOWN || why.startsWith('rolled back at') || why.startsWith('disruption not allowed now'),
    );
    const result = outcome.result;
    const disruptionHeld = outcome.disruptionHeld;
    if (!result) return { fixed: new Set(), waiting: outcome.waiting, disruptionHeld };
    this.account(result, outcome.causes, started);
    // The rollback also undid changes that did not need the failed restart (sysctls, modes): the next
    // reconcile puts those back at once instead of at the next resync.
    if (result.changes.some((entry) => entry.result === 'rolled-back')) this.trigger('event');
    const fixed = new Set(result.ok ? result.changes.filter((entry) => entry.result === 'applied').flatMap((entry) => entry.change.rules) : []);
    return { fixed, waiting: outcome.waiting, disruptionHeld };
  }

  /** The health gate for this node: endpoint, new kubelet process with the flags on disk, cluster view. */
  private gate(node: InspectedNode): RestartGate {
    return restartGate({
      http: this.deps.health,
      fs: this.deps.fs,
      kubeletService: node.ctx.kubelet.service,
      kubeletVisible: node.obs.kubeletProcess !== null,
      kubeletView: () =>
        readKubeletView(this.deps.fs, this.deps.runner, this.deps.plugins, { ...this.options.input, kubeletVersion: this.kubeletVersion }),
      node: this.deps.cluster?.nodeHealth ?? null,
      intervalMs: this.options.gateIntervalMs,
      nodeIp: node.ctx.nodeIp.value,
    });
  }

  /** Counts what an apply did. Only drift (a rule that passed before) counts as drift and feeds the flap guard. */
  private account(result: ApplyResult, causes: ReadonlyMap<string, ChangeCause>, now: number): void {
    const { metrics, logger } = this.deps;
    this.reporter.applied(result, causes);
    for (const entry of result.changes) {
      for (const rule of entry.change.rules) metrics.remediations.inc({ rule, result: entry.result });
      if (entry.result !== 'applied' || causes.get(changeKey(entry.change)) !== 'drift') continue;
      for (const rule of entry.change.rules) metrics.driftCorrections.inc({ rule });
      const backoff = this.flap.record(entry.change.path, entry.change.rules, now);
      if (backoff !== null)
        logger.warn('another writer keeps reverting a file, backing off', {
          path: entry.change.path,
          rules: entry.change.rules,
          backoffSeconds: backoff / 1000,
        });
    }
    this.restarts.recordApply(result.activations, now, metrics);
  }

  /**
   * A restart deferred by the rate limit is done once it is allowed (never with --no-restart), through
   * the session: under a restart slot like any other disruption, health-gated.
   */
  private async restartPending(now: number, gate: RestartGate): Promise<void> {
    for (const service of this.restarts.due(now)) {
      const problem = await this.session.restartDeferred(this.policy, service, gate, () => this.trigger('event'));
      if (problem === 'waiting') continue;
      this.restarts.restarted(service, now);
      this.deps.metrics.serviceRestarts.inc({ service, result: problem === null ? 'restarted' : 'unhealthy' });
      if (problem === null) continue;
      this.deps.logger.error('service unhealthy after a deferred restart', { service, reason: problem });
      this.reporter.restartFailed(service, problem);
    }
  }
}

/** The default benchmark's checks that no rule judges, as `skip` findings (the same on every node). */
const UNCOVERED_CHECKS = uncoveredChecks(DEFAULT_BENCHMARK).map((check) => uncoveredFinding(DEFAULT_BENCHMARK, check));

/** How long a stuck node's re-check waits for its gate at each reconcile. */
const RECHECK_TIMEOUT_MS = 2000;

/** A comparable text of a policy (its rules are a Map, which JSON would drop). */
function policyKey(policy: Policy): string {
  return JSON.stringify({ ...policy, rules: [...policy.rules] });
}
