import type { Rule } from '../../core/rule.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS } from './components.js';
import { componentFlagRule } from './flag-rule.js';

/** Every supported release accepts these flags (profiling and bind-address predate 1.19). */
const ANY = { major: 1, minor: 19 } as const;

export const apiserverProfiling = componentFlagRule({
  id: 'apiserver.profiling',
  title: 'API server profiling endpoint is disabled',
  cis: ['1.2.15'],
  component: COMPONENTS.apiserver,
  flag: 'profiling',
  defaultValue: 'true',
  desired: { kind: 'set', value: 'false' },
  minVersion: ANY,
});

export const controllerManagerProfiling = componentFlagRule({
  id: 'controller-manager.profiling',
  title: 'Controller manager profiling is disabled',
  cis: ['1.3.2'],
  component: COMPONENTS.controllerManager,
  flag: 'profiling',
  defaultValue: 'true',
  desired: { kind: 'set', value: 'false' },
  minVersion: ANY,
});

export const controllerManagerBindAddress = componentFlagRule({
  id: 'controller-manager.bind-address',
  title: 'Controller manager serves only on loopback',
  cis: ['1.3.7'],
  component: COMPONENTS.controllerManager,
  flag: 'bind-address',
  // The component default is every interface; kube-bench passes "unset", the effective value does not.
  defaultValue: '0.0.0.0',
  desired: { kind: 'set', value: '127.0.0.1' },
  minVersion: ANY,
});

export const schedulerProfiling = componentFlagRule({
  id: 'scheduler.profiling',
  title: 'Scheduler profiling is disabled',
  cis: ['1.4.1'],
  component: COMPONENTS.scheduler,
  flag: 'profiling',
  defaultValue: 'true',
  desired: { kind: 'set', value: 'false' },
  minVersion: ANY,
});

export const schedulerBindAddress = componentFlagRule({
  id: 'scheduler.bind-address',
  title: 'Scheduler serves only on loopback',
  cis: ['1.4.2'],
  component: COMPONENTS.scheduler,
  flag: 'bind-address',
  defaultValue: '0.0.0.0',
  desired: { kind: 'set', value: '127.0.0.1' },
  minVersion: ANY,
});

/** The control-plane rules built so far (the rest of DESIGN §4 control-plane rules are listed as planned). */
export const CONTROL_PLANE_RULES: readonly Rule<NodeContext>[] = [
  apiserverProfiling,
  controllerManagerProfiling,
  controllerManagerBindAddress,
  schedulerProfiling,
  schedulerBindAddress,
];
