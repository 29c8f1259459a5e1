import { expect } from 'chai';
import { FormatError, lastAssignment, parseEnvFile, setEnvVar } from '../../../agent/formats/env-file.js';

describe('env-file codec (systemd EnvironmentFile)', () => {
  const cases: Array<[string, string, string, string]> = [
    ['double-quoted', 'A="--x=1 --y=2"\n', 'A', '--x=1 --y=2'],
    ['single-quoted', "A='--x=1'\n", 'A', '--x=1'],
    ['unquoted, trailing space trimmed', 'A=--x=1   \n', 'A', '--x=1'],
    ['escaped quote inside double quotes', 'A="say \\"hi\\""\n', 'A', 'say "hi"'],
    ['continuation line', 'A=--x=1 \\\n--y=2\n', 'A', '--x=1 --y=2'],
    ['comments and blank lines', '# c\n; d\n\nA=1\n', 'A', '1'],
    ['last assignment wins', 'A=1\nA=2\n', 'A', '2'],
    ['CRLF line endings', 'A="1"\r\nB=2\r\n', 'B', '2'],
  ];
  for (const [name, text, variable, value] of cases)
    it(`reads ${name}`, () => expect(lastAssignment(parseEnvFile(text), variable)?.value).to.equal(value));

  const bad: Array<[string, string, number]> = [
    ['a line without =', 'A=1\njunk\n', 2],
    ['an unterminated quote', 'A="--x=1\n', 1],
    ['an invalid name', '1A=2\n', 1],
    ['text after the closing quote', 'A="x" y\n', 1],
  ];
  for (const [name, text, line] of bad)
    it(`rejects ${name} with the line number`, () => {
      try {
        parseEnvFile(text);
        expect.fail('should throw');
      } catch (error) {
        expect(error).to.be.instanceOf(FormatError);
        expect((error as FormatError).line).to.equal(line);
      }
    });

  it('rewrites only the value of the last assignment and keeps its quoting and the rest of the file', () => {
    const text = '# keep me\nKUBELET_EXTRA_ARGS="--a=1 --b=2"\nOTHER=x\n';
    expect(setEnvVar(text, 'KUBELET_EXTRA_ARGS', '--a=1')).to.equal('# keep me\nKUBELET_EXTRA_ARGS="--a=1"\nOTHER=x\n');
  });

  it('keeps single quotes and unquoted style', () => {
    expect(setEnvVar("A='x'\n", 'A', 'y')).to.equal("A='y'\n");
    expect(setEnvVar('A=x\n', 'A', 'y z')).to.equal('A=y z\n');
  });

  it('escapes double quotes when writing into a double-quoted value', () => {
    expect(setEnvVar('A=""\n', 'A', 'a"b')).to.equal('A="a\\"b"\n');
  });

  it('appends a missing variable as a double-quoted line', () => {
    expect(setEnvVar('# only a comment', 'A', '--x=1')).to.equal('# only a comment\nA="--x=1"\n');
  });
});
