import type { Observation } from '../core/observation.js';
import { changeKey, type Activation, type BlockedRule, type Plan, type PlannedChange } from '../core/plan.js';
import type { BackupStore, Journal } from '../host/backups.js';
import { sha256 } from '../host/backups.js';
import type { RestartGate } from './health-gate.js';
import type { HealthProbe } from '../host/health.js';
import type { PluginProber } from '../host/cni-plugin.js';
import type { HostFs } from '../host/host-fs.js';
import type { ServiceManager } from '../host/service-manager.js';
import type { Logger } from '../telemetry/logger.js';

export type ChangeOutcome = 'applied' | 'skipped' | 'failed' | 'rolled-back';
/** `restarted`: restarted (or, for a static pod, its manifest written) and proven healthy. */
export type ActivationOutcome = 'restarted' | 'pending' | 'failed' | 'rolled-back';

export interface ChangeResult {
  readonly change: PlannedChange;
  result: ChangeOutcome;
  error?: string;
}

/** What became of one activation of the plan (keyed by its id, never re-derived after a re-plan). */
export interface ActivationResult {
  readonly activation: Activation;
  result: ActivationOutcome;
  error?: string;
}

/** What `apply` did, change by change (DESIGN §3 `apply --output json`). */
export interface ApplyResult {
  readonly backupId: string | null;
  readonly changes: readonly ChangeResult[];
  readonly activations: readonly ActivationResult[];
  readonly blocked: readonly BlockedRule[];
  /** True when every change applied and every activation (if any) proved healthy. */
  readonly ok: boolean;
  /** Services still unhealthy at the end, even after the rollback: the node needs a human. */
  readonly unhealthy: readonly string[];
}

export interface ApplyDeps {
  readonly fs: HostFs;
  /** Reads shipped binaries and proves an installed one runs on the host. */
  readonly plugins: PluginProber;
  readonly backups: BackupStore;
  readonly services: ServiceManager;
  /** The health gate of a service restarted (or reloaded) at a given wall-clock time. */
  readonly health: RestartGate;
  readonly logger: Logger;
}

