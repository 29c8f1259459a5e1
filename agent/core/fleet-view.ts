import type { ClusterPolicyReport } from './policy-report.js';

/**
 * The fleet as `kube-harden report` prints it, from what the agents publish: each Node's
 * `kube-harden.io/state` annotation, each node's ClusterPolicyReport and the restart slot Leases. Pure.
 */

/**
 * A node's place in the rollout. `remediating`: a disruptive change is in progress on it (it holds a
 * restart slot); `held`: it has one to make but waits for a slot (maxConcurrent is used elsewhere);
 * `unknown`: no agent reports for it (no state annotation, an unknown value, or none for `staleMs`).
 */
export type FleetState = 'compliant' | 'drifted' | 'remediating' | 'held' | 'degraded' | 'unknown';

export const FLEET_STATES: readonly FleetState[] = ['compliant', 'drifted', 'remediating', 'held', 'degraded', 'unknown'];

/** One Node as read from the API server. */
export interface FleetNodeInput {
  readonly name: string;
  /** The `kube-harden.io/state` annotation, or null. */
  readonly state: string | null;
  /** The `kube-harden.io/last-reconcile` annotation in ms, or null. */
  readonly lastReconcileMs: number | null;
}

/** A restart slot Lease (`kube-harden-restart-N`). */
export interface FleetSlotInput {
  readonly name: string;
  readonly holder: string | null;
  /** renewTime + leaseDurationSeconds; null when never renewed. */
  readonly expiresMs: number | null;
}

export interface FleetInput {
  readonly nodes: readonly FleetNodeInput[];
  /** Null when the API server has no ClusterPolicyReport CRD (the rules cannot be counted). */
  readonly reports: readonly ClusterPolicyReport[] | null;
  readonly slots: readonly FleetSlotInput[];
  readonly nowMs: number;
  /** An agent refreshes its annotation at least every 5 minutes; older than this is `unknown`. */
  readonly staleMs: number;
}

export interface FleetNode {
  readonly name: string;
  readonly state: FleetState;
  /** Why the state is `unknown`, or the slot it holds. */
  readonly detail: string | null;
  readonly slot: string | null;
  /** From its report: failing and unjudged rule counts; null without a report. */
  readonly fail: number | null;
  readonly error: number | null;
}

/** A rule failing (or not judged: `error`) on some nodes. */
export interface FailingRule {
  readonly rule: string;
  readonly cis: string | null;
  readonly severity: string;
  readonly fail: number;
  readonly error: number;
  readonly nodes: readonly string[];
}

export interface FleetView {
  readonly nodes: readonly FleetNode[];
  readonly states: Readonly<Record<FleetState, number>>;
  /** Null without the CRD. */
  readonly failingRules: readonly FailingRule[] | null;
  /** Nodes without a ClusterPolicyReport (the CRD exists): their rules are not counted. */
  readonly withoutReport: readonly string[];
  readonly rollout: {
    readonly total: number;
    readonly compliant: number;
    /** Restart slots held now (holder set, not expired) and who holds them. */
    readonly slotsHeld: readonly { readonly slot: string; readonly node: string }[];
    /** A node holding a restart slot while degraded: the rollout is stopped there. */
    readonly stuck: readonly string[];
  };
  /** True while anything fails: a node not compliant, or a failing or unjudged rule. */
  readonly failing: boolean;
}

const NODE_STATES = new Set(['compliant', 'drifted', 'remediating', 'degraded', 'pending-window', 'paused', 'blocked']);
/** A disruption the node may not make now: shown as `held`, with why. */
const DISRUPTION_HELD: Readonly<Record<string, string>> = {
  'pending-window': 'outside the maintenance windows',
  paused: 'paused (the pause switch)',
  blocked: 'a disruption blocker holds it (alert, pod, node condition or taint)',
};

function stateOf(node: FleetNodeInput, slot: string | null, input: FleetInput): { state: FleetState; detail: string | null } {
  if (node.state === null) return { state: 'unknown', detail: 'no kube-harden.io/state annotation (no agent reported)' };
  if (!NODE_STATES.has(node.state)) return { state: 'unknown', detail: `unknown state "${node.state}"` };
  if (node.lastReconcileMs === null || input.nowMs - node.lastReconcileMs > input.staleMs)
    return {
      state: 'unknown',
      detail: `last reported ${node.lastReconcileMs === null ? 'never' : new Date(node.lastReconcileMs).toISOString()} (agent silent)`,
    };
  if (node.state === 'remediating' && slot === null) return { state: 'held', detail: 'waiting for a restart slot' };
  if (DISRUPTION_HELD[node.state]) return { state: 'held', detail: DISRUPTION_HELD[node.state]! };
  return { state: node.state as FleetState, detail: slot ? `holds ${slot}` : null };
}

/** The fleet view. Pure. */
export function fleetView(input: FleetInput): FleetView {
  const slotsHeld = input.slots
    .filter((slot) => slot.holder !== null && slot.expiresMs !== null && slot.expiresMs > input.nowMs)
    .map((slot) => ({ slot: slot.name, node: slot.holder! }))
    .sort((a, b) => (a.slot < b.slot ? -1 : 1));
  const reportOf = new Map((input.reports ?? []).map((report) => [report.scope?.name ?? '', report]));
  const nodes = [...input.nodes]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((node): FleetNode => {
      const slot = slotsHeld.find((held) => held.node === node.name)?.slot ?? null;
      const report = reportOf.get(node.name);
      return {
        name: node.name,
        ...stateOf(node, slot, input),
        slot,
        fail: report ? report.summary.fail : null,
        error: report ? report.summary.error : null,
      };
    });
  const states = Object.fromEntries(FLEET_STATES.map((state) => [state, 0])) as Record<FleetState, number>;
  for (const node of nodes) states[node.state] += 1;

  let failingRules: FailingRule[] | null = null;
  if (input.reports !== null) {
    const byRule = new Map<string, { cis: string | null; severity: string; fail: number; error: number; nodes: string[] }>();
    for (const node of nodes) {
      const report = reportOf.get(node.name);
      for (const result of report?.results ?? []) {
        if (result.result !== 'fail' && result.result !== 'error') continue;
        const entry = byRule.get(result.policy) ?? { cis: result.rule ?? null, severity: result.severity, fail: 0, error: 0, nodes: [] };
        entry[result.result] += 1;
        entry.nodes.push(node.name);
        byRule.set(result.policy, entry);
      }
    }
    failingRules = [...byRule.entries()]
      .map(([rule, entry]) => ({ rule, ...entry }))
      .sort((a, b) => b.fail + b.error - (a.fail + a.error) || (a.rule < b.rule ? -1 : 1));
  }
  const known = new Set(nodes.map((node) => node.name));
  const stuck = nodes.filter((node) => node.state === 'degraded' && node.slot !== null).map((node) => node.name);
  return {
    nodes,
    states,
    failingRules,
    withoutReport: input.reports === null ? [] : nodes.filter((node) => !reportOf.has(node.name)).map((node) => node.name),
    rollout: {
      total: nodes.length,
      compliant: states.compliant,
      // A slot held by a Node that no longer exists still blocks the rollout until it expires.
      slotsHeld: slotsHeld.map((held) => (known.has(held.node) ? held : { ...held, node: `${held.node} (no such Node)` })),
      stuck,
    },
    failing: states.compliant < nodes.length || (failingRules?.length ?? 0) > 0,
  };
}
