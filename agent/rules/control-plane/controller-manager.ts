import { positiveIntegerValue, ruleValue } from '../../core/policy.js';
import type { Rule } from '../../core/rule.js';
import { atLeast } from '../../core/version.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView } from './components.js';
import { componentFlagRule, type FlagDesire } from './flag-rule.js';
import { componentFlagsRule } from './flags-rule.js';

const ANY = { major: 1, minor: 19 } as const;
const KCM = COMPONENTS.controllerManager;

export const controllerManagerProfiling = componentFlagRule({
  id: 'controller-manager.profiling',
  title: 'Controller manager profiling is disabled',
  cis: ['1.3.2'],
  component: KCM,
  flag: 'profiling',
  defaultValue: 'true',
  desired: { kind: 'set', value: 'false' },
  minVersion: ANY,
});

export const controllerManagerBindAddress = componentFlagRule({
  id: 'controller-manager.bind-address',
  title: 'Controller manager serves only on loopback',
  cis: ['1.3.7'],
  component: KCM,
  flag: 'bind-address',
  // The component default is every interface; kube-bench passes "unset", the effective value does not.
  defaultValue: '0.0.0.0',
  desired: { kind: 'set', value: '127.0.0.1' },
  minVersion: ANY,
});

const GC = 'controller-manager.terminated-pod-gc-threshold';

export const controllerManagerTerminatedPodGc = componentFlagRule({
  id: GC,
  title: 'Terminated pods are garbage-collected at a set threshold',
  cis: ['1.3.1'],
  component: KCM,
  flag: 'terminated-pod-gc-threshold',
  // Upstream's own default made explicit, as CIS 1.3.1 asks that it be set.
  defaultValue: null,
  value: positiveIntegerValue(12500),
  desired: (ctx) => ({ kind: 'set', value: String(ruleValue<number>(ctx.policy, GC)) }),
  minVersion: ANY,
});

/** The controller's name the version knows: canonical names came with 1.28 (old ones stay aliases). */
function tokenControllerName(ctx: NodeContext): string {
  const view = componentView(ctx.obs, KCM);
  const version = view.kind === 'static-pod' || view.kind === 'snap' ? view.version : null;
  return version && atLeast(version, 1, 28) ? 'serviceaccount-token-controller' : 'serviceaccount-token';
}

/**
 * Disables the legacy service-account-token controller as the seeds ask, keeping `*` and kubeadm's
 * bootstrapsigner and tokencleaner (join needs them). Cost: manually created
 * kubernetes.io/service-account-token Secrets stay empty (KUBERNETES-FACTS.md §8); pod tokens come from
 * the TokenRequest API and are unaffected. The policy can turn the rule off.
 */
export const controllerManagerServiceAccountTokenController = componentFlagRule({
  id: 'controller-manager.service-account-token-controller',
  title: 'The legacy service-account-token controller is disabled',
  cis: [],
  component: KCM,
  flag: 'controllers',
  defaultValue: '*',
  desired: (ctx): FlagDesire => {
    const view = componentView(ctx.obs, KCM);
    const current = view.kind === 'static-pod' || view.kind === 'snap' ? (view.flags.get('controllers') ?? '*').split(',').filter(Boolean) : ['*'];
    const name = tokenControllerName(ctx);
    const kept = current.filter((item) => !/^-?serviceaccount-token(-controller)?$/.test(item));
    return { kind: 'set', value: [...kept, `-${name}`].join(',') };
  },
  judge: (effective) => (effective ?? '').split(',').some((item) => item === '-serviceaccount-token' || item === '-serviceaccount-token-controller'),
  minVersion: { major: 1, minor: 24 },
});

const ROOT_CA = '/etc/kubernetes/pki/ca.crt';

