import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REFERENCE_PAGES } from '../../scripts/reference.js';
import { REPO } from '../helpers/host.js';

describe('generated reference pages', () => {
  for (const [file, render] of Object.entries(REFERENCE_PAGES))
    it(`${file} matches the code (npm run docs regenerates it)`, () => {
      expect(readFileSync(path.join(REPO, file), 'utf8'), `${file} is stale: run npm run docs`).to.equal(render());
    });
});
