import type { ConfigMapApi, ConfigMapRecord, PodApi } from '../cluster/api.js';
import { buildPlan } from '../core/planner.js';
import { changeKey, type Activation, type Plan } from '../core/plan.js';
import type { Policy } from '../core/policy.js';
import type { HostFs } from '../host/host-fs.js';
import { BackupStore } from '../host/backups.js';
import type { PluginProber } from '../host/cni-plugin.js';
import type { ServiceManager } from '../host/service-manager.js';
import { executePlan, restartAndWait, type ApplyResult } from '../node/executor.js';
import type { RestartGate } from '../node/health-gate.js';
import type { InspectedNode } from '../node/inspect.js';
import type { Logger } from '../telemetry/logger.js';
import type { DisruptionDecision, DisruptionWaitState } from '../cluster/disruption-gate.js';
import type { RolledBackChanges } from './held-changes.js';
import { disruptive, type RestartSlots } from './restart-slot.js';

/**
 * Why a change is made, as data of the change: `hardening` (its rule has not passed since this
 * session began: the first hardening, or a retry after waiting for a slot), `drift` (its rule passed
 * at the previous observation under the same policy: something changed it back), `policy` (the policy
 * changed since the previous observation).
 */
export type ChangeCause = 'hardening' | 'drift' | 'policy';

/** The cluster writes the session makes for the leader's settings, kubeadm-config and the kube-proxy roll. */
export interface ClusterWriteApi {
  readonly configMaps: Pick<ConfigMapApi, 'replace' | 'patchAnnotations'>;
  readonly pods: Pick<PodApi, 'delete'>;
}

export interface SessionDeps {
  readonly fs: HostFs;
  readonly plugins: PluginProber;
  readonly services: ServiceManager;
  readonly logger: Logger;
  readonly now: () => number;
  readonly slots: RestartSlots;
  /** Rollbacks remembered on the host (the daemon); null for a one-shot CLI apply. */
  readonly held: RolledBackChanges | null;
  /** Null without cluster credentials (the CLI, or a standalone daemon). */
  readonly cluster: ClusterWriteApi | null;
  /**
   * When disruption may happen (maintenance windows, the pause switch, blockers), asked before a
   * restart slot is taken; null = always (the CLI: an operator runs it by hand).
   */
  readonly disruption?: DisruptionCheck | null;
}

/** The disruption gate as the session asks it (cluster/disruption-gate.ts ReportedDisruptionGate). */
export interface DisruptionCheck {
  check(nowMs: number): Promise<DisruptionDecision>;
  /** Nothing disruptive waits any more. */
  clear(): void;
}

/** Why a static pod fix is held back under --no-restart (shown in plan.blocked). */
export const NO_RELOAD =
  "not written with --no-restart: the kubelet restarts the component as soon as its static pod manifest changes; without --no-restart it is written behind the component's health gate (restored if it does not come back)";

/** One enforcement of the node's plan. */
export interface NodeRequest {
  readonly policy: Policy;
  /** Changes with every policy change (the cause of a change made right after one is `policy`). */
  readonly policyKey: string;
  readonly node: InspectedNode;
  readonly gate: RestartGate;
  /** Restarts are not done now (--no-restart, or the daemon's rate limit): written, reported pending. */
  readonly noRestart: (plan: Plan) => boolean;
  /**
   * Nothing may restart now (--no-restart): static pod manifests are not written either, since the
   * kubelet restarts a component as soon as its manifest changes. Their rules are reported blocked.
   */
  readonly noReload?: boolean;
  /** Rules held by the caller (the flap guard backing off from another writer), with the reason. */
  readonly held?: ReadonlyMap<string, string>;
  /** Called once a restart slot that was not free has been taken (the daemon reconciles then). */
  readonly onSlotFree?: () => void;
}

