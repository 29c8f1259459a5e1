import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FakeApiServer } from '../../fakes/fake-api-server.js';
import { MAIN, httpGet, randomPort, spawnAgent } from '../../helpers/agent.js';
import { REPO, cleanupTempDirs, copyFixture, fixturePath, tempDir } from '../../helpers/host.js';
import { waitFor } from '../../helpers/wait.js';

const RECORDER = path.join(REPO, 'dist/test/helpers/import-recorder.js');

/** The bundle's files and the sources each holds (esbuild's metafile, written by `npm run build`). */
function bundleChunks(): Array<{ file: string; inputs: string[] }> {
  const meta = JSON.parse(readFileSync(path.join(REPO, 'dist/bundle-meta.json'), 'utf8')) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  return Object.entries(meta.outputs).map(([file, output]) => ({ file, inputs: Object.keys(output.inputs) }));
}

/** The module URLs a CLI invocation loads. */
function importsOf(args: readonly string[]): string[] {
  const log = path.join(tempDir('kh-imports-'), 'imports.log');
  const result = spawnSync(process.execPath, ['--import', RECORDER, ...args], {
    env: { PATH: process.env.PATH ?? '', KH_IMPORT_LOG: log },
    encoding: 'utf8',
  });
  expect(result.error).to.equal(undefined);
  return readFileSync(log, 'utf8').trim().split('\n');
}

describe('cluster features in the real process', function () {
  this.timeout(30_000);
  after(cleanupTempDirs);

  it('audit, plan and version never load the Kubernetes client nor HTTP (the recorder does see the client when it is loaded)', () => {
    const chunks = bundleChunks();
    const withClient = chunks.filter((chunk) => chunk.inputs.some((input) => input.includes('node_modules/@kubernetes/client-node/')));
    const clusterCli = chunks.find((chunk) => chunk.inputs.includes('agent/cli/cluster.ts'));
    expect(withClient, 'the bundle has the Kubernetes client in a chunk of its own').to.not.deep.equal([]);
    expect(withClient.some((chunk) => chunk.file === 'dist/bundle/kube-harden.mjs')).to.equal(false);
    const root = fixturePath('kubeadm-worker');
    for (const args of [
      [MAIN, 'audit', '--host-root', root],
      [MAIN, 'plan', '--host-root', root],
      [MAIN, 'version'],
    ]) {
      const loaded = importsOf(args);
      expect(loaded.some((url) => url.includes('/dist/bundle/chunks/'))).to.equal(true);
      expect(loaded.filter((url) => withClient.some((chunk) => url.endsWith(chunk.file)))).to.deep.equal([]);
      // HTTP(S) is for health probes after a restart: TLS would cost every cold start a few ms.
      expect(loaded.filter((url) => url === 'node:http' || url === 'node:https')).to.deep.equal([]);
    }
    const control = importsOf(['--input-type=module', '-e', `await import(${JSON.stringify(path.join(REPO, clusterCli!.file))})`]);
    expect(control.some((url) => withClient.some((chunk) => url.endsWith(chunk.file)))).to.equal(true);
  });

  it('run --kubeconfig annotates its Node and records a Remediated Event on it', async () => {
    const server = await new FakeApiServer().start();
    const root = copyFixture('kubeadm-worker');
    server.putNode('worker-1');
    const port = randomPort();
    const agent = spawnAgent(
      root,
      port,
      ['--kubeconfig', await server.kubeconfig(), '--node-name', 'worker-1', '--no-restart'],
      ['ignore', 'ignore', 'pipe'],
    );
    let stderr = '';
    agent.stderr!.on('data', (chunk) => (stderr += chunk));
    try {
      await waitFor(async () => (await httpGet(port, '/readyz')).status === 200, 15_000, '/readyz');
      await waitFor(() => server.list('events', 'default').length > 0, 5000, 'an Event');
      const annotations = server.node('worker-1')!.metadata.annotations as Record<string, string>;
      // --no-restart leaves the kubelet restart pending: still remediating.
      expect(annotations['kube-harden.io/state']).to.equal('remediating');
      const [event] = server.list('events', 'default') as unknown as {
        reason: string;
        involvedObject: { kind: string; name: string; uid: string };
      }[];
      expect(event!.reason).to.equal('Remediated');
      expect(event!.involvedObject).to.include({ kind: 'Node', name: 'worker-1', uid: 'uid-worker-1' });
      expect(stderr).to.contain('cluster features on');
    } finally {
      agent.kill('SIGTERM');
      await new Promise((resolve) => agent.once('exit', resolve));
      await server.stop();
    }
  });

  it('a --kubeconfig that does not exist is a usage error that names it, before anything is written', () => {
    const root = copyFixture('kubeadm-worker');
    const result = spawnSync(process.execPath, [MAIN, 'run', '--host-root', root, '--kubeconfig', '/nonexistent/kubeconfig'], { encoding: 'utf8' });
    expect(result.status).to.equal(2);
    expect(result.stderr).to.contain('--kubeconfig /nonexistent/kubeconfig: no such file');
    expect(result.stderr).to.not.match(/\n\s+at /);
  });
});
