import { positiveIntegerValue, ruleValue } from '../../core/policy.js';
import type { Rule } from '../../core/rule.js';
import { atLeast } from '../../core/version.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS, componentView } from './components.js';
import { componentFlagRule, type FlagDesire } from './flag-rule.js';

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

export const CONTROLLER_MANAGER_RULES: readonly Rule<NodeContext>[] = [
  controllerManagerProfiling,
  controllerManagerBindAddress,
  controllerManagerTerminatedPodGc,
  controllerManagerServiceAccountTokenController,
];
