import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../../agent/cli/index.js';
import { visibleStrings, visibleText } from '../../../agent/cli/text-layout.js';
import { cleanupTempDirs, copyFixture, read, testCli } from '../../helpers/host.js';

const HOSTILE = '\u001b]0;owned\u0007\u001b[2J\u001b[32mVersionTLS12\r';

describe('terminal output: control characters from host files are shown, never sent to the terminal', () => {
  after(cleanupTempDirs);

  it('visibleText escapes ESC, BEL, CR and C1, and keeps newlines and tabs', () => {
    expect(visibleText(HOSTILE)).to.equal('\\u001b]0;owned\\u0007\\u001b[2J\\u001b[32mVersionTLS12\\u000d');
    expect(visibleText('a\tb\nc\u009bd')).to.equal('a\tb\nc\\u009bd');
    expect(visibleStrings({ rows: [{ actual: '\u001b[2J', n: 1, ok: true, none: null }] })).to.deep.equal({
      rows: [{ actual: '\\u001b[2J', n: 1, ok: true, none: null }],
    });
  });

  it('audit, plan and apply tables print the value with its escapes visible, no raw ESC (colour off)', async () => {
    const root = copyFixture('kubeadm-worker');
    const flags = path.join(root, 'etc/default/kubelet');
    writeFileSync(flags, read(root, 'etc/default/kubelet').replace('--tls-min-version=VersionTLS10', `--tls-min-version=${HOSTILE.trim()}`));
    for (const command of ['audit', 'plan', 'apply']) {
      const cli = testCli();
      await runCli([command, ...(command === 'apply' ? ['--no-restart'] : []), '--host-root', root], cli.deps);
      const out = cli.stdout();
      // eslint-disable-next-line no-control-regex -- the point: no control character reaches the terminal
      expect(out, command).to.not.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
      if (command !== 'apply') expect(out, command).to.contain('\\u001b]0;owned\\u0007');
    }
  });
});
