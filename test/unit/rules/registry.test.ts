import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { RULES } from '../../../agent/rules/index.js';
import { WORKLOAD_RULES } from '../../../agent/rules/workloads/pod-rules.js';
import { REPO } from '../../helpers/host.js';

/** The rule IDs DESIGN §4 promises, read from the contract itself so the two cannot drift apart. */
function designRuleIds(): string[] {
  const design = readFileSync(path.join(REPO, '../shared/DESIGN.md'), 'utf8');
  const section = design.slice(design.indexOf('## 4. Rule IDs'), design.indexOf('## 5.'));
  return [...section.matchAll(/`([a-z-]+\.[a-z0-9-]+)`/g)].map((match) => match[1]!);
}

describe('rule registry', () => {
  it('has unique IDs with complete metadata', () => {
    const ids = RULES.map((rule) => rule.meta.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const rule of RULES) {
      expect(rule.meta.title, rule.meta.id).to.not.equal('');
      expect(rule.meta.versions, rule.meta.id).to.not.equal('');
      expect(['none', 'reload', 'restart']).to.include(rule.meta.disruption);
    }
  });

  it('covers every DESIGN §4 rule (never silently missing)', () => {
    const promised = designRuleIds();
    expect(promised.length).to.be.greaterThan(40);
    const known = new Set([...RULES.map((rule) => rule.meta.id), ...WORKLOAD_RULES.map((rule) => rule.id)]);
    expect(promised.filter((id) => !known.has(id))).to.deep.equal([]);
  });

  it('is documented: docs/rules.md names every built rule', () => {
    const docs = readFileSync(path.join(REPO, 'docs/rules.md'), 'utf8');
    for (const rule of RULES) expect(docs, rule.meta.id).to.contain(`\`${rule.meta.id}\``);
    for (const rule of WORKLOAD_RULES) expect(docs, rule.id).to.contain(`\`${rule.id}\``);
  });
});
