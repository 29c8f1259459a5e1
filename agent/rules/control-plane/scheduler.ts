import type { Rule } from '../../core/rule.js';
import type { NodeContext } from '../context.js';
import { COMPONENTS } from './components.js';
import { componentFlagRule } from './flag-rule.js';

const ANY = { major: 1, minor: 19 } as const;

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

export const SCHEDULER_RULES: readonly Rule<NodeContext>[] = [schedulerProfiling, schedulerBindAddress];
