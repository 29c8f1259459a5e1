import type { Exemption, Policy, RuleValueSpec } from '../../core/policy.js';
import { ruleEnabled, ruleValue } from '../../core/policy.js';
import type { ContainerLike, PodLike } from './pod-view.js';

/** One thing a pod on this node does that the seed list flags. */
export interface WorkloadViolation {
  readonly rule: string;
  readonly namespace: string;
  /** The pod; null for a namespace rule (the finding is about the Namespace itself). */
  readonly pod: string | null;
  /** The container it concerns; null for pod-level settings (host namespaces, volumes). */
  readonly container: string | null;
  readonly message: string;
}

/** A violation that an exemption covers, with the exemption's reason. */
export interface ExemptedViolation extends WorkloadViolation {
  readonly reason: string;
  readonly expires: string | null;
}

export interface WorkloadAudit {
  readonly violations: readonly WorkloadViolation[];
  readonly exempted: readonly ExemptedViolation[];
  readonly pods: number;
  /** Namespaces judged by the namespace rules (rules/workloads/namespace-rules.ts); absent when they were not listed. */
  readonly namespaces?: number;
}

interface WorkloadRule {
  readonly id: string;
  readonly title: string;
  readonly value?: RuleValueSpec['value'];
  check(pod: PodLike, policy: Policy): Omit<WorkloadViolation, 'rule' | 'namespace' | 'pod'>[];
}

/** Paths whose hostPath mount hands a pod the container runtime (a socket, or a directory holding one). */
export const RUNTIME_SOCKETS = [
  '/var/run/docker.sock',
  '/run/docker.sock',
  '/var/run/containerd/containerd.sock',
  '/run/containerd/containerd.sock',
  '/var/run/crio/crio.sock',
  '/run/crio/crio.sock',
  '/var/run/cri-dockerd.sock',
  '/run/k3s/containerd/containerd.sock',
  '/var/snap/k8s/common/run/containerd.sock',
] as const;