/** What one enforcement did. `result` is null when nothing was written (audit mode, or nothing to do). */
export interface NodeEnforcement {
  /** The plan as enforced: held, waiting and blocked rules in `blocked`. */
  readonly plan: Plan;
  readonly result: ApplyResult | null;
  /** Why each applied change was made, by `changeKey`. */
  readonly causes: ReadonlyMap<string, ChangeCause>;
  /** A disruptive change waits for a restart slot. */
  readonly waiting: boolean;
  /** A disruptive change goes ahead under a slot just taken. */
  readonly disrupting: boolean;
  /** A disruptive change may not happen now: outside the windows, paused or blocked. */
  readonly disruptionHeld: DisruptionWaitState | null;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The one way anything is written, on the node or in the cluster. It checks the policy mode (audit:
 * no write, no restart, no pod deleted), holds changes a health gate rolled back (by change signature)
 * and the caller's held rules, takes the restart slot for disruptive activations, writes through the
 * journal, activates and health-gates, remembers rollbacks, and says why each change was made.
 * Reporting (annotations, Events) is not a write to what is hardened and happens outside.
 */
export class EnforcementSession {
  /** Rule statuses at the previous observation, and the policy they were judged under. */
  private readonly previous = new Map<string, string>();
  private previousPolicy: string | null = null;
  private readonly drifted = new Set<string>();
  private readonly policyDriven = new Set<string>();

  constructor(private readonly deps: SessionDeps) {}

  get slots(): RestartSlots {
    return this.deps.slots;
  }

  get held(): RolledBackChanges | null {
    return this.deps.held;
  }

  /** True while a held rollback or a stuck service needs a human (the node is `degraded`). */
  get degraded(): boolean {
    return (this.deps.held?.size ?? 0) > 0 || this.deps.slots.stuck !== null;
  }

  async enforceNode(request: NodeRequest): Promise<NodeEnforcement> {
    const { node, policy } = request;
    const causeOf = this.causes(request);
    const causes = new Map<string, ChangeCause>();
    const holdReloads = request.noReload ? NO_RELOAD : undefined;
    const plan = (held: ReadonlyMap<string, string>, failedRules?: ReadonlySet<string>) =>
      buildPlan(node.evaluated, node.obs, policy, {
        heldRules: held,
        ...(failedRules ? { failedRules } : {}),
        ...(holdReloads ? { holdReloads } : {}),
      });
    if (policy.mode !== 'enforce')
      return { plan: plan(request.held ?? new Map()), result: null, causes, waiting: false, disrupting: false, disruptionHeld: null };

    // The drift loop runs this on every correction: plan once unless something is actually held.
    let unheld: Plan | null = null;
    const planUnheld = () => (unheld ??= plan(new Map()));
    const held = new Map([...(request.held ?? []), ...((await this.deps.held?.holdFor(planUnheld)) ?? [])]);
    let current = held.size === 0 ? planUnheld() : plan(held);
    const noRestart = request.noRestart(current);
    const candidates = disruptive(current.activations, !noRestart);
    // When disruption may happen is asked first (re-asked at every reconcile while it waits); then a slot.
    const allowed = await this.disruptionAllowed(candidates);
    const waitReason = allowed.held ? allowed.reason : await this.deps.slots.admit(candidates);
    if (waitReason !== null) {
      const rules = candidates.flatMap((activation) => activation.rules);
      this.deps.logger.info(allowed.held ? 'disruptive changes wait: disruption not allowed now' : 'waiting for a restart slot', { rules });
      rules.forEach((rule) => held.set(rule, waitReason));
      current = plan(held);
      if (!allowed.held && request.onSlotFree) this.deps.slots.waitForSlot(request.onSlotFree);
    }
    const disrupting = waitReason === null && this.deps.slots.holdingSlot && disruptive(current.activations, !noRestart).length > 0;
    if (current.changes.length === 0) {
      await this.deps.slots.settle([]);
      return { plan: current, result: null, causes, waiting: waitReason !== null, disrupting: false, disruptionHeld: allowed.state };
    }
    const result = await executePlan(
      {
        fs: this.deps.fs,
        plugins: this.deps.plugins,
        backups: new BackupStore(this.deps.fs, () => new Date(this.deps.now())),
        services: this.deps.services,
        health: request.gate,
        logger: this.deps.logger,
      },
      {
        plan: current,
        obs: node.obs,
        replan: (failedRules) => plan(held, failedRules),
        noRestart,
        healthTimeoutMs: policy.restarts.healthTimeoutSeconds * 1000,
        retainBackups: policy.backups.retain,
      },
    );
    for (const entry of result.changes) causes.set(changeKey(entry.change), causeOf(entry.change.rules));
    if (result.ok) this.fixed(result.changes.filter((entry) => entry.result === 'applied').flatMap((entry) => entry.change.rules));
    await this.rememberRollbacks(result);
    await this.deps.slots.settle(result.unhealthy);
    return { plan: current, result, causes, waiting: waitReason !== null, disrupting, disruptionHeld: allowed.state };
  }

