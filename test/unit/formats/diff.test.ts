import { expect } from 'chai';
import { unifiedDiff } from '../../../agent/formats/diff.js';

describe('unified diff', () => {
  it('shows a created file against /dev/null', () => {
    expect(unifiedDiff('/etc/x.conf', null, 'a\nb\n')).to.equal('--- /dev/null\n+++ b/etc/x.conf\n@@ -0,0 +1,2 @@\n+a\n+b\n');
  });

  it('shows one hunk with context around a change', () => {
    const before = ['1', '2', '3', '4', '5', '6', '7', '8', '9'].join('\n') + '\n';
    const after = before.replace('5\n', 'five\n');
    expect(unifiedDiff('/f', before, after)).to.equal('--- a/f\n+++ b/f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n');
  });

  it('splits distant changes into separate hunks', () => {
    const lines = Array.from({ length: 30 }, (_v, i) => `l${i}`);
    const after = [...lines];
    after[2] = 'x';
    after[25] = 'y';
    const diff = unifiedDiff('/f', `${lines.join('\n')}\n`, `${after.join('\n')}\n`);
    expect(diff.match(/^@@/gm)).to.have.length(2);
  });

  it('is empty of hunks for identical text', () => {
    expect(unifiedDiff('/f', 'a\n', 'a\n')).to.equal('--- a/f\n+++ b/f\n');
  });
});
