import { expect } from 'chai';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { executePlan } from '../../agent/apply/executor.js';
import { collectTargets, evaluateRules } from '../../agent/core/evaluate.js';
import { buildPlan } from '../../agent/core/planner.js';
import { defaultPolicy } from '../../agent/core/policy.js';
import { BackupStore } from '../../agent/host/backups.js';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import { observeNode } from '../../agent/host/observe.js';
import { ExecaCommandRunner } from '../../agent/host/commands.js';
import { ExecPluginProber } from '../../agent/host/cni-plugin.js';
import { buildContext } from '../../agent/rules/context.js';
import { RULE_VALUE_SPECS, RULES } from '../../agent/rules/index.js';
import { KUBEADM } from '../../agent/rules/kubelet/layout.js';
import { silentLogger } from '../../agent/telemetry/logger.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { FakeServiceManager } from '../fakes/fake-service-manager.js';
import { cleanupTempDirs, copyFixture, read } from '../helpers/host.js';

describe('apply: a sysctl that fails at write time', () => {
  after(cleanupTempDirs);

  it('blocks protectKernelDefaults in the re-plan while the other kubelet fixes land', async () => {
    const root = copyFixture('kubeadm-worker');
    const fs = new HostFs(await HostRoot.open(root));
    const policy = defaultPolicy(RULE_VALUE_SPECS);
    const obs = await observeNode({
      fs,
      runner: new ExecaCommandRunner(),
      input: { nodeName: 'n', nodeIp: null, nodeIpSource: null, kubeletVersion: null, pluginDir: '/nonexistent' },
      targets: (partial) => collectTargets(RULES, partial),
      kubeletBinaries: [KUBEADM.binary],
      plugins: new ExecPluginProber(fs, new ExecaCommandRunner(), '/nonexistent'),
    });
    const evaluated = evaluateRules(RULES, buildContext(obs, policy));
    const plan = buildPlan(evaluated, obs, policy);
    expect(plan.changes.find((change) => change.path === '/var/lib/kubelet/config.yaml' && change.action === 'write')?.rules).to.include(
      'kubelet.protect-kernel-defaults',
    );
    // Observed fine, but the kernel refuses at write time (here: the file became a directory).
    rmSync(path.join(root, 'proc/sys/kernel/panic'));
    mkdirSync(path.join(root, 'proc/sys/kernel/panic'));
    const result = await executePlan(
      {
        fs,
        plugins: new ExecPluginProber(fs, new ExecaCommandRunner(), '/nonexistent'),
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
    const fs = new HostFs(await HostRoot.open(root));
    const policy = defaultPolicy(RULE_VALUE_SPECS);
    const obs = await observeNode({
      fs,
      runner: new ExecaCommandRunner(),
      input: { nodeName: 'n', nodeIp: null, nodeIpSource: null, kubeletVersion: null, pluginDir: '/nonexistent' },
      targets: (partial) => collectTargets(RULES, partial),
      kubeletBinaries: [KUBEADM.binary],
      plugins: new ExecPluginProber(fs, new ExecaCommandRunner(), '/nonexistent'),
    });
    const evaluated = evaluateRules(RULES, buildContext(obs, policy));
    const plan = buildPlan(evaluated, obs, policy);
    writeFileSync(path.join(root, 'etc/default/kubelet'), 'KUBELET_EXTRA_ARGS="--v=4"\n');
    chmodSync(path.join(root, 'etc/default/kubelet'), 0o644);
    const result = await executePlan(
      {
        fs,
        plugins: new ExecPluginProber(fs, new ExecaCommandRunner(), '/nonexistent'),
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
    const write = result.changes.find((change) => change.change.path === '/etc/default/kubelet' && change.change.action === 'write');
    expect(write?.result).to.equal('failed');
    expect(write?.error).to.contain('changed since it was read');
    expect(read(root, 'etc/default/kubelet')).to.equal('KUBELET_EXTRA_ARGS="--v=4"\n');
  });
});
