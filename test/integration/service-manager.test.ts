import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ProcessCommandRunner } from '../../agent/host/commands.js';
import { DEFAULT_NSENTER_PREFIX, ServiceRestartError, SystemdServiceManager } from '../../agent/host/service-manager.js';
import { cleanupTempDirs, tempDir } from '../helpers/host.js';

/**
 * The real command path: nsenter into the namespaces of "PID 1", then systemctl. Here PID 1 is our own
 * process inside `unshare --pid --fork --mount-proc` (the sandbox's PID 1 is not systemd and nsenter
 * to it is denied), and systemctl is a recording stand-in on PATH.
 */
describe('SystemdServiceManager through nsenter', function () {
  after(cleanupTempDirs);
  const required = process.env.KUBE_HARDEN_REQUIRE_E2E === '1';

  before(function () {
    const probe = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true']);
    if (probe.status !== 0) {
      if (required) throw new Error(`unshare --pid is required in CI but failed: ${probe.stderr}`);
      console.log('    (skipped: needs root and unshare/nsenter from util-linux; set KUBE_HARDEN_REQUIRE_E2E=1 to make this mandatory)');
      this.skip();
    }
  });

  function stand_in(exitCode: number): { dir: string; log: string } {
    const dir = tempDir('kh-systemctl-');
    const log = path.join(dir, 'calls.log');
    writeFileSync(
      path.join(dir, 'systemctl'),
      `#!/bin/sh\necho "$$ $*" >> ${log}\n[ ${exitCode} -eq 0 ] || echo "Job for $2.service failed." >&2\nexit ${exitCode}\n`,
    );
    chmodSync(path.join(dir, 'systemctl'), 0o755);
    return { dir, log };
  }

  it('restarts the unit in the namespaces of PID 1', async () => {
    const { dir, log } = stand_in(0);
    const prefix = ['env', `PATH=${dir}:${process.env.PATH}`, 'unshare', '--pid', '--fork', '--mount-proc', ...DEFAULT_NSENTER_PREFIX];
    await new SystemdServiceManager(new ProcessCommandRunner(), prefix).restart('kubelet');
    const [pid, ...args] = readFileSync(log, 'utf8').trim().split(' ');
    expect(args).to.deep.equal(['restart', 'kubelet']);
    // The stand-in ran inside the new PID namespace (low PID), i.e. through nsenter --target 1.
    expect(Number(pid)).to.be.lessThan(10);
  });

  it('reports a failed restart with the unit and exit code', async () => {
    const { dir } = stand_in(1);
    const prefix = ['env', `PATH=${dir}:${process.env.PATH}`, 'unshare', '--pid', '--fork', '--mount-proc', ...DEFAULT_NSENTER_PREFIX];
    try {
      await new SystemdServiceManager(new ProcessCommandRunner(), prefix).restart('snap.k8s.kubelet');
      expect.fail('should throw');
    } catch (error) {
      expect(error).to.be.instanceOf(ServiceRestartError);
      expect(String(error)).to.contain('systemctl restart snap.k8s.kubelet failed (exit 1): Job for snap.k8s.kubelet.service failed.');
    }
  });

  it('refuses service names that are not unit names', async () => {
    try {
      await new SystemdServiceManager(new ProcessCommandRunner(), []).restart('kubelet; reboot');
      expect.fail('should throw');
    } catch (error) {
      expect(String(error)).to.contain('refusing');
    }
  });
});
