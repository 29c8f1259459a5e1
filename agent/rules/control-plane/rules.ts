import type { Rule } from '../../core/rule.js';
import type { NodeContext } from '../context.js';
import { ADMISSION_RULES } from './admission.js';
import { apiserverAnonymousAuth } from './anonymous.js';
import { APISERVER_RULES } from './apiserver.js';
import { APISERVER_CREDENTIAL_RULES } from './apiserver-credentials.js';
import { AUDIT_RULES } from './audit.js';
import { CONTROLLER_MANAGER_RULES } from './controller-manager.js';
import { apiserverEncryptionAtRest } from './encryption.js';
import { ETCD_RULES } from './etcd.js';
import { kubeadmClusterConfiguration } from './kubeadm-cluster-configuration.js';
import { SCHEDULER_RULES } from './scheduler.js';

/** The control-plane rules built so far (the rest of DESIGN §4's are listed as planned). */
export const CONTROL_PLANE_RULES: readonly Rule<NodeContext>[] = [
  ...APISERVER_RULES,
  ...APISERVER_CREDENTIAL_RULES,
  apiserverEncryptionAtRest,
  apiserverAnonymousAuth,
  ...ADMISSION_RULES,
  ...AUDIT_RULES,
  ...CONTROLLER_MANAGER_RULES,
  ...SCHEDULER_RULES,
  // After the API server's rules: etcd.client-cert-auth requires its etcd client certificate first.
  ...ETCD_RULES,
  // Last: it mirrors what the rules above leave in the manifests (judged by the daemon, see the rule).
  kubeadmClusterConfiguration,
];
