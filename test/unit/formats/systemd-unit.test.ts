import { expect } from 'chai';
import { expandExecStart, mergeServiceSections, parseUnitService, splitUnitWords } from '../../../agent/formats/systemd-unit.js';

describe('systemd unit parsing', () => {
  it('splits words with quotes like systemd', () => {
    expect(splitUnitWords(`"A=--x=1 --y=2" B='c d' e\\ f`)).to.deep.equal(['A=--x=1 --y=2', 'B=c d', 'e f']);
  });

  it('reads Environment=, EnvironmentFile= (optional with -) and ExecStart= of [Service] only', () => {
    const unit = parseUnitService(
      `[Unit]\nDescription=x\n[Service]\nEnvironment="A=--config=/c.yaml" "B=1"\nEnvironmentFile=-/etc/default/kubelet\nExecStart=\nExecStart=/usr/bin/kubelet $A\n`,
      '/u',
    );
    expect(unit.environment.map((env) => `${env.name}=${env.value}`)).to.deep.equal(['A=--config=/c.yaml', 'B=1']);
    expect(unit.environmentFiles).to.deep.equal([{ path: '/etc/default/kubelet', optional: true }]);
    expect(unit.execStart).to.deep.equal(['', '/usr/bin/kubelet $A']);
  });

  it('lets a drop-in reset ExecStart of the base unit', () => {
    const base = parseUnitService('[Service]\nExecStart=/usr/bin/kubelet\n', '/base');
    const dropIn = parseUnitService('[Service]\nExecStart=\nExecStart=/usr/bin/kubelet $X\n', '/drop');
    expect(mergeServiceSections([base, dropIn]).execStart).to.deep.equal(['/usr/bin/kubelet $X']);
  });

  it('expands $VAR into whitespace-split words and ${VAR} inside a word as is', () => {
    const vars: Record<string, string> = { A: '--a=1  --b="2 3"', B: 'x' };
    const words = expandExecStart('/usr/bin/kubelet $A --c=${B} $MISSING', (name) => vars[name]);
    expect(words.map((word) => [word.text, word.variable])).to.deep.equal([
      ['/usr/bin/kubelet', null],
      ['--a=1', 'A'],
      ['--b="2', 'A'],
      ['3"', 'A'],
      ['--c=x', 'B'],
    ]);
  });
});
