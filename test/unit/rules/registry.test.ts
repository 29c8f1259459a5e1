import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RULES } from '../../../agent/rules/index.js';
import { NAMESPACE_RULES } from '../../../agent/rules/workloads/namespace-rules.js';
import { WORKLOAD_RULES } from '../../../agent/rules/workloads/pod-rules.js';
import { REPO } from '../../helpers/host.js';

/**
 * The rule IDs DESIGN §4 (the project's contract) promises and asks to keep stable, listed here so the
 * test runs from a fresh clone; a promised rule can never disappear silently.
 */
const DESIGN_RULE_IDS: readonly string[] = [
  'kubelet.address',
  'kubelet.tls-min-version',
  'kubelet.tls-cipher-suites',
  'kubelet.pod-pids-limit',
  'kubelet.protect-kernel-defaults',
  'kubelet.streaming-connection-idle-timeout',
  'kubelet.read-only-port',
  'kubelet.anonymous-auth',
  'kubelet.authorization-mode',
  'kubelet.rotate-certificates',
  'kubelet.config-file-permissions',
  'kubelet.service-file-permissions',
  'cni.bandwidth-plugin',
  'cni.bandwidth-chain',
  'kernel.version',
  'kernel.lsm',
  'sysctl.kubelet-kernel-defaults',
  'apiserver.profiling',
  'apiserver.tls-min-version',
  'apiserver.tls-cipher-suites',
  'apiserver.kubelet-certificate-authority',
  'apiserver.audit-policy',
  'apiserver.audit-log',
  'apiserver.anonymous-auth',
  'apiserver.authorization-mode',
  'apiserver.admission-plugins',
  'apiserver.event-rate-limit',
  'controller-manager.service-account-token-controller',
  'controller-manager.bind-address',
  'controller-manager.profiling',
  'scheduler.bind-address',
  'scheduler.profiling',
  'files.control-plane-permissions',
  'kube-proxy.nodeport-addresses',
  'kube-proxy.healthz-bind-address',
  'workload.privileged',
  'workload.host-namespaces',
  'workload.run-as-non-root',
  'workload.capabilities',
  'workload.resource-limits',
  'workload.docker-socket',
  'workload.read-only-root-filesystem',
  'workload.allow-privilege-escalation',
];

describe('rule registry', () => {
  it('has unique IDs with complete metadata', () => {
    const ids = RULES.map((rule) => rule.meta.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const rule of RULES) {
      expect(rule.meta.title, rule.meta.id).to.not.equal('');
      expect(rule.meta.versions, rule.meta.id).to.not.equal('');
      expect(['none', 'reload', 'restart']).to.include(rule.meta.disruption);
    }
  });

  it('covers every DESIGN §4 rule (never silently missing)', () => {
    const promised = DESIGN_RULE_IDS;
    const known = new Set([...RULES.map((rule) => rule.meta.id), ...WORKLOAD_RULES.map((rule) => rule.id)]);
    expect(promised.filter((id) => !known.has(id))).to.deep.equal([]);
  });

  it('is documented: docs/rules.md names every built rule', () => {
    const docs = readFileSync(path.join(REPO, 'docs/rules.md'), 'utf8');
    for (const rule of RULES) expect(docs, rule.meta.id).to.contain(`\`${rule.meta.id}\``);
    for (const rule of [...WORKLOAD_RULES, ...NAMESPACE_RULES]) expect(docs, rule.id).to.contain(`\`${rule.id}\``);
  });
});
