import type { NodeApi } from './api.js';

/**
 * The node's hardening state (DESIGN §8): `compliant` every rule passes or is skipped; `drifted`
 * something fails or cannot be judged and is not being fixed; `remediating` a disruptive change is in
 * progress or waiting for a restart slot; `degraded` a change was rolled back after a failed health
 * gate and is held until the policy or the file changes; `pending-window`, `paused`, `blocked` a
 * disruptive change waits outside the maintenance windows, for the pause switch, or for a blocker
 * (a firing alert, a blocking pod, a Node condition or taint, or one that cannot be checked).
 */
export type NodeState = 'compliant' | 'drifted' | 'remediating' | 'degraded' | 'pending-window' | 'paused' | 'blocked';

export const STATE_ANNOTATION = 'kube-harden.io/state';
export const LAST_RECONCILE_ANNOTATION = 'kube-harden.io/last-reconcile';

/** What the agent last wrote (or found) on its Node. */
export interface WrittenStatus {
  readonly state: string | null;
  readonly lastReconcileMs: number | null;
}

/**
 * The annotation patch to send, or null when nothing needs writing. A state change is written at once;
 * an unchanged state only refreshes `last-reconcile` once per `heartbeatMs`: a PATCH per 10 s sysctl
 * poll on every node of a large cluster would be real load on the API server for no information. Pure.
 */
export function annotationPatch(written: WrittenStatus, state: NodeState, nowMs: number, heartbeatMs: number): Record<string, string> | null {
  const stale = written.lastReconcileMs === null || nowMs - written.lastReconcileMs >= heartbeatMs;
  if (written.state === state && !stale) return null;
  return { [STATE_ANNOTATION]: state, [LAST_RECONCILE_ANNOTATION]: new Date(nowMs).toISOString() };
}

/**
 * Writes this node's annotations; the agent on a node is their only writer. Reads the Node once to
 * learn what an earlier agent process wrote, then patches only when `annotationPatch` says so.
 */
export class NodeAnnotator {
  private written: WrittenStatus | null = null;

  constructor(
    private readonly nodes: NodeApi,
    private readonly nodeName: string,
    private readonly heartbeatMs: number,
  ) {}

  /** Reports the state; true when a PATCH was sent. */
  async report(state: NodeState, nowMs: number): Promise<boolean> {
    if (!this.written) {
      const node = await this.nodes.get(this.nodeName);
      const last = Date.parse(node.annotations[LAST_RECONCILE_ANNOTATION] ?? '');
      this.written = { state: node.annotations[STATE_ANNOTATION] ?? null, lastReconcileMs: Number.isNaN(last) ? null : last };
    }
    const patch = annotationPatch(this.written, state, nowMs, this.heartbeatMs);
    if (!patch) return false;
    await this.nodes.patchAnnotations(this.nodeName, patch);
    this.written = { state, lastReconcileMs: nowMs };
    return true;
  }
}

/** What decides the node's state at the end of a reconcile. */
export interface StateInputs {
  /** Rules still failing or unjudged after this reconcile's changes. */
  readonly remainingFindings: number;
  /** A disruptive change waits for a restart slot, or a restart is pending. */
  readonly remediating: boolean;
  /** A change is held after a rollback, or a service stayed unhealthy. */
  readonly degraded: boolean;
  /** Why a disruptive change may not happen now (windows, pause, blockers), or null. */
  readonly disruptionHeld?: 'pending-window' | 'paused' | 'blocked' | null;
}

/** The node's state from the reconcile's outcome (degraded beats a held disruption beats remediating beats drifted). Pure. */
export function nodeState(inputs: StateInputs): NodeState {
  if (inputs.degraded) return 'degraded';
  if (inputs.disruptionHeld) return inputs.disruptionHeld;
  if (inputs.remediating) return 'remediating';
  return inputs.remainingFindings > 0 ? 'drifted' : 'compliant';
}
