import { expect } from 'chai';
import { policyFrom } from '../../helpers/policy.js';
import { evaluateRules } from '../../../agent/core/evaluate.js';
import type { Observation } from '../../../agent/core/observation.js';
import { buildPlan } from '../../../agent/core/planner.js';
import { defaultPolicy, type Policy } from '../../../agent/core/policy.js';
import { buildContext } from '../../../agent/rules/context.js';
import { RULE_VALUE_SPECS, RULES } from '../../../agent/rules/index.js';
import { kubeadmNode, observation } from '../../helpers/observation.js';

const POLICY = defaultPolicy(RULE_VALUE_SPECS);

function judge(obs: Observation, policy: Policy = POLICY) {
  const evaluated = evaluateRules(RULES, buildContext(obs, policy));
  const find = (id: string) => evaluated.find((rule) => rule.meta.id === id)!.evaluation;
  return { evaluated, find, plan: buildPlan(evaluated, obs, policy) };
}

function after(plan: ReturnType<typeof buildPlan>, path: string): string {
  const change = plan.changes.find((candidate) => candidate.path === path && candidate.action === 'write');
  if (!change || change.action !== 'write') throw new Error(`no write of ${path}`);
  return change.after;
}

describe('kubelet settings: effective value', () => {
  it('a flag in KUBELET_EXTRA_ARGS beats config.yaml, and the finding names the flag file', () => {
    const { find } = judge(
      kubeadmNode({
        '/var/lib/kubelet/config.yaml': 'kind: KubeletConfiguration\ntlsMinVersion: VersionTLS13\n',
        '/etc/default/kubelet': 'KUBELET_EXTRA_ARGS="--tls-min-version=VersionTLS10"\n',
      }),
    );
    expect(find('kubelet.tls-min-version').finding).to.include({ status: 'fail', actual: 'VersionTLS10', source: '/etc/default/kubelet' });
    expect(find('kubelet.tls-min-version').finding.message).to.contain('KUBELET_EXTRA_ARGS').and.contain('overrides /var/lib/kubelet/config.yaml');
  });

  it('KUBELET_EXTRA_ARGS beats KUBELET_KUBEADM_ARGS (later on the command line)', () => {
    const { find } = judge(
      kubeadmNode({
        '/var/lib/kubelet/kubeadm-flags.env': 'KUBELET_KUBEADM_ARGS="--read-only-port=0"\n',
        '/etc/default/kubelet': 'KUBELET_EXTRA_ARGS="--read-only-port=10255"\n',
      }),
    );
    expect(find('kubelet.read-only-port').finding).to.include({ status: 'fail', actual: '10255', source: '/etc/default/kubelet' });
  });

  it('a --config-dir drop-in beats config.yaml but loses to flags', () => {
    const obs = kubeadmNode(
      {
        '/var/lib/kubelet/kubeadm-flags.env': 'KUBELET_KUBEADM_ARGS="--config-dir=/etc/kubernetes/kubelet.conf.d"\n',
        '/var/lib/kubelet/config.yaml': 'kind: KubeletConfiguration\npodPidsLimit: 1024\nreadOnlyPort: 0\n',
        '/etc/kubernetes/kubelet.conf.d/50-local.conf': 'kind: KubeletConfiguration\npodPidsLimit: -1\n',
      },
      { dirs: { '/etc/kubernetes/kubelet.conf.d': ['50-local.conf'] } },
    );
    const { find, plan } = judge(obs);
    expect(find('kubelet.pod-pids-limit').finding).to.include({
      status: 'fail',
      actual: '-1',
      source: '/etc/kubernetes/kubelet.conf.d/50-local.conf',
    });
    expect(after(plan, '/etc/kubernetes/kubelet.conf.d/50-local.conf')).to.not.contain('podPidsLimit');
    // config.yaml's own 1024 is stricter than the policy's 4096: only the override goes.
    expect(after(plan, '/var/lib/kubelet/config.yaml')).to.contain('podPidsLimit: 1024');
    expect(after(plan, '/var/lib/kubelet/config.yaml')).to.not.contain('podPidsLimit: 4096');
  });

  it('repeated list flags append (pflag string slices), so an insecure suite in a second flag fails', () => {
    const { find } = judge(
      kubeadmNode({
        '/var/lib/kubelet/kubeadm-flags.env': 'KUBELET_KUBEADM_ARGS="--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"\n',
        '/etc/default/kubelet': 'KUBELET_EXTRA_ARGS="--tls-cipher-suites=TLS_RSA_WITH_AES_128_CBC_SHA"\n',
      }),
    );
    expect(find('kubelet.tls-cipher-suites').finding.actual).to.equal('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_RSA_WITH_AES_128_CBC_SHA');
  });

  it('a kubelet without a config file is judged against the legacy flag defaults', () => {
    const obs = observation({ files: { '/var/snap/k8s/common/args/kubelet': '--node-ip=10.1.1.1\n' } });
    const { find } = judge(obs);
    expect(find('kubelet.anonymous-auth').finding).to.include({ status: 'fail', actual: 'true (default)' });
    expect(find('kubelet.authorization-mode').finding).to.include({ status: 'fail', actual: 'AlwaysAllow (default)' });
    expect(find('kubelet.read-only-port').finding).to.include({ status: 'fail', actual: '10255 (default)' });
  });

  it('with a config file, unset fields take the safe v1beta1 defaults', () => {
    const { find } = judge(kubeadmNode());
    expect(find('kubelet.anonymous-auth').finding.status).to.equal('pass');
    expect(find('kubelet.authorization-mode').finding.status).to.equal('pass');
    expect(find('kubelet.read-only-port').finding.status).to.equal('pass');
  });
});

