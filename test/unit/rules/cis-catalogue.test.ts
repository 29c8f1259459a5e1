import { expect } from 'chai';
import { RULES } from '../../../agent/rules/index.js';
import { uncoveredChecks, uncoveredFinding } from '../../../agent/rules/cis/catalogue.js';
import { BENCHMARKS, DEFAULT_BENCHMARK, benchmarkNamed } from '../../../agent/rules/cis/index.js';
import { CIS_1_12 } from '../../../agent/rules/cis/cis-1.12.js';

/** How many checks each subsection of CIS v1.12 sections 1-4 has (kube-bench cfg/cis-1.12). */
const CIS_1_12_SECTIONS: readonly (readonly [string, number])[] = [
  ['1.1', 21],
  ['1.2', 30],
  ['1.3', 7],
  ['1.4', 2],
  ['2', 7],
  ['3.1', 3],
  ['3.2', 2],
  ['4.1', 10],
  ['4.2', 14],
  ['4.3', 1],
];

function expectedIds(sections: readonly (readonly [string, number])[]): string[] {
  return sections.flatMap(([section, count]) => Array.from({ length: count }, (_, index) => `${section}.${index + 1}`));
}

describe('CIS benchmark catalogue', () => {
  it('cis-1.12 lists every check of sections 1-4, each once, in order', () => {
    expect(CIS_1_12.checks.map((check) => check.id)).to.deep.equal(expectedIds(CIS_1_12_SECTIONS));
  });

  for (const benchmark of BENCHMARKS)
    describe(benchmark.name, () => {
      it('every check has a rule that exists and claims it, or an explicit manual note, or a not-built reason', () => {
        const rules = new Map(RULES.map((rule) => [rule.meta.id, rule]));
        const problems: string[] = [];
        for (const check of benchmark.checks) {
          if ('rule' in check) {
            const rule = rules.get(check.rule);
            if (!rule) problems.push(`${check.id}: names ${check.rule}, which does not exist`);
            else if (!rule.meta.cis.includes(check.id)) problems.push(`${check.id}: ${check.rule} does not list CIS ${check.id}`);
          } else if ('manual' in check) {
            if (check.manual.trim().length < 20) problems.push(`${check.id}: manual note says too little`);
          } else if (!('notBuilt' in check) || check.reason.trim() === '') problems.push(`${check.id}: no rule, no manual note, no not-built reason`);
          if (check.title.trim() === '') problems.push(`${check.id}: no title`);
        }
        expect(problems).to.deep.equal([]);
      });

      it('every CIS id a rule claims is in the catalogue, judged by that rule', () => {
        const byId = new Map(benchmark.checks.map((check) => [check.id, check]));
        const problems: string[] = [];
        for (const rule of RULES)
          for (const id of rule.meta.cis) {
            const check = byId.get(id);
            if (!check) problems.push(`${rule.meta.id} claims ${id}, which ${benchmark.name} does not have`);
            else if (!('rule' in check) || check.rule !== rule.meta.id)
              problems.push(`${rule.meta.id} claims ${id}, which the catalogue gives to ${'rule' in check ? check.rule : 'nobody'}`);
          }
        expect(problems).to.deep.equal([]);
      });
    });

  it('reports each check no rule judges as skip, with its CIS id and what to check', () => {
    const skips = uncoveredChecks(CIS_1_12).map((check) => uncoveredFinding(CIS_1_12, check));
    const denyExternalIps = skips.find((finding) => finding.cis[0] === '1.2.3')!;
    expect(denyExternalIps).to.include({ id: 'cis-1.12.1.2.3', status: 'skip', remediable: false });
    expect(denyExternalIps.message).to.match(/^manual check \(CIS 1\.2\.3\): .*DenyServiceExternalIPs/);
    expect(skips.every((finding) => finding.status === 'skip' && finding.message !== '')).to.equal(true);
    expect(skips.map((finding) => finding.cis[0])).to.not.include('1.2.15');
  });

  it('selects a benchmark by name; the default is the newest', () => {
    expect(benchmarkNamed('cis-1.12')).to.equal(CIS_1_12);
    expect(benchmarkNamed('cis-0.1')).to.equal(null);
    expect(DEFAULT_BENCHMARK).to.equal(BENCHMARKS[BENCHMARKS.length - 1]);
  });
});

describe('encryption at rest (CIS 1.2.27/1.2.28)', () => {
  const config = (providers: string) =>
    `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [secrets]\n    providers:\n${providers}`;

  it('passes a strong first provider and fails identity or aesgcm first', async () => {
    const { judgeEncryptionConfig } = await import('../../../agent/rules/control-plane/encryption.js');
    expect(judgeEncryptionConfig(config('      - aescbc: {keys: [{name: k, secret: c2VjcmV0}]}\n      - identity: {}\n')).problem).to.equal(null);
    expect(judgeEncryptionConfig(config('      - identity: {}\n      - aescbc: {keys: []}\n')).problem).to.contain('identity is the first provider');
    expect(judgeEncryptionConfig(config('      - aesgcm: {keys: []}\n')).problem).to.contain('aesgcm writes Secrets');
    expect(judgeEncryptionConfig('kind: Pod\n').problem).to.contain('not an EncryptionConfiguration');
    expect(
      judgeEncryptionConfig('kind: EncryptionConfiguration\nresources:\n  - resources: [configmaps]\n    providers: [{aescbc: {}}]\n').problem,
    ).to.equal('no resources entry covers secrets');
  });

  it('a not-built check is reported as skip saying so', () => {
    const benchmark = {
      name: 'cis-test',
      title: 'test',
      checks: [{ id: '9.9', title: 'x', assessment: 'automated' as const, notBuilt: true as const, reason: 'needs a cluster view' }],
    };
    const [check] = uncoveredChecks(benchmark);
    expect(uncoveredFinding(benchmark, check!)).to.include({
      id: 'cis-test.9.9',
      status: 'skip',
      message: 'not built yet (CIS 9.9): needs a cluster view',
    });
  });
});