  /**
   * A restart that was deferred (rate limit, a busy fleet) and is due now: under a slot, health-gated.
   * Null when it ran and proved healthy; 'waiting' when no slot is free; else why it is unhealthy.
   */
  async restartDeferred(policy: Policy, service: string, gate: RestartGate, onSlotFree: () => void): Promise<string | 'waiting' | null> {
    if (policy.mode !== 'enforce') return 'waiting';
    const activation = {
      id: `restart:${service}`,
      service,
      kind: 'restart' as const,
      disruption: 'restart' as const,
      reason: 'pending',
      rules: [],
      changes: [],
    };
    if ((await this.disruptionAllowed([activation])).held) return 'waiting';
    if ((await this.deps.slots.admit([activation])) !== null) {
      this.deps.slots.waitForSlot(onSlotFree);
      return 'waiting';
    }
    const problem = await restartAndWait({ services: this.deps.services, health: gate }, service, policy.restarts.healthTimeoutSeconds * 1000);
    await this.deps.slots.settle(problem === null ? [] : [service]);
    return problem;
  }

  /**
   * A cluster-wide ConfigMap the leader hardens (kube-proxy, kubelet-config), or kubeadm-config, which
   * each kubeadm control-plane node keeps in step. Null when nothing was written: audit mode, or no
   * cluster. Conflicts (another writer) propagate: the caller re-reads and judges again.
   */
  async replaceConfigMap(policy: Policy, configMap: ConfigMapRecord): Promise<ConfigMapRecord | null> {
    if (policy.mode !== 'enforce' || !this.deps.cluster) return null;
    return this.deps.cluster.configMaps.replace(configMap);
  }

  /** Coordination annotations of a roll (part of a write the session already made). */
  async patchConfigMapAnnotations(
    policy: Policy,
    namespace: string,
    name: string,
    annotations: Readonly<Record<string, string | null>>,
  ): Promise<boolean> {
    if (policy.mode !== 'enforce' || !this.deps.cluster) return false;
    await this.deps.cluster.configMaps.patchAnnotations(namespace, name, annotations);
    return true;
  }

  /**
   * Rolls one pod (its controller recreates it) under a restart slot; `ready` then proves the new one.
   * 'audit' when the mode forbids it, 'waiting' when no slot is free, else the gate's verdict (null =
   * healthy). The slot is settled here.
   */
  async rollPod(
    policy: Policy,
    service: string,
    pod: { readonly namespace: string; readonly name: string },
    ready: (deletedAtMs: number) => Promise<string | null>,
    /** Asked again once the slot is held: the roll may have been halted while this node waited for it. */
    stillWanted: () => Promise<boolean> = async () => true,
  ): Promise<'audit' | 'waiting' | string | null> {
    if (policy.mode !== 'enforce' || !this.deps.cluster) return 'audit';
    const activation = {
      id: `pod-roll:${service}`,
      service,
      kind: 'pod-roll' as const,
      disruption: 'restart' as const,
      reason: 'roll',
      rules: [],
      changes: [],
    };
    if ((await this.disruptionAllowed([activation])).held) return 'waiting';
    if ((await this.deps.slots.admit([activation])) !== null) return 'waiting';
    if (!(await stillWanted())) {
      await this.deps.slots.settle([]);
      return 'waiting';
    }
    const deletedAt = this.deps.now();
    let problem: string | null;
    try {
      await this.deps.cluster.pods.delete(pod.namespace, pod.name);
      problem = await ready(deletedAt);
    } catch (error) {
      problem = errorText(error);
    }
    // A pod that does not come back halts the roll (the leader restores the previous configuration);
    // the node itself is fine, so the slot goes back.
    await this.deps.slots.settle([]);
    return problem;
  }

