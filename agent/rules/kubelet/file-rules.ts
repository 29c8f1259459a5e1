import type { Rule, RuleMeta } from '../../core/rule.js';
import type { NodeContext } from '../context.js';
import { evaluatePermissions, ROOT, type PermissionTarget } from '../files/permissions.js';
import { kubeletUnavailable } from './setting-rule.js';
import { kubeletTargets } from './settings.js';

const CONFIG_META: RuleMeta = {
  id: 'kubelet.config-file-permissions',
  title: 'Kubelet config, flag and kubeconfig files are mode 600 or stricter, owned by root',
  cis: ['4.1.5', '4.1.6', '4.1.9', '4.1.10'],
  component: 'kubelet',
  remediable: true,
  disruption: 'none',
  versions: 'all',
};

const SERVICE_META: RuleMeta = {
  id: 'kubelet.service-file-permissions',
  title: 'Kubelet systemd unit and drop-in files are mode 600 or stricter, owned by root',
  cis: ['4.1.1', '4.1.2'],
  component: 'kubelet',
  remediable: true,
  disruption: 'none',
  versions: 'all',
};

function configFiles(ctx: Pick<NodeContext, 'kubelet'>): string[] {
  const view = ctx.kubelet;
  const candidates = [view.configPath, ...view.dropIns.map((source) => source.path), view.kubeconfigPath, ...view.flagFiles];
  return [...new Set(candidates.filter((path): path is string => !!path))];
}

/** Files whose parse failed: judged, never changed. */
function unparsableFiles(ctx: Pick<NodeContext, 'kubelet'>): Set<string> {
  return new Set(ctx.kubelet.errors.map((error) => error.path));
}

function rootOnly(paths: readonly string[]): PermissionTarget[] {
  return paths.map((path) => ({ path, kind: 'file', maxMode: 0o600, owner: ROOT }));
}

/** kubelet config.yaml, drop-ins, kubeconfig and flag files (they hold credentials paths and settings). */
export const kubeletConfigFilePermissions: Rule<NodeContext> = {
  meta: CONFIG_META,
  targets: kubeletTargets,
  evaluate(ctx) {
    const unavailable = ctx.kubelet.layout === 'unknown' ? kubeletUnavailable(ctx) : null;
    if (unavailable)
      return {
        finding: {
          id: CONFIG_META.id,
          title: CONFIG_META.title,
          cis: CONFIG_META.cis,
          expected: '600 root:root',
          status: unavailable.status,
          actual: 'unknown',
          source: null,
          remediable: false,
          message: unavailable.message,
        },
      };
    return evaluatePermissions(CONFIG_META, ctx.obs, rootOnly(configFiles(ctx)), '600 root:root', unparsableFiles(ctx));
  },
};

/** The kubelet's systemd unit and drop-ins (kubeadm). The snap's units belong to snapd and are skipped. */
export const kubeletServiceFilePermissions: Rule<NodeContext> = {
  meta: SERVICE_META,
  targets: kubeletTargets,
  evaluate(ctx) {
    const base = { id: SERVICE_META.id, title: SERVICE_META.title, cis: SERVICE_META.cis, expected: '600 root:root' };
    if (ctx.kubelet.layout === 'k8s-snap')
      return {
        finding: {
          ...base,
          status: 'skip',
          actual: 'snapd-generated units',
          source: null,
          remediable: false,
          message: 'snapd generates and owns the snap.k8s.* units; CIS snap profiles skip this check',
        },
      };
    const unavailable = kubeletUnavailable(ctx);
    if (ctx.kubelet.layout === 'unknown' && unavailable)
      return { finding: { ...base, status: unavailable.status, actual: 'unknown', source: null, remediable: false, message: unavailable.message } };
    return evaluatePermissions(SERVICE_META, ctx.obs, rootOnly(ctx.kubelet.unitFiles), '600 root:root', unparsableFiles(ctx));
  },
};
