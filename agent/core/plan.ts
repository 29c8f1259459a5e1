import type { Disruption } from './finding.js';

/** Fields every planned change carries. `stage` orders dependent changes (lower first). */
interface ChangeBase {
  readonly path: string;
  readonly rules: readonly string[];
  readonly stage: number;
}

/** Replace (or create) a file with whole new contents, atomically. */
export interface WriteChange extends ChangeBase {
  readonly action: 'write';
  readonly before: string | null;
  readonly after: string;
  /** Mode for a created file; null when the file exists and keeps its mode. */
  readonly createMode: number | null;
  /** Writing it restarts its component at once (a static pod manifest): the executor gates on health. */
  readonly restartsComponent?: boolean;
}

export interface ChmodChange extends ChangeBase {
  readonly action: 'chmod';
  readonly before: number;
  readonly after: number;
}

export interface ChownChange extends ChangeBase {
  readonly action: 'chown';
  readonly before: { readonly uid: number; readonly gid: number };
  readonly after: { readonly uid: number; readonly gid: number };
}

/** A live kernel parameter, written in place under /proc/sys (`path` is that file). */
export interface SysctlChange extends ChangeBase {
  readonly action: 'sysctl';
  readonly key: string;
  readonly before: string;
  readonly after: string;
}

/** Copy a shipped binary to the host (atomic, 0755), verified by checksum and by running it there. */
export interface InstallChange extends ChangeBase {
  readonly action: 'install';
  readonly plugin: string;
  readonly sha256: string;
  readonly beforeSha256: string | null;
}

/** Remove a file (its content is kept in the backup); runs after the writes of its stage. */
export interface RemoveChange extends ChangeBase {
  readonly action: 'remove';
  readonly before: string;
}

export type PlannedChange = WriteChange | ChmodChange | ChownChange | SysctlChange | InstallChange | RemoveChange;

/** How a component picks up changes written for it. */
export type ActivationKind = 'restart' | 'reload' | 'pod-roll';

/**
 * What restarts (a systemd service), reloads (a static pod: its manifest written) or rolls (kube-proxy
 * pods) once its changes are written, and which changes it activates. Bound once by the planner: the
 * executor, the health gate and the rollback memory all work from this binding, never re-derive it
 * from rule ids after a re-plan.
 */
export interface Activation {
  /** `<kind>:<target>`, unique in a plan; results are keyed by it. */
  readonly id: string;
  /** The service or component: `kubelet`, `snap.k8s.kubelet`, `static-pod/kube-apiserver`, `kube-proxy`. */
  readonly service: string;
  readonly kind: ActivationKind;
  readonly disruption: Disruption;
  readonly reason: string;
  readonly rules: readonly string[];
  /** `changeKey` of every change this activation loads; a failed gate rolls back exactly these. */
  readonly changes: readonly string[];
}

/** Identifies a change within a plan (a path is changed at most once per action). */
export function changeKey(change: Pick<PlannedChange, 'action' | 'path'>): string {
  return `${change.action}|${change.path}`;
}

/** A failing rule the plan does not fix, and why. */
export interface BlockedRule {
  readonly id: string;
  readonly reason: string;
}

/** The pure result of planning (DESIGN §1 "plan"). Empty when the node is compliant. */
export interface Plan {
  readonly changes: readonly PlannedChange[];
  readonly activations: readonly Activation[];
  readonly blocked: readonly BlockedRule[];
}

/** Host path of a sysctl key (`vm.overcommit_memory` → `/proc/sys/vm/overcommit_memory`). */
export function sysctlPath(key: string): string {
  return `/proc/sys/${key.replace(/\./g, '/')}`;
}
