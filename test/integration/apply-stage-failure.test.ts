import { expect } from 'chai';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { executePlan } from '../../agent/node/executor.js';
import { inspectNode } from '../../agent/node/inspect.js';
import { buildPlan } from '../../agent/core/planner.js';
import { defaultPolicy } from '../../agent/core/policy.js';
import { BackupStore } from '../../agent/host/backups.js';
import { ExecPluginProber } from '../../agent/host/cni-plugin.js';
import { ProcessCommandRunner } from '../../agent/host/commands.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import { RULE_VALUE_SPECS } from '../../agent/rules/index.js';
import { silentLogger } from '../../agent/telemetry/logger.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { FakeServiceManager } from '../fakes/fake-service-manager.js';
import { cleanupTempDirs, copyFixture, read } from '../helpers/host.js';

/** Plans a kubeadm worker, then lets the test change the host before the plan is executed. */
async function planThenExecute(root: string, between: () => void) {
  const fs = new HostFs(await HostRoot.open(root));
  const runner = new ProcessCommandRunner();
  const plugins = new ExecPluginProber(fs, runner, '/nonexistent');
  const policy = defaultPolicy(RULE_VALUE_SPECS);
  const input = { nodeName: 'n', nodeIp: null, nodeIpSource: null, kubeletVersion: null, pluginDir: '/nonexistent' };
  const { obs, evaluated } = await inspectNode(fs, runner, plugins, input, policy);
  const plan = buildPlan(evaluated, obs, policy);
  between();
  const result = await executePlan(
    {
      fs,
      plugins,
      backups: new BackupStore(fs),
      services: new FakeServiceManager(),
      health: () => new FakeHealthProbe([true]),
      logger: silentLogger(),
    },
    {
      plan,
      obs,
      replan: (failedRules) => buildPlan(evaluated, obs, policy, { failedRules }),
      noRestart: true,
      healthTimeoutMs: 1000,
      retainBackups: 5,
    },
  );
  return { plan, result };
}

describe('apply: the host changes between plan and write', () => {
  after(cleanupTempDirs);

  it('a sysctl that fails at write time blocks protectKernelDefaults in the re-plan while the other kubelet fixes land', async () => {
    const root = copyFixture('kubeadm-worker');
    const { plan, result } = await planThenExecute(root, () => {
      // Observed fine, but the kernel refuses at write time (here: the file became a directory).
      rmSync(path.join(root, 'proc/sys/kernel/panic'));
      mkdirSync(path.join(root, 'proc/sys/kernel/panic'));
    });
    const configWrite = plan.changes.find((change) => change.path === '/var/lib/kubelet/config.yaml' && change.action === 'write');
    expect(configWrite?.rules).to.include('kubelet.protect-kernel-defaults');
    expect(result.ok).to.equal(false);
    expect(result.changes.find((change) => change.change.path === '/proc/sys/kernel/panic')?.result).to.equal('failed');
    expect(result.blocked.find((blocked) => blocked.id === 'kubelet.protect-kernel-defaults')?.reason).to.contain(
      'requires sysctl.kubelet-kernel-defaults',
    );
    const config = read(root, 'var/lib/kubelet/config.yaml');
    expect(config).to.not.contain('protectKernelDefaults');
    expect(config).to.contain('readOnlyPort: 0');
  });

  it('does not overwrite a file that changed between plan and write', async () => {
    const root = copyFixture('kubeadm-worker');
    const { result } = await planThenExecute(root, () => {
      writeFileSync(path.join(root, 'etc/default/kubelet'), 'KUBELET_EXTRA_ARGS="--v=4"\n');
      chmodSync(path.join(root, 'etc/default/kubelet'), 0o644);
    });
    const write = result.changes.find((change) => change.change.path === '/etc/default/kubelet' && change.change.action === 'write');
    expect(write?.result).to.equal('failed');
    expect(write?.error).to.contain('changed since it was read');
    expect(read(root, 'etc/default/kubelet')).to.equal('KUBELET_EXTRA_ARGS="--v=4"\n');
  });
});