  /**
   * Follows each rule's status from observation to observation: a rule that passed and now fails has
   * drifted, and stays `drift` until it passes again (also while its fix waits for a restart slot); a
   * rule that fails right after a policy change is `policy` until it passes. Returns the cause of a
   * change of this observation's plan, by its rules.
   */
  private causes(request: NodeRequest): (rules: readonly string[]) => ChangeCause {
    const policyChanged = this.previousPolicy !== null && this.previousPolicy !== request.policyKey;
    for (const { meta, evaluation } of request.node.evaluated) {
      const status = evaluation.finding.status;
      if (status === 'pass') {
        this.drifted.delete(meta.id);
        this.policyDriven.delete(meta.id);
      } else if (this.previous.get(meta.id) === 'pass' && !policyChanged) this.drifted.add(meta.id);
      else if (policyChanged && status === 'fail') this.policyDriven.add(meta.id);
      this.previous.set(meta.id, status);
    }
    this.previousPolicy = request.policyKey;
    return (rules) =>
      rules.some((rule) => this.drifted.has(rule)) ? 'drift' : rules.some((rule) => this.policyDriven.has(rule)) ? 'policy' : 'hardening';
  }

  /**
   * Whether the disruptive activations may happen now. Non-disruptive changes never ask (and nothing
   * waiting clears the gate's metric). A disruption already under way is never stopped by this: it is
   * asked only before one starts.
   */
  private async disruptionAllowed(
    candidates: readonly Activation[],
  ): Promise<{ held: false; state: null } | { held: true; state: DisruptionWaitState; reason: string }> {
    const gate = this.deps.disruption;
    if (!gate) return { held: false, state: null };
    if (candidates.length === 0) {
      gate.clear();
      return { held: false, state: null };
    }
    const decision = await gate.check(this.deps.now());
    if (decision.allowed) return { held: false, state: null };
    return { held: true, state: decision.state, reason: `disruption not allowed now: ${decision.reason}` };
  }

  /** Rules this session just fixed pass now: a later failure of theirs is drift. */
  private fixed(rules: readonly string[]): void {
    for (const rule of rules) {
      this.previous.set(rule, 'pass');
      this.drifted.delete(rule);
      this.policyDriven.delete(rule);
    }
  }

  /** Each failed activation's rolled-back changes, held as one group until the policy or a file changes. */
  private async rememberRollbacks(result: ApplyResult): Promise<void> {
    for (const entry of result.activations.filter((candidate) => candidate.result === 'failed' || candidate.result === 'rolled-back')) {
      const changes = result.changes.filter(
        (change) => change.result === 'rolled-back' && entry.activation.changes.includes(changeKey(change.change)),
      );
      if (changes.length === 0) continue;
      const why = entry.error ?? changes.find((change) => change.error)?.error ?? 'the health gate failed';
      const details = { service: entry.activation.service, rules: entry.activation.rules };
      // The daemon holds it; a CLI apply does not (the operator reads the result and decides).
      if (!this.deps.held) {
        this.deps.logger.warn('change rolled back; apply tries it again when run again', details);
        continue;
      }
      await this.deps.held.remember(
        changes.map((change) => change.change),
        why,
        this.deps.now(),
      );
      this.deps.logger.warn('change rolled back and held until the policy or one of its files changes', details);
    }
  }
}
