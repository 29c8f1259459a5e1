import { expect } from 'chai';
import { parseDocument } from 'yaml';
import { yamlErrorText } from '../../../agent/formats/yaml-read.js';

const firstError = (text: string) => parseDocument(text, { uniqueKeys: true, prettyErrors: true }).errors[0]!;

describe('YAML errors as one line for an operator', () => {
  it('drops the position and code frame the parser appends (the caller names file and line)', () => {
    expect(yamlErrorText(firstError('a: "x\nb: 1\n'))).to.equal('Missing closing "quote');
    expect(yamlErrorText(firstError('a: 1\na: 2\n'))).to.equal('Map keys must be unique');
  });

  it('says what is wrong with several documents, not which library call to use', () => {
    expect(yamlErrorText(firstError('a: 1\n---\nb: 2\n'))).to.equal('several YAML documents (---) where one is expected');
  });
});
