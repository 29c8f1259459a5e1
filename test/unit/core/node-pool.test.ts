import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { parseLabelList, policyForNode, resolveForNode, selectorMatches, type NodeSelector } from '../../../agent/core/node-pool.js';
import { parsePolicy, ruleEnabled, ruleValue } from '../../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../../agent/rules/index.js';
import { REPO } from '../../helpers/host.js';
import { policyFrom } from '../../helpers/policy.js';

const HEAD = 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\n';

const selector = (matchLabels: Record<string, string>, matchExpressions: NodeSelector['matchExpressions'] = []): NodeSelector => ({
  matchLabels,
  matchExpressions,
});

describe('node pools: label selectors', () => {
  const labels = { pool: 'inference', zone: 'a', 'node-role.kubernetes.io/worker': '' };
  const cases: [string, NodeSelector, boolean][] = [
    ['matchLabels equal', selector({ pool: 'inference' }), true],
    ['matchLabels differ', selector({ pool: 'batch' }), false],
    ['matchLabels all must hold', selector({ pool: 'inference', zone: 'b' }), false],
    ['matchLabels on an absent label', selector({ gpu: 'true' }), false],
    ['In a listed value', selector({}, [{ key: 'zone', operator: 'In', values: ['a', 'b'] }]), true],
    ['In an unlisted value', selector({}, [{ key: 'zone', operator: 'In', values: ['c'] }]), false],
    ['In on an absent label', selector({}, [{ key: 'gpu', operator: 'In', values: ['true'] }]), false],
    ['NotIn an unlisted value', selector({}, [{ key: 'zone', operator: 'NotIn', values: ['c'] }]), true],
    ['NotIn a listed value', selector({}, [{ key: 'zone', operator: 'NotIn', values: ['a'] }]), false],
    ['NotIn on an absent label (matches, as in Kubernetes)', selector({}, [{ key: 'gpu', operator: 'NotIn', values: ['true'] }]), true],
    ['Exists with an empty value', selector({}, [{ key: 'node-role.kubernetes.io/worker', operator: 'Exists', values: [] }]), true],
    ['Exists on an absent label', selector({}, [{ key: 'gpu', operator: 'Exists', values: [] }]), false],
    ['DoesNotExist on an absent label', selector({}, [{ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist', values: [] }]), true],
    ['DoesNotExist on a present label', selector({}, [{ key: 'zone', operator: 'DoesNotExist', values: [] }]), false],
    ['labels and expressions together (AND)', selector({ pool: 'inference' }, [{ key: 'zone', operator: 'In', values: ['b'] }]), false],
  ];
  for (const [name, given, expected] of cases) it(`${name} → ${expected}`, () => expect(selectorMatches(given, labels)).to.equal(expected));
});

describe('node pools: policyForNode', () => {
  const policy = policyFrom(
    [
      'mode: enforce',
      'rules:',
      '  kubelet.pod-pids-limit: { value: 4096 }',
      'overrides:',
      '  - name: inference',
      '    nodeSelector: { matchLabels: { pool: inference } }',
      '    rules:',
      '      kubelet.pod-pids-limit: { value: 16384 }',
      '      cni.bandwidth-chain: { enabled: true }',
      '  - name: edge-audit',
      '    nodeSelector:',
      '      matchExpressions: [{ key: topology.kubernetes.io/zone, operator: In, values: [edge-1, edge-2] }]',
      '    mode: audit',
      '    rules:',
      '      kubelet.address: { enabled: false }',
      '  - name: big-edge',
      '    nodeSelector: { matchLabels: { pool: inference, topology.kubernetes.io/zone: edge-1 } }',
      '    rules:',
      '      kubelet.pod-pids-limit: { value: 32768 }',
      '',
    ].join('\n'),
  );
  const cases: [string, Record<string, string>, string[], 'audit' | 'enforce', number, boolean][] = [
    ['a node of no pool gets the defaults', { pool: 'batch' }, [], 'enforce', 4096, true],
    ['an inference node gets its PID limit', { pool: 'inference' }, ['inference'], 'enforce', 16384, true],
    ['an edge node is audit-only with kubelet.address off', { 'topology.kubernetes.io/zone': 'edge-2' }, ['edge-audit'], 'audit', 4096, false],
    [
      'an inference node at the edge: later overrides win',
      { pool: 'inference', 'topology.kubernetes.io/zone': 'edge-1' },
      ['inference', 'edge-audit', 'big-edge'],
      'audit',
      32768,
      false,
    ],
    ['no labels at all', {}, [], 'enforce', 4096, true],
  ];
  for (const [name, labels, applied, mode, pids, address] of cases)
    it(name, () => {
      const result = policyForNode(policy, labels);
      expect(result.applied).to.deep.equal(applied);
      expect(result.policy.mode).to.equal(mode);
      expect(ruleValue(result.policy, 'kubelet.pod-pids-limit')).to.equal(pids);
      expect(ruleEnabled(result.policy, 'kubelet.address')).to.equal(address);
      expect(result.policy.overrides).to.deep.equal([]);
      // Folding a resolved policy again changes nothing.
      expect(policyForNode(result.policy, labels).policy).to.deep.equal(result.policy);
    });

  it('an override keeps what it does not name (enabled alone keeps the value, value alone keeps enabled)', () => {
    const base = policyFrom(
      [
        'rules:',
        '  kubelet.pod-pids-limit: { enabled: false, value: 2048 }',
        'overrides:',
        '  - { name: on, nodeSelector: { matchLabels: { a: "1" } }, rules: { kubelet.pod-pids-limit: { enabled: true } } }',
        '',
      ].join('\n'),
    );
    const resolved = policyForNode(base, { a: '1' }).policy;
    expect(resolved.rules.get('kubelet.pod-pids-limit')).to.deep.equal({ enabled: true, value: 2048 });
  });

  it('refuses to resolve a policy with overrides for a node whose labels are unknown; without overrides, labels are not needed', () => {
    const withOverrides = resolveForNode(policy, null);
    expect(withOverrides.ok).to.equal(false);
    if (!withOverrides.ok) expect(withOverrides.error).to.contain('inference, edge-audit, big-edge');
    expect(resolveForNode(policyFrom(''), null)).to.deep.include({ ok: true, applied: [] });
  });
});

describe('node pools: parsing overrides', () => {
  it('refuses the whole policy and lists every problem of every override', () => {
    const text = [
      HEAD,
      'overrides:',
      '  - name: inference',
      '    nodeSelector: { matchLabels: { pool: inference } }',
      '    rules:',
      '      kubelet.nope: { value: 1 }',
      '      kubelet.pod-pids-limit: { value: -5 }',
      '      kubelet.read-only-port: { value: 1 }',
      '  - name: inference',
      '    nodeSelector: {}',
      '    mode: fix',
      '  - name: Bad_Name',
      '    nodeSelector:',
      '      matchLabels: { gpu: true }',
      '      matchExpressions:',
      '        - { key: zone, operator: Near, values: [a] }',
      '        - { key: zone, operator: In }',
      '        - { key: zone, operator: Exists, values: [a] }',
      '    rules: { kubelet.address: { enabled: maybe } }',
      '  - name: nothing',
      '    nodeSelector: { matchLabels: { a: b } }',
      '  - name: extra',
      '    nodeSelector: { matchLabels: { a: b } }',
      '    mode: audit',
      '    colour: blue',
      '',
    ].join('\n');
    const result = parsePolicy(text, 'pools.yaml', RULE_VALUE_SPECS);
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    const expected = [
      'overrides[0].rules.kubelet.nope: unknown rule ID',
      'overrides[0].rules.kubelet.pod-pids-limit.value: must be a positive integer',
      'overrides[0].rules.kubelet.read-only-port.value: this rule takes no value',
      'overrides[1].name: "inference" is used by an earlier override',
      'overrides[1].nodeSelector: needs matchLabels or matchExpressions',
      'overrides[1].mode: must be "audit" or "enforce"',
      'overrides[2].name: required',
      'overrides[2].nodeSelector.matchLabels.gpu: must be a string',
      'overrides[2].nodeSelector.matchExpressions[0].operator',
      'overrides[2].nodeSelector.matchExpressions[1].values: In needs at least one value',
      'overrides[2].nodeSelector.matchExpressions[2].values: Exists takes no values',
      'overrides[2].rules.kubelet.address.enabled: must be true or false',
      'overrides[3]: changes nothing',
      'overrides[4]: unknown field "colour"',
    ];
    for (const needle of expected)
      expect(
        result.errors.some((error) => error.startsWith('pools.yaml: ') && error.includes(needle)),
        needle,
      ).to.equal(true);
    expect(result.errors).to.have.length(expected.length);
  });

  it('a policy without overrides has none', () => {
    expect(policyFrom('').overrides).to.deep.equal([]);
  });
});

describe('node pools: --node-labels', () => {
  const cases: [string, Record<string, string> | string][] = [
    ['pool=inference,zone=a', { pool: 'inference', zone: 'a' }],
    ['node-role.kubernetes.io/worker=', { 'node-role.kubernetes.io/worker': '' }],
    [' pool=x , ', { pool: 'x' }],
    ['', {}],
    ['pool', '"pool" is not key=value'],
    ['=x', '"=x" is not key=value'],
  ];
  for (const [text, expected] of cases) it(JSON.stringify(text), () => expect(parseLabelList(text)).to.deep.equal(expected));
});

describe('node pools: the docs/rules.md example', () => {
  it('is a valid policy that does what the text says', () => {
    const docs = readFileSync(path.join(REPO, 'docs/rules.md'), 'utf8');
    const yaml = /### Node pools[\s\S]*?```yaml\n([\s\S]*?)```/.exec(docs)![1]!;
    const policy = policyFrom(yaml);
    const inference = policyForNode(policy, { pool: 'inference' });
    expect(inference.applied).to.deep.equal(['inference']);
    expect(ruleValue(inference.policy, 'kubelet.pod-pids-limit')).to.equal(16384);
    const edge = policyForNode(policy, { 'topology.kubernetes.io/zone': 'edge-1', 'node-role.kubernetes.io/control-plane': '' });
    expect(edge.applied).to.deep.equal([]);
    expect(policyForNode(policy, { 'topology.kubernetes.io/zone': 'edge-1' }).policy.mode).to.equal('audit');
  });
});
