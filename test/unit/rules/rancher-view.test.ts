import { expect } from 'chai';
import { flagsNotRunning } from '../../../agent/rules/kubelet/process-args.js';
import { effectiveValue, resolveKubeletView } from '../../../agent/rules/kubelet/settings.js';
import { KUBELET_FIELDS } from '../../../agent/rules/kubelet/fields.js';
import { observation } from '../../helpers/observation.js';

const RKE2_AGENT = {
  '/etc/systemd/system/multi-user.target.wants/rke2-agent.service': '[Service]\nExecStart=/usr/local/bin/rke2 agent\n',
  '/usr/local/lib/systemd/system/rke2-agent.service': '[Service]\nExecStart=/usr/local/bin/rke2 agent\n',
  '/etc/rancher/rke2/config.yaml': 'profile: cis\nkubelet-arg:\n- max-pods=200\n- read-only-port=10255\n',
  '/etc/rancher/rke2/config.yaml.d/50-rancher.yaml': '{"kubelet-arg+": ["read-only-port=0"]}\n',
  '/var/lib/rancher/rke2/agent/etc/kubelet.conf.d/00-rke2-defaults.conf':
    'kind: KubeletConfiguration\nreadOnlyPort: 0\nstreamingConnectionIdleTimeout: 1h\n',
};

describe('k3s/RKE2 kubelet view', () => {
  const obs = observation({
    files: RKE2_AGENT,
    dirs: { '/etc/rancher/rke2/config.yaml.d': ['50-rancher.yaml'], '/var/lib/rancher/rke2/agent/etc/kubelet.conf.d': ['00-rke2-defaults.conf'] },
  });
  const view = resolveKubeletView(obs);

  it("is the rke2-agent service with kube-harden's drop-in as the write target", () => {
    expect(view).to.include({ layout: 'rke2', service: 'rke2-agent' });
    expect(view.hardeningDropIn).to.deep.equal({ path: '/var/lib/rancher/rke2/agent/etc/kubelet.conf.d/90-kube-harden.conf', json: false });
    expect(view.errors).to.deep.equal([]);
  });

  it('kubelet-arg entries are flags in file order (a later kubelet-arg+ wins), drop-ins come after flags', () => {
    expect(effectiveValue(view, KUBELET_FIELDS.readOnlyPort)).to.include({
      value: 0,
      origin: 'flag',
      path: '/etc/rancher/rke2/config.yaml.d/50-rancher.yaml',
    });
    expect(effectiveValue(view, KUBELET_FIELDS.streamingConnectionIdleTimeout)).to.include({
      origin: 'drop-in',
      path: '/var/lib/rancher/rke2/agent/etc/kubelet.conf.d/00-rke2-defaults.conf',
    });
    expect(effectiveValue(view, KUBELET_FIELDS.protectKernelDefaults)).to.include({
      value: true,
      origin: 'flag',
      path: '/etc/rancher/rke2/config.yaml',
    });
  });

  it('the health gate expects the kubelet-arg entries on the running command line, not what profile implies', () => {
    const argv = ['/var/lib/rancher/rke2/bin/kubelet', '--max-pods=200', '--read-only-port=10255', '--read-only-port=0'];
    expect(flagsNotRunning(view, argv)).to.deep.equal([]);
    expect(flagsNotRunning(view, argv.slice(0, 2))).to.deep.equal(['--read-only-port=10255', '--read-only-port=0']);
  });

  it('names the file of an unreadable config and judges nothing from it', () => {
    const broken = resolveKubeletView(observation({ files: { ...RKE2_AGENT, '/etc/rancher/rke2/config.yaml': '- not a mapping\n' }, dirs: {} }));
    expect(broken.errors.map((error) => error.path)).to.deep.equal(['/etc/rancher/rke2/config.yaml']);
  });
});
