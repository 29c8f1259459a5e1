import { expect } from 'chai';
import { parseArgsFile, removeArg, setArg } from '../../../agent/formats/args-file.js';
import { FormatError } from '../../../agent/formats/env-file.js';

describe('k8s snap args file codec', () => {
  it('reads bash-quoted values the way the snap wrapper does', () => {
    const file = parseArgsFile(`--a=plain\n--b="x y"\n--c='m<1,n<2'\n--d=\n--e="say \\"q\\""\n--bare\n`);
    expect(file.args.map((arg) => [arg.name, arg.value, arg.quote])).to.deep.equal([
      ['a', 'plain', null],
      ['b', 'x y', '"'],
      ['c', 'm<1,n<2', "'"],
      ['d', '', null],
      ['e', 'say "q"', '"'],
      ['bare', 'true', null],
    ]);
  });

  for (const [name, text] of [
    ['a line that is not a flag', 'node-ip=1\n'],
    ['an unterminated quote', '--a="x\n'],
    ['an unquoted shell metacharacter', '--a=x;rm\n'],
  ] as const)
    it(`rejects ${name} with its line`, () =>
      expect(() => parseArgsFile(`--ok=1\n${text}`))
        .to.throw(FormatError)
        .with.property('line', 2));

  it('rewrites the flag line keeping its quote style and every other line', () => {
    const text = '--a=1\n--tls-cipher-suites="X,Y"\n--z=2\n';
    expect(setArg(text, 'tls-cipher-suites', 'A,B')).to.equal('--a=1\n--tls-cipher-suites="A,B"\n--z=2\n');
  });

  it('inserts a new flag in sorted position when the file is sorted, else appends', () => {
    expect(setArg('--a=1\n--c=3\n', 'b', '2')).to.equal('--a=1\n--b=2\n--c=3\n');
    expect(setArg('--c=3\n--a=1\n', 'b', '2')).to.equal('--c=3\n--a=1\n--b=2\n');
  });

  it('quotes values bash would otherwise interpret', () => {
    expect(setArg('', 'eviction-hard', 'memory.available<100Mi')).to.equal('--eviction-hard="memory.available<100Mi"\n');
  });

  it('removes every occurrence and collapses duplicates when setting', () => {
    expect(removeArg('--a=1\n--b=2\n--a=3\n', 'a')).to.equal('--b=2\n');
    expect(setArg('--a=1\n--b=2\n--a=3\n', 'a', '9')).to.equal('--b=2\n--a=9\n');
  });
});
