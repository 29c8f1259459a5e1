import { expect } from 'chai';
import type { NodeApi, NodeRecord } from '../../../agent/cluster/api.js';
import { ruleValue } from '../../../agent/core/policy.js';
import { policyForThisNode } from '../../../agent/daemon/node-policy.js';
import { policyFrom } from '../../helpers/policy.js';

/** A NodeApi that serves one Node's labels (or fails), counting reads. */
function nodes(labels: Record<string, string> | Error): NodeApi & { reads: number } {
  const api = {
    reads: 0,
    async get(name: string): Promise<NodeRecord> {
      api.reads += 1;
      if (labels instanceof Error) throw labels;
      return { name, uid: null, annotations: {}, labels, ready: 'True', kubeletVersion: null, internalIPs: [], conditions: [], taints: [] };
    },
    list: async () => [],
    patchAnnotations: async () => undefined,
  };
  return api;
}

const POOLS = policyFrom(
  'overrides:\n  - { name: inference, nodeSelector: { matchLabels: { pool: inference } }, rules: { kubelet.pod-pids-limit: { value: 16384 } } }\n',
);

describe("the daemon's policy for its node", () => {
  it('folds in the overrides its Node labels select', async () => {
    const result = await policyForThisNode({ ok: true, policy: POOLS }, nodes({ pool: 'inference' }), 'n');
    expect(result.ok).to.equal(true);
    if (result.ok) {
      expect(result.applied).to.deep.equal(['inference']);
      expect(ruleValue(result.policy, 'kubelet.pod-pids-limit')).to.equal(16384);
    }
  });

  it('does not read the Node for a policy without overrides, and passes a refused policy through', async () => {
    const api = nodes({});
    expect(await policyForThisNode({ ok: true, policy: policyFrom('') }, api, 'n')).to.deep.include({ ok: true, applied: [] });
    expect(await policyForThisNode({ ok: false, errors: ['bad'] }, api, 'n')).to.deep.equal({ ok: false, errors: ['bad'] });
    expect(api.reads).to.equal(0);
  });

  const refusals: [string, NodeApi | null, string][] = [
    ['without cluster credentials', null, 'the agent has no cluster credentials'],
    ['when its Node cannot be read', nodes(new Error('node n: HTTP 403')), 'cannot read Node n: node n: HTTP 403'],
  ];
  for (const [name, api, why] of refusals)
    it(`refuses a policy with overrides ${name}`, async () => {
      const result = await policyForThisNode({ ok: true, policy: POOLS }, api, 'n');
      expect(result).to.deep.equal({
        ok: false,
        errors: [`the policy has node-pool overrides (inference) and this node's labels are unknown (${why})`],
      });
    });
});
