import { expect } from 'chai';
import { appendFlag, parseFlags, removeFlag, replaceFlagValue } from '../../../agent/formats/flags.js';

describe('flag strings (systemd-split kubelet flags)', () => {
  it('parses --name=value, --name value and bare booleans', () => {
    const { flags, positional } = parseFlags('--a=1 --node-ip 10.0.0.1 --anonymous-auth --rotate-certificates false-positional x');
    expect(flags.map((flag) => [flag.name, flag.value])).to.deep.equal([
      ['a', '1'],
      ['node-ip', '10.0.0.1'],
      ['anonymous-auth', 'true'],
      ['rotate-certificates', 'true'],
    ]);
    expect(positional).to.deep.equal(['false-positional', 'x']);
  });

  it('replaces a value in place, keeping the form and all other text', () => {
    const source = '--max-pods=150  --tls-min-version VersionTLS10 --v=2';
    const token = parseFlags(source).flags.find((flag) => flag.name === 'tls-min-version')!;
    expect(replaceFlagValue(source, token, 'VersionTLS12')).to.equal('--max-pods=150  --tls-min-version VersionTLS12 --v=2');
  });

  it('turns a bare boolean into --name=value when its value changes', () => {
    const token = parseFlags('--protect-kernel-defaults --v=2').flags[0]!;
    expect(replaceFlagValue('--protect-kernel-defaults --v=2', token, 'false')).to.equal('--protect-kernel-defaults=false --v=2');
  });

  const removals: Array<[string, string, string]> = [
    ['middle', '--a=1 --b=2 --c=3', '--a=1 --c=3'],
    ['first', '--b=2 --c=3', '--c=3'],
    ['last', '--a=1 --b=2', '--a=1'],
    ['only', '--b=2', ''],
    ['separate value word', '--a=1 --b 2 --c=3', '--a=1 --c=3'],
  ];
  for (const [where, source, expected] of removals)
    it(`removes a flag in the ${where} position cleanly`, () => {
      const token = parseFlags(source).flags.find((flag) => flag.name === 'b')!;
      expect(removeFlag(source, token)).to.equal(expected);
    });

  it('appends with one space and refuses whitespace in values (systemd would split them)', () => {
    expect(appendFlag('--a=1', 'b', '2')).to.equal('--a=1 --b=2');
    expect(appendFlag('', 'b', '2')).to.equal('--b=2');
    expect(() => appendFlag('', 'b', 'x y')).to.throw(/whitespace/);
  });
});
