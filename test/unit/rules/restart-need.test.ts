import { expect } from 'chai';
import { evaluateRules } from '../../../agent/core/evaluate.js';
import type { Observation } from '../../../agent/core/observation.js';
import { defaultPolicy } from '../../../agent/core/policy.js';
import { buildContext } from '../../../agent/rules/context.js';
import { RULE_VALUE_SPECS, RULES } from '../../../agent/rules/index.js';
import { KUBELET_KERNEL_DEFAULTS } from '../../../agent/rules/kernel/sysctl.js';
import { kubeletRestartNeeded } from '../../../agent/rules/kubelet/restart-need.js';
import { kubeadmNode } from '../../helpers/observation.js';

const HARDENED = `kind: KubeletConfiguration
address: 10.0.0.5
tlsMinVersion: VersionTLS12
tlsCipherSuites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]
podPidsLimit: 4096
protectKernelDefaults: true
streamingConnectionIdleTimeout: 5m
rotateCertificates: true
authentication:
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
`;
const SYSCTLS = Object.fromEntries(KUBELET_KERNEL_DEFAULTS);

function node(configMtime: number, started: number | null, config = HARDENED): Observation {
  const base = kubeadmNode(
    {
      '/var/lib/kubelet/config.yaml': {
        kind: 'file',
        path: '/var/lib/kubelet/config.yaml',
        content: config,
        mode: 0o600,
        uid: 0,
        gid: 0,
        mtimeMs: configMtime,
      },
    },
    { sysctls: SYSCTLS },
  );
  return { ...base, kubeletProcess: started === null ? null : { pid: 42, argv: ['/usr/bin/kubelet'], startedAtMs: started } };
}

function need(obs: Observation) {
  const ctx = buildContext(obs, defaultPolicy(RULE_VALUE_SPECS));
  return kubeletRestartNeeded(ctx, evaluateRules(RULES, ctx));
}

describe('kubelet restart need (running kubelet vs its settings files)', () => {
  it('is needed when the hardened config changed after the kubelet started', () => {
    expect(need(node(2_000, 1_000))).to.include({ service: 'kubelet' });
  });

  it('is not needed when the kubelet started after the change', () => {
    expect(need(node(1_000, 2_000))).to.equal(null);
  });

  it('is not decided without a running kubelet, or while the settings on disk still fail', () => {
    expect(need(node(2_000, null))).to.equal(null);
    expect(need(node(2_000, 1_000, HARDENED.replace('podPidsLimit: 4096', 'podPidsLimit: -1')))).to.equal(null);
  });
});
