import { cpSync, mkdtempSync, readFileSync, readdirSync, lstatSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliDeps } from '../../agent/cli/node.js';
import type { Terminal } from '../../agent/cli/report-facts.js';
import { ProcessCommandRunner } from '../../agent/host/commands.js';
import { silentLogger } from '../../agent/telemetry/logger.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { FakeServiceManager } from '../fakes/fake-service-manager.js';

/** The repository root (tests run from dist/test/...). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export function fixturePath(name: string): string {
  return path.join(REPO, 'test/fixtures/hosts', name);
}

const created: string[] = [];

/** A temp copy of a fixture host tree (symlinks kept as they are). */
export function copyFixture(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `kh-${name}-`));
  cpSync(fixturePath(name), dir, { recursive: true, verbatimSymlinks: true });
  created.push(dir);
  return dir;
}

export function tempDir(prefix = 'kh-'): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}

export function cleanupTempDirs(): void {
  while (created.length > 0) rmSync(created.pop()!, { recursive: true, force: true });
}

/** Every entry under `root` (except `skip`) with its type, mode and content or link target. */
export function snapshotTree(root: string, skip: readonly string[] = ['var/lib/kube-harden']): Map<string, string> {
  const result = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      const rel = path.relative(root, full);
      if (skip.some((prefix) => rel === prefix || rel.startsWith(`${prefix}/`))) continue;
      const info = lstatSync(full);
      const mode = (info.mode & 0o7777).toString(8);
      if (info.isSymbolicLink()) result.set(rel, `link -> ${readlinkSync(full)}`);
      else if (info.isDirectory()) {
        result.set(rel, `dir ${mode}`);
        walk(full);
      } else result.set(rel, `file ${mode} ${info.uid}:${info.gid} ${readFileSync(full).toString('base64')}`);
    }
  };
  walk(root);
  return result;
}

export function read(root: string, hostPath: string): string {
  return readFileSync(path.join(root, hostPath), 'utf8');
}

/** CliDeps with captured output and fakes for everything that would touch a real host service. */
export interface TestCli {
  readonly deps: CliDeps;
  readonly out: string[];
  readonly err: string[];
  readonly services: FakeServiceManager;
  readonly health: FakeHealthProbe;
  stdout(): string;
}

export function testCli(
  options: { env?: Record<string, string>; services?: FakeServiceManager; health?: FakeHealthProbe; terminal?: Terminal } = {},
): TestCli {
  const out: string[] = [];
  const err: string[] = [];
  const services = options.services ?? new FakeServiceManager();
  const health = options.health ?? new FakeHealthProbe([true]);
  return {
    out,
    err,
    services,
    health,
    stdout: () => out.join(''),
    deps: {
      env: options.env ?? {},
      stdout: (text) => out.push(text),
      stderr: (text) => err.push(text),
      runner: new ProcessCommandRunner(),
      services: () => services,
      health: () => health,
      logger: silentLogger(),
      now: () => new Date('2026-11-22T12:00:00Z'),
      ...(options.terminal ? { terminal: options.terminal } : {}),
    },
  };
}
