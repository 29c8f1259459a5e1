import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { StandInKubelet, type StandInOptions } from '../fakes/stand-in-kubelet.js';
import { MAIN, httpGet, randomPort } from './agent.js';
import { copyFixture, tempDir } from './host.js';
import { TEST_PLUGIN_DIR } from './prerequisites.js';
import type { RealApiServer } from './real-apiserver.js';
import { waitFor } from './wait.js';

export interface RealPolicy {
  readonly mode: 'enforce' | 'audit';
  readonly maxConcurrent: number;
  readonly healthTimeoutSeconds: number;
  readonly leaseDurationSeconds: number;
}

/** Writes a HardeningPolicy file with the fleet settings (everything else default). */
export function writeRealPolicy(policy: RealPolicy): string {
  const file = path.join(tempDir('kh-policy-'), 'policy.yaml');
  writeFileSync(
    file,
    [
      'apiVersion: kube-harden.io/v1alpha1',
      'kind: HardeningPolicy',
      `mode: ${policy.mode}`,
      `restarts: { maxConcurrent: ${policy.maxConcurrent}, healthTimeoutSeconds: ${policy.healthTimeoutSeconds}, leaseDurationSeconds: ${policy.leaseDurationSeconds} }`,
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * One simulated node against the real API server: a kubeadm worker host root, a stand-in kubelet
 * (its process entry under the root's /proc, its /healthz on a loopback port, its node Lease and Ready
 * condition written to the real server after each good start) and the agent as a real
 * `kube-harden run` child process with the ServiceAccount's kubeconfig. The agent restarts the kubelet
 * through its real systemctl path: KUBE_HARDEN_SERVICE_PREFIX points at a shim that asks this node's
 * stand-in to restart (`<shim> systemctl restart kubelet`).
 */
export class RealNode {
  readonly root: string;
  readonly kubelet: StandInKubelet;
  readonly metricsPort = randomPort();
  readonly log: string;
  agent: ChildProcess | null = null;
  private control: http.Server | null = null;
  private controlPort = 0;
  private closed = false;

  private constructor(
    readonly server: RealApiServer,
    readonly name: string,
    readonly internalIP: string,
    options: Omit<StandInOptions, 'api' | 'onRunning'>,
  ) {
    this.root = copyFixture('kubeadm-worker');
    this.log = path.join(tempDir('kh-agent-log-'), `${name}.log`);
    this.kubelet = new StandInKubelet(this.root, {
      ...options,
      onRunning: async () => {
        if (this.closed) return;
        await server.renewNodeLease(name, Date.now());
        await server.putNode(name, 'True', 'v1.31.4', internalIP);
      },
    });
  }

  static async create(
    server: RealApiServer,
    name: string,
    internalIP: string,
    options: Omit<StandInOptions, 'api' | 'onRunning'> = {},
  ): Promise<RealNode> {
    const node = new RealNode(server, name, internalIP, options);
    await server.putNode(name, 'True', 'v1.31.4', internalIP);
    await server.renewNodeLease(name, Date.now() - 60_000);
    await node.listen();
    return node;
  }

  /** The stand-in's HTTP side: GET /healthz (the kubelet's), POST /restart/<service> (the systemctl shim's). */
  private async listen(): Promise<void> {
    this.control = http.createServer((request, response) => {
      if (request.method === 'GET' && request.url === '/healthz') {
        response.writeHead(this.kubelet.running ? 200 : 503).end(this.kubelet.running ? 'ok' : 'down');
        return;
      }
      const restart = /^\/restart\/([A-Za-z0-9@._-]+)$/.exec(request.url ?? '');
      if (request.method === 'POST' && restart) {
        this.kubelet.restart(restart[1]!).then(
          () => response.writeHead(200).end('restarted\n'),
          (error: unknown) => response.writeHead(500).end(`${String(error)}\n`),
        );
        return;
      }
      response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => this.control!.listen(0, '127.0.0.1', resolve));
    this.controlPort = (this.control.address() as { port: number }).port;
  }

  /** Starts `kube-harden run` for this node as the agent's ServiceAccount. */
  start(policyFile: string): void {
    const shim = path.join(tempDir('kh-shim-'), 'systemctl-shim');
    // Called as `<shim> systemctl restart <service>`: $1 systemctl, $2 restart, $3 the service.
    writeFileSync(shim, `#!/bin/sh\nexec curl -fsS -X POST --max-time 120 "http://127.0.0.1:${this.controlPort}/$2/$3"\n`);
    chmodSync(shim, 0o755);
    const out = createWriteStream(this.log, { flags: 'a' });
    this.agent = spawn(
      process.execPath,
      [
        MAIN,
        'run',
        '--host-root',
        this.root,
        '--metrics-address',
        `127.0.0.1:${this.metricsPort}`,
        '--kubeconfig',
        this.server.agentKubeconfig,
        '--namespace',
        'kube-harden',
        '--node-name',
        this.name,
        '--node-ip',
        this.internalIP,
        '--kubelet-version',
        'v1.31.4',
        '--policy',
        policyFile,
        '--log-level',
        'info',
      ],
      {
        env: {
          PATH: process.env.PATH ?? '',
          KUBE_HARDEN_PLUGIN_DIR: TEST_PLUGIN_DIR,
          KUBE_HARDEN_SERVICE_PREFIX: shim,
          KUBE_HARDEN_KUBELET_HEALTHZ: `http://127.0.0.1:${this.controlPort}/healthz`,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    this.agent.stderr!.pipe(out);
  }

  async ready(timeoutMs = 60_000): Promise<void> {
    await waitFor(async () => (await httpGet(this.metricsPort, '/readyz')).status === 200, timeoutMs, `${this.name}: /readyz`);
  }

  async metrics(): Promise<string> {
    return (await httpGet(this.metricsPort, '/metrics')).body;
  }

  /** The agent's log so far (JSON lines on stderr). */
  logText(): string {
    try {
      return readFileSync(this.log, 'utf8');
    } catch {
      return '';
    }
  }

  kill(signal: NodeJS.Signals): void {
    this.agent?.kill(signal);
  }

  async stop(): Promise<void> {
    this.closed = true;
    const agent = this.agent;
    if (agent && agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((resolve) => agent.once('exit', resolve));
      agent.kill('SIGTERM');
      const timer = setTimeout(() => agent.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (this.control) {
      this.control.closeAllConnections();
      await new Promise((resolve) => this.control!.close(resolve));
    }
  }
}

/** The node's annotation, read as admin. */
export async function nodeAnnotation(server: RealApiServer, node: string, key: string): Promise<string | undefined> {
  return (await server.adminApi().nodes.get(node)).annotations[key];
}