describe('kubelet settings: KUBERNETES-FACTS cases', () => {
  it('streamingConnectionIdleTimeout 0s in config.yaml means the 4h default, not disabled', () => {
    const { find } = judge(kubeadmNode({ '/var/lib/kubelet/config.yaml': 'kind: KubeletConfiguration\nstreamingConnectionIdleTimeout: 0s\n' }));
    expect(find('kubelet.streaming-connection-idle-timeout').finding).to.include({ status: 'fail', actual: '4h' });
  });

  it('the flag set to 0 disables the timeout and fails; a shorter timeout than the policy passes', () => {
    expect(
      judge(kubeadmNode({ '/etc/default/kubelet': 'KUBELET_EXTRA_ARGS="--streaming-connection-idle-timeout=0"\n' })).find(
        'kubelet.streaming-connection-idle-timeout',
      ).finding,
    ).to.include({ status: 'fail', actual: '0s' });
    expect(
      judge(kubeadmNode({ '/var/lib/kubelet/config.yaml': 'kind: KubeletConfiguration\nstreamingConnectionIdleTimeout: 2m0s\n' })).find(
        'kubelet.streaming-connection-idle-timeout',
      ).finding.status,
    ).to.equal('pass');
  });

  it('with a TLS 1.3 minimum the cipher list is removed everywhere, not rewritten', () => {
    const obs = kubeadmNode({
      '/var/lib/kubelet/config.yaml': 'kind: KubeletConfiguration\ntlsCipherSuites:\n- TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n',
      '/etc/default/kubelet': 'KUBELET_EXTRA_ARGS="--tls-cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 --v=2"\n',
    });
    const { find, plan } = judge(obs, policyFrom('rules:\n  kubelet.tls-min-version: { value: VersionTLS13 }\n'));
    expect(find('kubelet.tls-cipher-suites').finding.status).to.equal('fail');
    expect(after(plan, '/var/lib/kubelet/config.yaml')).to.not.contain('tlsCipherSuites');
    expect(after(plan, '/var/lib/kubelet/config.yaml')).to.contain('tlsMinVersion: VersionTLS13');
    expect(after(plan, '/etc/default/kubelet')).to.equal('KUBELET_EXTRA_ARGS="--v=2"\n');
  });

  it('SupportPodPidsLimit is removed (fatal since 1.23) and never written', () => {
    const obs = kubeadmNode({
      '/var/lib/kubelet/config.yaml': 'kind: KubeletConfiguration\nfeatureGates:\n  SupportPodPidsLimit: true\npodPidsLimit: 4096\n',
      '/etc/default/kubelet': 'KUBELET_EXTRA_ARGS="--feature-gates=SupportPodPidsLimit=true,GracefulNodeShutdown=true"\n',
    });
    const { find, plan } = judge(obs);
    expect(find('kubelet.pod-pids-limit').finding.status).to.equal('fail');
    expect(find('kubelet.pod-pids-limit').finding.message).to.contain('SupportPodPidsLimit');
    expect(after(plan, '/var/lib/kubelet/config.yaml')).to.not.contain('SupportPodPidsLimit');
    expect(after(plan, '/var/lib/kubelet/config.yaml')).to.not.contain('featureGates');
    expect(after(plan, '/etc/default/kubelet')).to.equal('KUBELET_EXTRA_ARGS="--feature-gates=GracefulNodeShutdown=true"\n');
    const fresh = judge(kubeadmNode());
    for (const change of fresh.plan.changes) if (change.action === 'write') expect(change.after).to.not.contain('SupportPodPidsLimit');
  });

  it('protectKernelDefaults is not planned while a sysctl cannot be judged', () => {
    const { plan } = judge(kubeadmNode());
    expect(plan.blocked.find((blocked) => blocked.id === 'kubelet.protect-kernel-defaults')?.reason).to.contain(
      'requires sysctl.kubelet-kernel-defaults',
    );
    expect(after(plan, '/var/lib/kubelet/config.yaml')).to.not.contain('protectKernelDefaults');
  });

  it('protectKernelDefaults is planned after the sysctls when they can be fixed', () => {
    const sysctls = {
      'vm.overcommit_memory': '0',
      'vm.panic_on_oom': '0',
      'kernel.panic': '0',
      'kernel.panic_on_oops': '1',
      'kernel.keys.root_maxkeys': '1000000',
      'kernel.keys.root_maxbytes': '25000000',
    };
    const obs = kubeadmNode({}, { sysctls });
    const { plan } = judge(obs);
    const config = plan.changes.find((change) => change.path === '/var/lib/kubelet/config.yaml')!;
    const sysctl = plan.changes.find((change) => change.action === 'sysctl')!;
    expect(config.rules).to.include('kubelet.protect-kernel-defaults');
    expect(sysctl.stage).to.be.lessThan(config.stage);
  });
});

