import { parse } from 'yaml';
import type { Finding } from '../../core/finding.js';
import type { Observation, Targets } from '../../core/observation.js';
import type { Evaluation, FileEdit, Rule, RuleMeta } from '../../core/rule.js';
import { setArg } from '../../formats/args-file.js';
import { ensureHostPathMount, hasMountPath, parseStaticPod, setPodFlag, type HostPathMount } from '../../formats/static-pod.js';
import type { NodeContext } from '../context.js';
import { componentUnavailable, restartFor } from './flag-rule.js';
import { COMPONENTS, componentView, controlPlaneTargets } from './components.js';

const API = COMPONENTS.apiserver;

/** Where the agent keeps its audit policy and where the apiserver writes the log (kubeadm audit docs). */
export const AUDIT = {
  policyFile: '/etc/kubernetes/audit-policy.yaml',
  logDir: '/var/log/kubernetes/audit',
  logFile: '/var/log/kubernetes/audit/audit.log',
} as const;

/** CIS 1.2.17-19 minimums; larger values pass. */
const LOG_FLAGS: ReadonlyArray<readonly [string, number]> = [
  ['audit-log-maxage', 30],
  ['audit-log-maxbackup', 10],
  ['audit-log-maxsize', 100],
];

/**
 * The agent's audit policy: Metadata for most requests, nothing for health checks, watches and events
 * (noise), and never request or response bodies for Secrets, ConfigMaps or tokens.
 */
export const AUDIT_POLICY = `# Managed by kube-harden (apiserver.audit-policy). Edits are reverted; to use your own policy, point
# --audit-policy-file at another file and kube-harden keeps it.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
- RequestReceived
rules:
# Health checks and version probes: not logged.
- level: None
  nonResourceURLs:
  - /healthz*
  - /livez*
  - /readyz*
  - /version
  - /metrics
# Watches and events are high-volume noise.
- level: None
  verbs:
  - watch
- level: None
  resources:
  - group: ""
    resources:
    - events
  - group: events.k8s.io
    resources:
    - events
# Secrets, ConfigMaps and tokens: who and when, never the payload.
- level: Metadata
  resources:
  - group: ""
    resources:
    - secrets
    - configmaps
    - serviceaccounts/token
  - group: authentication.k8s.io
    resources:
    - tokenreviews
# Everything else: metadata.
- level: Metadata
`;

const POLICY_META: RuleMeta = {
  id: 'apiserver.audit-policy',
  title: 'An audit policy file exists for the API server',
  cis: ['3.2.1'],
  component: API.name,
  remediable: true,
  disruption: 'none',
  versions: 'all (audit.k8s.io/v1)',
};

const LOG_META: RuleMeta = {
  id: 'apiserver.audit-log',
  title: 'API server writes an audit log with retention',
  cis: ['1.2.16', '1.2.17', '1.2.18', '1.2.19'],
  component: API.name,
  remediable: true,
  disruption: 'reload',
  // The flags need the policy file in place: written first, in an earlier stage.
  requires: ['apiserver.audit-policy'],
  versions: `${API.name} >= 1.19`,
};

function auditTargets(obs: Observation): Targets {
  const view = componentView(obs, API);
  const configured = view.kind === 'static-pod' || view.kind === 'snap' ? view.flags.get('audit-policy-file') : undefined;
  return { files: [...(controlPlaneTargets().files ?? []), configured ?? AUDIT.policyFile] };
}

function isAuditPolicy(text: string): boolean {
  try {
    const doc = parse(text) as { apiVersion?: unknown; kind?: unknown; rules?: unknown };
    return doc?.kind === 'Policy' && typeof doc.apiVersion === 'string' && doc.apiVersion.startsWith('audit.k8s.io/') && Array.isArray(doc.rules);
  } catch {
    return false;
  }
}

/** The policy file the apiserver uses (an operator's own is kept), or the agent's. */
export const apiserverAuditPolicy: Rule<NodeContext> = {
  meta: POLICY_META,
  targets: auditTargets,
  evaluate(ctx): Evaluation {
    const base = { id: POLICY_META.id, title: POLICY_META.title, cis: POLICY_META.cis, expected: 'an audit.k8s.io Policy file' };
    const view = componentView(ctx.obs, API);
    if (view.kind === 'absent' || view.kind === 'error') return componentUnavailable(view, API, base, ctx.kubelet);
    const configured = view.flags.get('audit-policy-file');
    const path = configured ?? AUDIT.policyFile;
    const state = ctx.obs.files.get(path);
    if (state?.kind === 'error')
      return { finding: { ...base, status: 'unknown', actual: 'unknown', source: path, remediable: false, message: `${path}: ${state.error}` } };
    if (state?.kind === 'file' && isAuditPolicy(state.content) && (configured !== undefined || state.content === AUDIT_POLICY))
      return {
        finding: {
          ...base,
          status: 'pass',
          actual: path,
          source: path,
          remediable: false,
          message: configured ? 'the configured policy is kept' : '',
        },
      };
    if (configured !== undefined) {
      const why = state?.kind === 'file' ? 'is not an audit.k8s.io Policy' : 'does not exist';
      const finding: Finding = {
        ...base,
        status: 'fail',
        actual: path,
        source: path,
        remediable: false,
        message: `--audit-policy-file ${path} ${why}; kube-harden does not replace an operator's policy`,
      };
      return { finding, blocked: `${path} ${why}` };
    }
    const edit: FileEdit = { path: AUDIT.policyFile, transform: () => AUDIT_POLICY, createMode: 0o600 };
    return {
      finding: {
        ...base,
        status: 'fail',
        actual: state?.kind === 'file' ? `${path} (changed)` : 'absent',
        source: path,
        remediable: true,
        message: '',
      },
      remedy: { edits: [edit] },
    };
  },
};

