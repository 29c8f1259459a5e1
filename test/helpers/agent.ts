import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns, type StdioOptions } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { REPO } from './host.js';
import { TEST_PLUGIN_DIR } from './prerequisites.js';

/** The CLI as users get it: the bundle `npm run build` writes (package.json's bin, the image's entrypoint). */
export const MAIN = path.join(REPO, 'dist/bundle/kube-harden.mjs');

/**
 * A loopback port unlikely to collide with another test run (no fixed ports in tests), below Linux's
 * ephemeral range (32768-60999): an outgoing connection's local port there made a listener fail with
 * EADDRINUSE in CI.
 */
export function randomPort(): number {
  return 10000 + Math.floor(Math.random() * 22000);
}

/** `kube-harden run` arguments for a host root and a metrics port on loopback. */
function runArgs(root: string, port: number, extra: readonly string[]): string[] {
  return [MAIN, 'run', '--host-root', root, '--metrics-address', `127.0.0.1:${port}`, ...extra];
}

const ENV = { PATH: process.env.PATH ?? '', KUBE_HARDEN_PLUGIN_DIR: TEST_PLUGIN_DIR };

/** Starts the real daemon process as a DaemonSet would run it. */
export function spawnAgent(root: string, port: number, extra: readonly string[] = [], stdio: StdioOptions = 'ignore'): ChildProcess {
  return spawn(process.execPath, runArgs(root, port, extra), { env: ENV, stdio });
}

/** Runs the daemon to completion (for start-up refusals). */
export function runAgentSync(root: string, port: number, extra: readonly string[] = []): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, runArgs(root, port, extra), { env: ENV, encoding: 'utf8', timeout: 20_000 });
}

/** GET on loopback; status 0 when nothing answers. */
export function httpGet(port: number, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: url }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', () => resolve({ status: 0, body: '' }));
  });
}
