import type { ApplyResult } from '../node/executor.js';
import { changeKey } from '../core/plan.js';
import type { ChangeCause } from '../session/session.js';
import type { DisruptionDecision } from '../cluster/disruption-gate.js';
import type { EventRecorder, NodeEvent } from '../cluster/events.js';
import type { NodeAnnotator, NodeState } from '../cluster/node-status.js';
import type { PolicyReportWriter } from '../cluster/policy-reports.js';
import type { Finding } from '../core/finding.js';
import type { BlockedRule } from '../core/plan.js';
import type { Logger } from '../telemetry/logger.js';

/** The cluster half of reporting: Events on the Node and its annotations. */
export interface ClusterReporting {
  readonly annotator: NodeAnnotator;
  readonly events: EventRecorder;
  /** issue 19: the node's wgpolicyk8s.io ClusterPolicyReport (absent in hand-built test wiring). */
  readonly policyReport?: PolicyReportWriter;
}

function list(rules: Iterable<string>): string {
  return [...new Set(rules)].sort().join(', ');
}

/**
 * The Events an apply deserves (pure): one for what was fixed by cause (a first hardening or a policy
 * change is `Remediated`, a rule that passed before and was changed back is `DriftCorrected`), one per
 * rolled-back activation with the health gate's reason. Messages carry rule IDs and paths, never file
 * contents, and no counts or times, so repeats aggregate.
 */
export function applyEvents(result: ApplyResult, causes: ReadonlyMap<string, ChangeCause>): NodeEvent[] {
  const events: NodeEvent[] = [];
  const applied = result.changes.filter((entry) => entry.result === 'applied');
  const drift = applied.filter((entry) => causes.get(changeKey(entry.change)) === 'drift');
  const remediated = applied.filter((entry) => causes.get(changeKey(entry.change)) !== 'drift');
  const rulesOf = (entries: typeof applied) => list(entries.flatMap((entry) => entry.change.rules));
  const pathsOf = (entries: typeof applied) => list(entries.map((entry) => entry.change.path));
  if (remediated.length > 0)
    events.push({ type: 'Normal', reason: 'Remediated', message: `Applied ${rulesOf(remediated)} to ${pathsOf(remediated)}` });
  if (drift.length > 0)
    events.push({ type: 'Normal', reason: 'DriftCorrected', message: `Corrected drift of ${rulesOf(drift)} in ${pathsOf(drift)}` });
  for (const entry of result.activations.filter((candidate) => candidate.result === 'failed' || candidate.result === 'rolled-back')) {
    const failedChange = result.changes.find((change) => change.result === 'rolled-back' && change.error);
    const why = entry.error ?? failedChange?.error ?? 'the health gate failed';
    events.push({ type: 'Warning', reason: 'RolledBack', message: `Rolled back ${list(entry.activation.rules)}: ${why}` });
  }
  for (const entry of result.changes.filter((change) => change.result === 'failed'))
    events.push({
      type: 'Warning',
      reason: 'ChangeFailed',
      message: `Could not change ${entry.change.path} for ${list(entry.change.rules)}: ${entry.error ?? ''}`,
    });
  return events;
}

/** The Event for a change of the disruption gate's answer (once per change, not per check). Pure. */
export function disruptionEvent(decision: DisruptionDecision): NodeEvent {
  return decision.allowed
    ? { type: 'Normal', reason: 'DisruptionAllowed', message: 'Disruptive changes may go ahead again' }
    : { type: 'Normal', reason: 'DisruptionHeld', message: `Disruptive changes wait (${decision.state}): ${decision.reason}` };
}

/**
 * Reports to the cluster when the daemon has credentials, and does nothing otherwise. Blocked changes
 * are reported when the set of (rule, reason) pairs changes, not on every reconcile. API errors are
 * logged, never thrown: reporting must not stop the node's own reconcile.
 */
export class NodeReporter {
  private lastBlocked = '';

  constructor(
    private readonly cluster: ClusterReporting | null,
    private readonly logger: Logger,
  ) {}

  applied(result: ApplyResult, causes: ReadonlyMap<string, ChangeCause>): void {
    for (const event of applyEvents(result, causes)) this.cluster?.events.record(event);
  }

  /** A deferred restart that did not come back healthy. */
  restartFailed(service: string, why: string): void {
    this.cluster?.events.record({ type: 'Warning', reason: 'RestartFailed', message: `${service} not healthy after its deferred restart: ${why}` });
  }

  /** Rules held for reasons other than waiting for a slot: each new (rule, reason) set is an Event. */
  blocked(blocked: readonly BlockedRule[], ignore: (reason: string) => boolean): void {
    const shown = blocked.filter((entry) => !ignore(entry.reason));
    const key = shown.map((entry) => `${entry.id}=${entry.reason}`).join('\n');
    if (key === this.lastBlocked) return;
    this.lastBlocked = key;
    for (const entry of shown)
      this.cluster?.events.record({ type: 'Warning', reason: 'ChangeBlocked', message: `${entry.id} not remediated: ${entry.reason}` });
  }

  async state(state: NodeState, nowMs: number): Promise<void> {
    if (!this.cluster) return;
    try {
      if (await this.cluster.annotator.report(state, nowMs)) this.logger.info('node state annotated', { state });
    } catch (error) {
      this.logger.warn('node annotation failed', { state, error: error instanceof Error ? error.message : String(error) });
    }
  }

  /** issue 19: the node's ClusterPolicyReport from this reconcile's findings (written only on change; never throws). */
  async policyReport(findings: readonly Finding[], policyHash: string, nowMs: number): Promise<void> {
    await this.cluster?.policyReport?.write(findings, policyHash, nowMs);
  }

  async stop(): Promise<void> {
    await this.cluster?.events.flush();
  }
}