/** True when the manifest already mounts every one of `mounts` (by mount path, as the edit checks). */
function mountsPresent(obs: Observation, path: string, mounts: readonly HostPathMount[]): boolean {
  const state = obs.files.get(path);
  if (state?.kind !== 'file') return false;
  const pod = parseStaticPod(state.content, API.name);
  return mounts.every((mount) => hasMountPath(pod, mount.mountPath));
}

/** Flags and mounts for the audit log (kubeadm's pod mounts neither the policy nor the log directory). */
export const apiserverAuditLog: Rule<NodeContext> = {
  meta: LOG_META,
  targets: auditTargets,
  evaluate(ctx): Evaluation {
    const expected = `--audit-log-path and --audit-policy-file set, ${LOG_FLAGS.map(([flag, min]) => `--${flag} >= ${min}`).join(', ')}`;
    const base = { id: LOG_META.id, title: LOG_META.title, cis: LOG_META.cis, expected };
    const view = componentView(ctx.obs, API);
    if (view.kind === 'absent' || view.kind === 'error') return componentUnavailable(view, API, base, ctx.kubelet);
    const wanted = new Map<string, string>();
    if (!view.flags.get('audit-policy-file')) wanted.set('audit-policy-file', AUDIT.policyFile);
    if (!view.flags.get('audit-log-path')) wanted.set('audit-log-path', AUDIT.logFile);
    for (const [flag, min] of LOG_FLAGS) if (!(Number(view.flags.get(flag)) >= min)) wanted.set(flag, String(min));
    const actual = ['audit-policy-file', 'audit-log-path', ...LOG_FLAGS.map(([flag]) => flag)]
      .map((flag) => `--${flag}=${view.flags.get(flag) ?? '(unset)'}`)
      .join(' ');
    const policyPath = view.flags.get('audit-policy-file') ?? AUDIT.policyFile;
    const logPath = view.flags.get('audit-log-path') ?? AUDIT.logFile;
    const mounts =
      view.kind === 'static-pod'
        ? [
            { name: 'kube-harden-audit-policy', hostPath: policyPath, type: 'File' as const, mountPath: policyPath, readOnly: true },
            ...(logPath === '-'
              ? []
              : [
                  {
                    name: 'kube-harden-audit-log',
                    hostPath: logPath.slice(0, logPath.lastIndexOf('/')),
                    type: 'DirectoryOrCreate' as const,
                    mountPath: logPath.slice(0, logPath.lastIndexOf('/')),
                    readOnly: false,
                  },
                ]),
          ]
        : [];
    const edits: FileEdit[] = [];
    if (view.kind === 'static-pod') {
      edits.push({
        path: view.path,
        restartsComponent: true,
        transform: (current) => {
          let text = current ?? '';
          for (const [flag, value] of wanted) text = setPodFlag(text, API.name, flag, value);
          for (const mount of mounts) text = ensureHostPathMount(text, API.name, mount);
          return text;
        },
      });
    } else
      edits.push({
        path: view.path,
        transform: (current) => [...wanted].reduce((text, [flag, value]) => setArg(text, flag, value), current ?? ''),
      });
    // Judged on the parsed manifest: the edit itself runs only when a plan is made.
    const mounted = view.kind !== 'static-pod' || mountsPresent(ctx.obs, view.path, mounts);
    if (wanted.size === 0 && mounted) return { finding: { ...base, status: 'pass', actual, source: view.path, remediable: false, message: '' } };
    const restart = restartFor(API, view.kind);
    const missingMounts = view.kind === 'static-pod' && wanted.size === 0 ? '; the policy or log directory is not mounted into the pod' : '';
    return {
      finding: { ...base, status: 'fail', actual, source: view.path, remediable: true, message: `audit logging incomplete${missingMounts}` },
      remedy: { edits, restart },
    };
  },
};

export const AUDIT_RULES: readonly Rule<NodeContext>[] = [apiserverAuditPolicy, apiserverAuditLog];
