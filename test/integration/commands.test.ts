import { expect } from 'chai';
import { ProcessCommandRunner } from '../../agent/host/commands.js';

describe('ProcessCommandRunner (real processes)', () => {
  const runner = new ProcessCommandRunner();

  it('captures stdout and stderr without their final newline, and the exit code', async () => {
    const result = await runner.run(['/bin/sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(result).to.deep.equal({ exitCode: 3, stdout: 'out', stderr: 'err' });
  });

  it('passes arguments verbatim, without a shell', async () => {
    const result = await runner.run(['/bin/echo', 'a; reboot', '$HOME']);
    expect(result.stdout).to.equal('a; reboot $HOME');
  });

  it('adds the given environment to its own', async () => {
    const result = await runner.run(['/bin/sh', '-c', 'echo "$CNI_COMMAND:${PATH:+has-path}"'], { env: { CNI_COMMAND: 'VERSION' } });
    expect(result.stdout).to.equal('VERSION:has-path');
  });

  it('reports a missing program as exit 127 with its name, never a throw', async () => {
    const result = await runner.run(['/nonexistent/kubelet', '--version']);
    expect(result.exitCode).to.equal(127);
    expect(result.stderr).to.contain('/nonexistent/kubelet');
  });

  it('kills a command at its deadline and says so', async () => {
    const started = Date.now();
    const result = await runner.run(['/bin/sleep', '30'], { timeoutMs: 200 });
    expect(result.exitCode).to.not.equal(0);
    expect(result.stderr).to.match(/timed out after 200 ms/);
    expect(Date.now() - started).to.be.below(10_000);
  });

  it('never reads stdin (a probe must not wait for input)', async () => {
    const result = await runner.run(['/bin/cat'], { timeoutMs: 5000 });
    expect(result).to.deep.equal({ exitCode: 0, stdout: '', stderr: '' });
  });
});
