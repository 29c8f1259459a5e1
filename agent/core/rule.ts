import type { Disruption, Finding } from './finding.js';
import type { Observation, Targets } from './observation.js';
import type { Policy } from './policy.js';

/**
 * A pure edit of one host file: given the current text (null when the file does not exist), return the
 * new text. Edits of several rules to the same file are folded in plan order, so each must keep what it
 * does not own.
 */
export interface FileEdit {
  readonly path: string;
  readonly transform: (current: string | null) => string;
  /** Mode for a file the edit creates; an existing file keeps its mode. */
  readonly createMode?: number;
  /** Writing this file restarts its component at once (a static pod manifest): it goes last in its stage. */
  readonly restartsComponent?: boolean;
}

/** Tighten a file's mode (only bits are removed) and/or set its owner. */
export interface FilePermissionFix {
  readonly path: string;
  readonly mode?: number;
  readonly owner?: { readonly uid: number; readonly gid: number };
}

/** A live kernel parameter to write in place under /proc/sys. */
export interface SysctlWrite {
  readonly key: string;
  readonly value: string;
}

/** A binary the agent ships, installed at a host path (CNI plugins). */
export interface BinaryInstall {
  readonly path: string;
  /** Name of the shipped plugin (a file in the agent's plugin dir). */
  readonly plugin: string;
  /** Checksum of the shipped bytes, verified before and after the copy. */
  readonly sha256: string;
}

/** A service the fix needs restarted, and why. */
export interface RestartNeed {
  readonly service: string;
  readonly disruption: Disruption;
  readonly reason: string;
}

/** How a failing finding is fixed. All parts are optional; together they are one rule's change. */
export interface Remedy {
  readonly edits?: readonly FileEdit[];
  readonly permissions?: readonly FilePermissionFix[];
  readonly sysctls?: readonly SysctlWrite[];
  readonly installs?: readonly BinaryInstall[];
  /** Files to remove (after the writes of the same stage; the backup keeps them for rollback). */
  readonly removals?: readonly string[];
  readonly restart?: RestartNeed;
}

/** What a rule's evaluation yields: the finding plus, when it fails and can be fixed, the remedy. */
export interface Evaluation {
  readonly finding: Finding;
  readonly remedy?: Remedy;
  /** Why a failing finding cannot be fixed here (shown in `plan.blocked`). */
  readonly blocked?: string;
}

/** Static description of a rule (the catalogue in docs/rules.md is generated from these). */
export interface RuleMeta {
  readonly id: string;
  readonly title: string;
  readonly cis: readonly string[];
  readonly component: string;
  /** Whether the rule can remediate at all (some are audit-only). */
  readonly remediable: boolean;
  readonly disruption: Disruption;
  /** Rules whose fixes must be in place before this rule's fix is written. */
  readonly requires?: readonly string[];
  /** Human-readable version range the remediation is known safe for. */
  readonly versions: string;
}

/** Everything a rule needs to judge a node. Built once per evaluation pass. */
export interface RuleContext {
  readonly obs: Observation;
  readonly policy: Policy;
}

/** A hardening rule: pure functions of the observation and the policy. */
export interface Rule<C extends RuleContext = RuleContext> {
  readonly meta: RuleMeta;
  /**
   * Files, dirs and sysctls to read, given what has been observed so far (discovery is iterative) and,
   * for the few rules that read a file the policy names (an encryption key), the policy.
   */
  targets(obs: Observation, policy?: Policy): Targets;
  evaluate(ctx: C): Evaluation;
}
