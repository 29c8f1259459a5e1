import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { MAIN, randomPort, httpGet } from '../helpers/agent.js';
import { cleanupTempDirs, copyFixture } from '../helpers/host.js';
import { TEST_PLUGIN_DIR } from '../helpers/prerequisites.js';
import { waitFor } from '../helpers/wait.js';

/** Runs `kube-harden run` until its first reconcile is done and returns the levels it logged. */
async function levelsLogged(env: Record<string, string>, extra: readonly string[] = []): Promise<Set<string>> {
  const root = copyFixture('kubeadm-worker');
  const port = randomPort();
  const child = spawn(process.execPath, [MAIN, 'run', '--host-root', root, '--no-restart', '--metrics-address', `127.0.0.1:${port}`, ...extra], {
    env: { PATH: process.env.PATH ?? '', KUBE_HARDEN_PLUGIN_DIR: TEST_PLUGIN_DIR, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await waitFor(async () => (await httpGet(port, '/readyz')).status === 200, 20_000, 'the first reconcile');
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => child.on('exit', resolve));
  }
  const lines = stderr.split('\n').filter((line) => line.startsWith('{'));
  return new Set(lines.map((line) => (JSON.parse(line) as { level: string }).level));
}

describe('kube-harden run: the log level from --log-level, else KUBE_HARDEN_LOG_LEVEL, else info', function () {
  this.timeout(60_000);
  after(cleanupTempDirs);

  it('logs info by default, and KUBE_HARDEN_LOG_LEVEL=warn silences it; --log-level wins over the variable', async () => {
    expect(await levelsLogged({})).to.include('info');
    expect(await levelsLogged({ KUBE_HARDEN_LOG_LEVEL: 'warn' })).to.not.include('info');
    expect(await levelsLogged({ KUBE_HARDEN_LOG_LEVEL: 'warn' }, ['--log-level', 'info'])).to.include('info');
  });
});