export interface ApplyRequest {
  readonly plan: Plan;
  readonly obs: Observation;
  /** Re-plans without the rules whose changes failed, so their dependents do not go ahead. */
  readonly replan: (failedRules: ReadonlySet<string>) => Plan;
  readonly noRestart: boolean;
  readonly healthTimeoutMs: number;
  readonly retainBackups: number;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Executes a node plan stage by stage: back up, write atomically, verify; a failed change blocks the
 * rules that depend on it (re-plan for what is left). Activations come from the original plan: a
 * static pod is gated right after its manifest is written (and every change bound to it restored when
 * it does not come back); services restart once everything is written, and a failed gate rolls the
 * whole apply back. Called only by the enforcement session.
 */
export async function executePlan(deps: ApplyDeps, request: ApplyRequest): Promise<ApplyResult> {
  const { backups, logger } = deps;
  if (request.plan.changes.length === 0)
    return { backupId: null, changes: [], activations: [], blocked: request.plan.blocked, ok: true, unhealthy: [] };

  const journal = await backups.begin('apply');
  logger.info('apply started', { backupId: journal.id, changes: request.plan.changes.length });
  const results = new Map<string, ChangeResult>();
  const failed = new Set<string>();
  const activations = new Map<string, ActivationResult>();
  let plan = request.plan;
  for (;;) {
    // Track what ran, not stage numbers: a re-plan renumbers stages and each change still runs once.
    const pending = plan.changes.filter((change) => !results.has(changeKey(change)));
    if (pending.length === 0) break;
    const stage = Math.min(...pending.map((change) => change.stage));
    for (const change of pending.filter((candidate) => candidate.stage === stage)) {
      const result: ChangeResult = { change, result: 'applied' };
      results.set(changeKey(change), result);
      try {
        await applyChange(deps, journal, change, request.obs);
        change.rules.forEach((id) => journal.rules.includes(id) || journal.rules.push(id));
        // Hashes, never contents: secrets live next to kubelet config.
        const hashes =
          change.action === 'write' ? { beforeSha256: change.before === null ? null : sha256(change.before), afterSha256: sha256(change.after) } : {};
        logger.info('change applied', { path: change.path, action: change.action, rules: change.rules, ...hashes });
      } catch (error) {
        result.result = 'failed';
        result.error = message(error);
        change.rules.forEach((id) => failed.add(id));
        logger.error('change failed', { path: change.path, action: change.action, rules: change.rules, error: result.error });
        continue;
      }
      // A static pod manifest takes effect as soon as it is written: prove that component healthy
      // before touching the next one, and put back everything its activation carries if it does not.
      const reload = request.plan.activations.find((activation) => activation.kind === 'reload' && activation.changes.includes(changeKey(change)));
      // Gated even when restarts are deferred (the daemon's rate limit): no flag defers this one. The
      // session does not write manifests at all under --no-restart (NO_RELOAD).
      if (!reload || change.action !== 'write' || !change.restartsComponent) continue;
      const problem = await reloadGate(deps, journal, reload, results, request.healthTimeoutMs);
      activations.set(
        reload.id,
        problem === null ? { activation: reload, result: 'restarted' } : { activation: reload, result: 'rolled-back', error: problem },
      );
      if (problem !== null) reload.rules.forEach((id) => failed.add(id));
    }
    if (failed.size > 0) plan = request.replan(failed);
  }
  // Changes of the original plan that a re-plan dropped were not attempted.
  for (const change of request.plan.changes) if (!results.has(changeKey(change))) results.set(changeKey(change), { change, result: 'skipped' });

  const applied = (key: string) => results.get(key)?.result === 'applied';
  const restarts: ActivationResult[] = request.plan.activations
    .filter((activation) => activation.kind === 'restart' && activation.changes.some(applied))
    .map((activation) => ({ activation, result: request.noRestart ? 'pending' : 'restarted' }));
  journal.state = failed.size > 0 ? 'failed' : 'complete';
  journal.services = [...activations.values(), ...restarts].map((entry) => entry.activation.service);
  await backups.save(journal);

  let healthy = true;
  const unhealthy: string[] = [];
  if (!request.noRestart)
    for (const restart of restarts) {
      const error = await restartAndWait(deps, restart.activation.service, request.healthTimeoutMs);
      if (error) {
        restart.result = 'failed';
        restart.error = error;
        healthy = false;
        break;
      }
    }

  if (!healthy) {
    logger.warn('health gate failed, rolling back', { backupId: journal.id });
    await backups.restore(journal);
    journal.state = 'rolled-back';
    await backups.save(journal);
    for (const result of results.values()) if (result.result === 'applied') result.result = 'rolled-back';
    for (const restart of restarts) {
      const error = await restartAndWait(deps, restart.activation.service, request.healthTimeoutMs);
      if (restart.result !== 'failed') restart.result = 'rolled-back';
      if (error) {
        unhealthy.push(restart.activation.service);
        logger.error('service unhealthy after rollback', { service: restart.activation.service, error });
      }
    }
  }
  await backups.prune(request.retainBackups);
  return {
    backupId: journal.id,
    changes: [...results.values()],
    activations: [...activations.values(), ...restarts],
    blocked: plan.blocked,
    ok: failed.size === 0 && healthy,
    unhealthy,
  };
}

/**
 * Waits for a static pod after its manifest changed; when it stays unhealthy, restores every change
 * its activation carries (the manifest and the configuration files written for it) and marks them
 * rolled back. Null when healthy, else why it was not.
 */
async function reloadGate(
  deps: ApplyDeps,
  journal: Journal,
  activation: Activation,
  results: ReadonlyMap<string, ChangeResult>,
  timeoutMs: number,
): Promise<string | null> {
  const verdict = await deps.health(activation.service, Date.now()).waitHealthy(timeoutMs);
  if (verdict.healthy) return null;
  deps.logger.warn('component unhealthy after its manifest changed, restoring it', { service: activation.service, reason: verdict.reason });
  for (const key of activation.changes) {
    const result = results.get(key);
    if (result?.result !== 'applied') continue;
    await deps.backups.restoreLatest(journal, result.change.path);
    result.result = 'rolled-back';
    result.error = `${activation.service} not healthy within ${Math.round(timeoutMs / 1000)}s (${verdict.reason}); restored`;
  }
  const back = await deps.health(activation.service, Date.now()).waitHealthy(timeoutMs);
  if (!back.healthy)
    deps.logger.error('component still unhealthy after the manifest was restored', { service: activation.service, reason: back.reason });
  return verdict.reason;
}

/** Restarts a service and waits for its gate. Null when healthy, else why not. */
export async function restartAndWait(deps: Pick<ApplyDeps, 'services' | 'health'>, service: string, timeoutMs: number): Promise<string | null> {
  // Wall clock on purpose: the gate compares it with process start times read from /proc.
  const since = Date.now();
  try {
    await deps.services.restart(service);
  } catch (error) {
    return message(error);
  }
  return waitHealthy(deps.health(service, since), service, timeoutMs);
}

/** Waits for a service's gate; null when healthy in time, else why not. */
export async function waitHealthy(probe: HealthProbe, service: string, timeoutMs: number): Promise<string | null> {
  const verdict = await probe.waitHealthy(timeoutMs);
  return verdict.healthy ? null : `${service} not healthy within ${Math.round(timeoutMs / 1000)}s: ${verdict.reason}`;
}

/** One change, journal first. Refuses to overwrite a file that changed since it was observed. */
async function applyChange(deps: ApplyDeps, journal: Journal, change: PlannedChange, obs: Observation): Promise<void> {
  const { fs, backups } = deps;
  switch (change.action) {
    case 'install':
      return installBinary(deps, journal, change);
    case 'remove': {
      const now = await fs.readFile(change.path);
      if (now.kind !== 'file' || now.content !== change.before) throw new Error(`${change.path} changed since it was read; not removed (run again)`);
      await backups.recordFile(journal, change.path);
      await fs.remove(change.path);
      return;
    }
    case 'write': {
      const now = await fs.readFile(change.path);
      const current = now.kind === 'file' ? now.content : null;
      if (now.kind === 'error') throw new Error(`${change.path}: ${now.error}`);
      if (current !== change.before) throw new Error(`${change.path} changed since it was read; not overwritten (run again)`);
      await backups.recordFile(journal, change.path);
      await fs.writeAtomic(change.path, change.after, change.createMode ?? 0o644);
      const check = await fs.readFile(change.path);
      if (check.kind !== 'file' || sha256(check.content) !== sha256(change.after))
        throw new Error(`${change.path} does not hold the written content`);
      return;
    }
    case 'chmod':
      await backups.record(journal, { type: 'chmod', path: change.path, before: change.before });
      await fs.chmod(change.path, change.after);
      return;
    case 'chown':
      await backups.record(journal, { type: 'chown', path: change.path, before: change.before });
      await fs.chown(change.path, change.after.uid, change.after.gid);
      return;
    case 'sysctl': {
      const live = obs.sysctls.get(change.key);
      const before = live?.kind === 'value' ? live.value : change.before;
      await backups.record(journal, { type: 'sysctl', key: change.key, path: change.path, before });
      await fs.writeInPlace(change.path, `${change.after}\n`);
      // The kernel may refuse or clamp a value without an error: read it back.
      const check = await fs.readFile(change.path);
      if (check.kind !== 'file' || check.content.trim() !== change.after) throw new Error(`${change.key} did not take the value ${change.after}`);
      return;
    }
  }
}

/**
 * Copies a shipped binary: checksum of the source, atomic write at 0755, checksum of the result, then
 * proof that it runs on the host (chrooted into the host root). A binary that does not run there is
 * taken back out at once, so nothing is chained to it.
 */
async function installBinary(deps: ApplyDeps, journal: Journal, change: Extract<PlannedChange, { action: 'install' }>): Promise<void> {
  const { fs, backups, plugins } = deps;
  const bytes = await plugins.readShipped(change.plugin);
  if (sha256(bytes) !== change.sha256) throw new Error(`shipped ${change.plugin} changed since it was checked; not installed`);
  await backups.recordFile(journal, change.path);
  await fs.writeAtomic(change.path, bytes, 0o755);
  await fs.chmod(change.path, 0o755);
  const written = await fs.readBytes(change.path);
  const probe = written && sha256(written) === change.sha256 ? await plugins.probeHost(change.path) : null;
  if (probe?.kind === 'present' && probe.versions) return;
  await backups.restoreLatest(journal, change.path);
  const why = !probe
    ? 'checksum mismatch after the copy'
    : probe.kind === 'present'
      ? `it does not run there (${probe.runError ?? 'no VERSION answer'})`
      : 'it vanished';
  throw new Error(`${change.path}: installed ${change.plugin} was taken back out: ${why}`);
}