function containers(pod: PodLike): ContainerLike[] {
  return [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
}

function perContainer(pod: PodLike, bad: (container: ContainerLike) => string | null): { container: string; message: string }[] {
  return containers(pod).flatMap((container) => {
    const message = bad(container);
    return message === null ? [] : [{ container: container.name, message }];
  });
}

function normalizeCapability(name: string): string {
  return name.toUpperCase().replace(/^CAP_/, '');
}

function mountsSocket(hostPath: string): string | null {
  const path = hostPath.replace(/\/+$/, '') || '/';
  const hit = RUNTIME_SOCKETS.find((socket) => socket === path || socket.startsWith(path === '/' ? '/' : `${path}/`));
  return hit ?? null;
}

/** The seed list (DESIGN §4 workloads, audit only). */
export const WORKLOAD_RULES: readonly WorkloadRule[] = [
  {
    id: 'workload.privileged',
    title: 'Containers do not run privileged',
    check: (pod) => perContainer(pod, (c) => (c.securityContext?.privileged === true ? 'privileged: true' : null)),
  },
  {
    id: 'workload.host-namespaces',
    title: "Pods do not share the host's network, PID or IPC namespace",
    check: (pod) => {
      const shared = (['hostNetwork', 'hostPID', 'hostIPC'] as const).filter((field) => pod.spec[field] === true);
      return shared.length === 0 ? [] : [{ container: null, message: `${shared.join(', ')}: true` }];
    },
  },
  {
    id: 'workload.run-as-non-root',
    title: 'Containers cannot run as root',
    check: (pod) =>
      perContainer(pod, (c) => {
        const user = c.securityContext?.runAsUser ?? pod.spec.securityContext?.runAsUser;
        const nonRoot = c.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot;
        if (user === 0) return 'runAsUser: 0';
        if (user === undefined && nonRoot !== true) return 'neither runAsNonRoot: true nor a non-zero runAsUser (the image may run as root)';
        return null;
      }),
  },
  {
    id: 'workload.capabilities',
    title: 'Containers add no capabilities beyond the allowed set',
    value: {
      default: ['NET_BIND_SERVICE'],
      describe: 'a list of Linux capability names that pods may add',
      validate: (value) =>
        Array.isArray(value) && value.every((entry) => typeof entry === 'string' && /^(CAP_)?[A-Za-z_]+$/.test(entry))
          ? null
          : 'must be a list of capability names',
    },
    check: (pod, policy) => {
      const allowed = new Set(ruleValue<string[]>(policy, 'workload.capabilities').map(normalizeCapability));
      return perContainer(pod, (c) => {
        const extra = (c.securityContext?.capabilities?.add ?? []).map(normalizeCapability).filter((cap) => !allowed.has(cap));
        return extra.length === 0 ? null : `adds ${extra.join(', ')}`;
      });
    },
  },
  {
    id: 'workload.resource-limits',
    title: 'Containers set CPU and memory limits',
    check: (pod) =>
      perContainer(pod, (c) => {
        const missing = ['cpu', 'memory'].filter((resource) => c.resources?.limits?.[resource] === undefined);
        return missing.length === 0 ? null : `no ${missing.join(' or ')} limit`;
      }),
  },
  {
    id: 'workload.docker-socket',
    title: 'Pods do not mount the container runtime socket',
    check: (pod) =>
      (pod.spec.volumes ?? []).flatMap((volume) => {
        const socket = volume.hostPath ? mountsSocket(volume.hostPath.path) : null;
        if (!socket) return [];
        const via = volume.hostPath!.path === socket ? '' : ` (through ${volume.hostPath!.path})`;
        return [{ container: null, message: `volume ${volume.name} mounts ${socket}${via}` }];
      }),
  },
  {
    id: 'workload.read-only-root-filesystem',
    title: 'Containers have a read-only root filesystem',
    check: (pod) => perContainer(pod, (c) => (c.securityContext?.readOnlyRootFilesystem === true ? null : 'readOnlyRootFilesystem is not true')),
  },
  {
    id: 'workload.allow-privilege-escalation',
    title: 'Containers set allowPrivilegeEscalation: false',
    check: (pod) =>
      perContainer(pod, (c) => (c.securityContext?.allowPrivilegeEscalation === false ? null : 'allowPrivilegeEscalation is not false')),
  },
];

/** Policy value specs of the workload rules (so the policy can turn them off, set values, exempt). */
export const WORKLOAD_VALUE_SPECS: readonly RuleValueSpec[] = WORKLOAD_RULES.map((rule) => ({
  id: rule.id,
  ...(rule.value ? { value: rule.value } : {}),
}));

/** Who the agent itself is: its own pod is exempt by design (it must be privileged to do its job). */
export interface SelfPod {
  readonly namespace: string;
  readonly name: string;
}

/** An exemption applies before the start of its `expires` day (UTC). */
export function exemptionActive(exemption: Exemption, nowMs: number): boolean {
  return exemption.expires === null || nowMs < Date.parse(`${exemption.expires}T00:00:00Z`);
}

/**
 * The policy's exemption for `rule` on an object in `namespace` with `labels` (a pod's, or for a namespace
 * rule the Namespace's own): the first that names the rule, matches namespace and labels and has not
 * expired; null when none applies.
 */
export function activeExemption(
  policy: Policy,
  rule: string,
  namespace: string,
  labels: Readonly<Record<string, string>>,
  nowMs: number,
): Exemption | null {
  return (
    policy.exemptions.find(
      (exemption) =>
        exemption.rule === rule &&
        (exemption.namespaces.length === 0 || exemption.namespaces.includes(namespace)) &&
        Object.entries(exemption.labels).every(([key, value]) => labels[key] === value) &&
        exemptionActive(exemption, nowMs),
    ) ?? null
  );
}

/**
 * Audits the pods running on this node against the enabled workload rules. Exemptions that apply (rule,
 * namespace, labels, not expired) move a violation to `exempted`; the agent's own pod is skipped. Pure.
 */
export function auditWorkloads(pods: readonly PodLike[], policy: Policy, self: SelfPod | null, nowMs: number): WorkloadAudit {
  const violations: WorkloadViolation[] = [];
  const exempted: ExemptedViolation[] = [];
  const audited = pods.filter(
    (pod) =>
      !(self && pod.metadata.namespace === self.namespace && pod.metadata.name === self.name) &&
      pod.status?.phase !== 'Succeeded' &&
      pod.status?.phase !== 'Failed',
  );
  for (const pod of audited)
    for (const rule of WORKLOAD_RULES) {
      if (!ruleEnabled(policy, rule.id)) continue;
      for (const found of rule.check(pod, policy)) {
        const violation = { rule: rule.id, namespace: pod.metadata.namespace, pod: pod.metadata.name, ...found };
        const exemption = activeExemption(policy, rule.id, pod.metadata.namespace, pod.metadata.labels ?? {}, nowMs);
        if (exemption) exempted.push({ ...violation, reason: exemption.reason, expires: exemption.expires });
        else violations.push(violation);
      }
    }
  return { violations, exempted, pods: audited.length };
}
