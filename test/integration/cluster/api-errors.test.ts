import { expect } from 'chai';
import { apiErrorSink } from '../../../agent/cli/cluster.js';
import { ConflictError } from '../../../agent/cluster/api.js';
import { clusterApi, loadKubeConfig } from '../../../agent/cluster/client.js';
import { countedClusterApi } from '../../../agent/cluster/counted.js';
import type { Logger } from '../../../agent/telemetry/logger.js';
import { AgentMetrics } from '../../../agent/telemetry/metrics.js';
import { FakeApiServer } from '../../fakes/fake-api-server.js';

function recordingLogger(): { logger: Logger; warnings: { message: string; meta: Record<string, unknown> }[] } {
  const warnings: { message: string; meta: Record<string, unknown> }[] = [];
  const ignore = () => undefined;
  const logger = {
    error: ignore,
    info: ignore,
    debug: ignore,
    warn: (message: string, meta: Record<string, unknown>) => warnings.push({ message, meta }),
  } as unknown as Logger;
  return { logger, warnings };
}

describe('API errors: counted by operation, logged once', () => {
  let server: FakeApiServer;
  afterEach(() => server.stop());

  it('each failed call counts under a static operation name; the first per operation is logged; conflicts are not errors', async () => {
    server = await new FakeApiServer().start();
    server.putNode('node-a');
    const metrics = new AgentMetrics('test');
    const { logger, warnings } = recordingLogger();
    const api = countedClusterApi(clusterApi(loadKubeConfig({ kind: 'kubeconfig', path: await server.kubeconfig() })), apiErrorSink(metrics, logger));
    server.failNext('POST', /\/events$/, 422, 3);
    const event = {
      name: 'node-a.1',
      namespace: 'default',
      type: 'Normal' as const,
      reason: 'Remediated',
      message: 'm',
      count: 1,
      firstTimestampMs: 1,
      lastTimestampMs: 1,
      involvedObject: { kind: 'Node', name: 'node-a', uid: null },
      source: { component: 'kube-harden', host: 'node-a' },
    };
    for (let attempt = 0; attempt < 3; attempt++) await api.events.create(event).catch(() => undefined);
    server.failNext('GET', /\/nodes\/node-a$/, 503);
    await api.nodes.get('node-a').catch(() => undefined);
    // A lost optimistic-concurrency race is the normal way two agents coordinate: not counted.
    const lease = {
      name: 'slot',
      namespace: 'kube-harden',
      resourceVersion: null,
      holderIdentity: 'node-a',
      leaseDurationSeconds: 10,
      acquireTimeMs: 1,
      renewTimeMs: 1,
      labels: {},
    };
    await api.leases.create(lease);
    let conflict: unknown = null;
    await api.leases.create(lease).catch((caught: unknown) => (conflict = caught));
    expect(conflict).to.be.instanceOf(ConflictError);
    // Success is not counted either.
    await api.events.create(event);

    const text = await metrics.text();
    expect(text).to.contain('kube_harden_api_errors_total{operation="events.create"} 3');
    expect(text).to.contain('kube_harden_api_errors_total{operation="nodes.get"} 1');
    expect(text).to.not.contain('operation="leases.create"');
    expect(warnings.map((warning) => warning.meta.operation)).to.deep.equal(['events.create', 'nodes.get']);
    expect(warnings[0]!.meta.error).to.match(/HTTP 422/);
  });
});
