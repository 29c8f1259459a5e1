import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { runCli } from '../../agent/cli/index.js';
import { FakeApiServer } from '../fakes/fake-api-server.js';
import { cleanupTempDirs, copyFixture, read, tempDir, testCli } from '../helpers/host.js';

/** A policy whose inference pool gets a higher pod PID limit, and whose edge pool is audit-only. */
function poolPolicy(): string {
  const file = path.join(tempDir('kh-pools-'), 'policy.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: kube-harden.io/v1alpha1',
      'kind: HardeningPolicy',
      'mode: enforce',
      'overrides:',
      '  - name: inference',
      '    nodeSelector: { matchLabels: { pool: inference } }',
      '    rules:',
      '      kubelet.pod-pids-limit: { value: 16384 }',
      '  - name: edge',
      '    nodeSelector:',
      '      matchExpressions: [{ key: pool, operator: In, values: [edge] }]',
      '    mode: audit',
      '',
    ].join('\n'),
  );
  return file;
}

interface AuditJson {
  overrides: string[];
  results: { id: string; expected: string }[];
}

function pidsExpected(json: string): string {
  return (JSON.parse(json) as AuditJson).results.find((result) => result.id === 'kubelet.pod-pids-limit')!.expected;
}

describe('node pools: policy overrides chosen by the node labels', () => {
  after(cleanupTempDirs);
  // Written when the suite runs: another suite's cleanup removes every temp dir made before it.
  let policy: string;
  before(() => {
    policy = poolPolicy();
  });

  it('audit --node-labels: a matching node is judged with its pool values, prints the override, others get the defaults', async () => {
    const root = copyFixture('kubeadm-worker');
    const inference = testCli();
    await runCli(['audit', '--output', 'json', '--host-root', root, '--policy', policy, '--node-labels', 'pool=inference,zone=a'], inference.deps);
    expect((JSON.parse(inference.stdout()) as AuditJson).overrides).to.deep.equal(['inference']);
    expect(pidsExpected(inference.stdout())).to.contain('16384');

    const batch = testCli();
    await runCli(['audit', '--output', 'json', '--host-root', root, '--policy', policy, '--node-labels', 'pool=batch'], batch.deps);
    expect((JSON.parse(batch.stdout()) as AuditJson).overrides).to.deep.equal([]);
    expect(pidsExpected(batch.stdout())).to.contain('4096').and.not.contain('16384');

    const table = testCli();
    await runCli(['audit', '--host-root', root, '--policy', policy, '--node-labels', 'pool=edge'], table.deps);
    expect(table.stdout().split('\n').slice(0, 4)).to.include('Overrides applied: edge (mode audit)');
  });

  it('refuses a policy with overrides when the labels are unknown, and a malformed --node-labels', async () => {
    const root = copyFixture('kubeadm-worker');
    const harness = testCli();
    expect(await runCli(['audit', '--host-root', root, '--policy', policy], harness.deps)).to.equal(2);
    expect(harness.err.join('')).to.contain('node-pool overrides (inference, edge)').and.contain('--node-labels');
    const bad = testCli();
    expect(await runCli(['audit', '--host-root', root, '--policy', policy, '--node-labels', 'pool'], bad.deps)).to.equal(2);
    expect(bad.err.join('')).to.contain('--node-labels: "pool" is not key=value');
  });

  it('apply writes the pool value on a matching node and the default elsewhere; an audit-only pool changes nothing', async () => {
    const writes: Record<string, string> = {};
    for (const [name, labels] of [
      ['inference', 'pool=inference'],
      ['batch', 'pool=batch'],
      ['edge', 'pool=edge'],
    ] as const) {
      const root = copyFixture('kubeadm-worker');
      const before = read(root, '/var/lib/kubelet/config.yaml');
      await runCli(['apply', '--no-restart', '--host-root', root, '--policy', policy, '--node-labels', labels], testCli().deps);
      const after = read(root, '/var/lib/kubelet/config.yaml');
      writes[name] = after === before ? 'unchanged' : (/^podPidsLimit: (\d+)$/m.exec(after)?.[1] ?? 'not set');
    }
    expect(writes).to.deep.equal({ inference: '16384', batch: '4096', edge: 'unchanged' });
  });

  it('audit --kubeconfig reads the Node own labels', async () => {
    const server = await new FakeApiServer().start();
    try {
      server.putNode('gpu-1');
      server.node('gpu-1')!.metadata.labels = { pool: 'inference' };
      const harness = testCli();
      const root = copyFixture('kubeadm-worker');
      await runCli(
        ['audit', '--output', 'json', '--host-root', root, '--policy', policy, '--node-name', 'gpu-1', '--kubeconfig', await server.kubeconfig()],
        harness.deps,
      );
      expect((JSON.parse(harness.stdout()) as AuditJson).overrides).to.deep.equal(['inference']);
      expect(server.requests.some((request) => request.method === 'GET' && request.path === '/api/v1/nodes/gpu-1')).to.equal(true);
    } finally {
      await server.stop();
    }
  });
});