/** CIS 1.3.3: each controller runs with its own service account (RBAC roles per controller). */
export const controllerManagerUseServiceAccountCredentials = componentFlagsRule({
  id: 'controller-manager.use-service-account-credentials',
  title: 'Controllers use individual service account credentials',
  cis: ['1.3.3'],
  component: KCM,
  flags: ['use-service-account-credentials'],
  expected: '--use-service-account-credentials=true',
  judge: (flags) =>
    (flags.get('use-service-account-credentials') ?? '').toLowerCase() === 'true'
      ? null
      : 'every controller acts with the controller manager own, broad credentials',
  fix: () => ({ set: { 'use-service-account-credentials': 'true' } }),
  minVersion: ANY,
});

/** CIS 1.3.4: the key that signs service account tokens; key material is an operator's choice. */
export const controllerManagerServiceAccountPrivateKeyFile = componentFlagsRule({
  id: 'controller-manager.service-account-private-key-file',
  title: 'Controller manager signs service account tokens with a set key',
  cis: ['1.3.4'],
  component: KCM,
  flags: ['service-account-private-key-file'],
  expected: '--service-account-private-key-file set',
  judge: (flags) => (flags.get('service-account-private-key-file') ? null : 'no service account signing key is set'),
  auditOnly:
    'the signing key must pair with the API server --service-account-key-file, or every token it signs is rejected; set it by hand (kubeadm: /etc/kubernetes/pki/sa.key)',
  minVersion: ANY,
});

/** CIS 1.3.5: pods get the CA that verifies the API server; fixed from kubeadm's cluster CA when it exists. */
export const controllerManagerRootCaFile = componentFlagsRule({
  id: 'controller-manager.root-ca-file',
  title: 'Controller manager publishes the root CA to service accounts',
  cis: ['1.3.5'],
  component: KCM,
  flags: ['root-ca-file'],
  expected: '--root-ca-file set',
  judge: (flags) => (flags.get('root-ca-file') ? null : 'pods get no CA bundle to verify the API server with'),
  fix: (_flags, ctx) =>
    componentView(ctx.obs, KCM).kind === 'static-pod'
      ? { set: { 'root-ca-file': ROOT_CA }, needs: [ROOT_CA] }
      : { held: 'only kubeadm has a known cluster CA path; set --root-ca-file by hand' },
  stats: [ROOT_CA],
  minVersion: ANY,
});

const GATE = 'RotateKubeletServerCertificate';

/** CIS 1.3.6: the gate is removed where it is turned off (its default is on); no gate is ever written. */
export const controllerManagerRotateKubeletServerCertificate = componentFlagsRule({
  id: 'controller-manager.rotate-kubelet-server-certificate',
  title: `Controller manager does not turn off the ${GATE} feature gate`,
  cis: ['1.3.6'],
  component: KCM,
  flags: ['feature-gates'],
  expected: `no ${GATE}=false in --feature-gates`,
  judge: (flags) =>
    (flags.get('feature-gates') ?? '')
      .split(',')
      .some((item) => item.split('=')[0]!.trim() === GATE && item.split('=')[1]?.trim().toLowerCase() === 'false')
      ? `${GATE}=false: kubelet serving certificates are never signed`
      : null,
  fix: (flags) => {
    const kept = (flags.get('feature-gates') ?? '').split(',').filter((item) => item.trim() !== '' && item.split('=')[0]!.trim() !== GATE);
    return kept.length === 0 ? { unset: ['feature-gates'] } : { set: { 'feature-gates': kept.join(',') } };
  },
  minVersion: ANY,
});

export const CONTROLLER_MANAGER_CIS_RULES: readonly Rule<NodeContext>[] = [
  controllerManagerUseServiceAccountCredentials,
  controllerManagerServiceAccountPrivateKeyFile,
  controllerManagerRootCaFile,
  controllerManagerRotateKubeletServerCertificate,
];

export const CONTROLLER_MANAGER_RULES: readonly Rule<NodeContext>[] = [
  controllerManagerProfiling,
  controllerManagerBindAddress,
  controllerManagerTerminatedPodGc,
  controllerManagerServiceAccountTokenController,
  ...CONTROLLER_MANAGER_CIS_RULES,
];