describe('kubelet settings: safety', () => {
  it('changes nothing when the kubelet version is unknown, and says so', () => {
    const { find, plan } = judge(kubeadmNode({}, { kubeletVersion: null }));
    expect(plan.changes.filter((change) => change.action === 'write' && change.path === '/var/lib/kubelet/config.yaml')).to.have.length(0);
    expect(find('kubelet.pod-pids-limit').finding).to.include({ status: 'fail', remediable: false });
    expect(plan.blocked.find((blocked) => blocked.id === 'kubelet.pod-pids-limit')?.reason).to.contain('version unknown');
  });

  it('changes nothing on kubelets older than 1.23', () => {
    const { plan } = judge(kubeadmNode({}, { kubeletVersion: 'v1.22.9' }));
    expect(plan.blocked.find((blocked) => blocked.id === 'kubelet.pod-pids-limit')?.reason).to.contain('older than 1.23');
  });

  it('kubelet.address is unknown without a node IP, for a dual-stack or loopback IP', () => {
    const noIp = kubeadmNode({ '/var/lib/kubelet/kubeadm-flags.env': 'KUBELET_KUBEADM_ARGS=""\n' });
    expect(judge(noIp).find('kubelet.address').finding).to.include({ status: 'unknown' });
    expect(judge(kubeadmNode({}, { nodeIp: '10.0.0.5,fd00::5' })).find('kubelet.address').finding.status).to.equal('unknown');
    expect(judge(kubeadmNode({}, { nodeIp: '127.0.0.1' })).find('kubelet.address').finding.status).to.equal('unknown');
  });

  it('kubelet.address is unknown, not pass, when the node IP given is the unspecified address (a broken NODE_IP)', () => {
    for (const nodeIp of ['0.0.0.0', '::', '0:0:0:0:0:0:0:0']) {
      const finding = judge(kubeadmNode({}, { nodeIp })).find('kubelet.address').finding;
      expect(finding.status, nodeIp).to.equal('unknown');
      expect(finding.message).to.contain('unspecified address');
    }
  });

  it('--node-ip given to the agent wins over the kubelet flag', () => {
    const { find } = judge(kubeadmNode({}, { nodeIp: '10.9.9.9' }));
    expect(find('kubelet.address').finding.expected).to.equal('10.9.9.9');
  });

  it('a flag set in a systemd unit is reported, not edited', () => {
    const dropIn = `[Service]\nEnvironment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml --read-only-port=10255"\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_CONFIG_ARGS\n`;
    const { find, plan } = judge(kubeadmNode({ '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf': dropIn }));
    expect(find('kubelet.read-only-port').finding).to.include({ status: 'fail', remediable: false });
    expect(plan.blocked.find((blocked) => blocked.id === 'kubelet.read-only-port')?.reason).to.contain('does not edit unit files');
    expect(plan.changes.some((change) => change.path.includes('systemd'))).to.equal(
      plan.changes.some((change) => change.action === 'chmod' && change.path.includes('systemd')),
    );
  });

  it('an unparsable config.yaml makes the kubelet rules unknown, names file and line, and plans no write to it', () => {
    const { find, plan } = judge(kubeadmNode({ '/var/lib/kubelet/config.yaml': 'kind: KubeletConfiguration\naddress: 1\naddress: 2\n' }));
    const finding = find('kubelet.read-only-port').finding;
    expect(finding.status).to.equal('unknown');
    expect(finding.message).to.contain('/var/lib/kubelet/config.yaml:3');
    expect(plan.changes.some((change) => change.action === 'write' && change.path === '/var/lib/kubelet/config.yaml')).to.equal(false);
  });

  it('an unreadable flag file makes the kubelet rules unknown', () => {
    const { find } = judge(kubeadmNode({ '/etc/default/kubelet': { kind: 'error', path: '/etc/default/kubelet', error: 'permission denied' } }));
    expect(find('kubelet.tls-min-version').finding.status).to.equal('unknown');
    expect(find('kubelet.tls-min-version').finding.message).to.contain('/etc/default/kubelet: permission denied');
  });

  it('a node with no known kubelet layout reports unknown, never pass', () => {
    const { evaluated } = judge(observation({}));
    for (const rule of evaluated.filter(
      (candidate) => candidate.meta.component === 'kubelet' && candidate.meta.id !== 'kubelet.service-file-permissions',
    ))
      expect(rule.evaluation.finding.status, rule.meta.id).to.equal('unknown');
  });

  it('rotate-certificates is not applicable on the k8s snap', () => {
    const { find } = judge(observation({ files: { '/var/snap/k8s/common/args/kubelet': '--node-ip=10.1.1.1\n' } }));
    expect(find('kubelet.rotate-certificates').finding.status).to.equal('skip');
  });
});
