#!/usr/bin/env node
import module from 'node:module';
import { runCli } from './cli/index.js';
import { ProcessCommandRunner } from './host/commands.js';
import { HttpHealthProbe } from './host/health.js';
import { serviceHealthUrls } from './host/health-urls.js';
import { DEFAULT_NSENTER_PREFIX, SystemdServiceManager } from './host/service-manager.js';
import { LOG_LEVELS, createLogger, type LogLevel } from './telemetry/logger.js';

// Composition root: real adapters only here. KUBE_HARDEN_SERVICE_PREFIX replaces the nsenter prefix
// (space-separated) for hosts where the agent already runs in the host's namespaces.
const env = process.env;
// Node 22.1+ keeps compiled code between runs (the image sets the directory); each command's code is a
// chunk loaded after this line, so a second `kube-harden audit` skips compiling it. Older Node: no-op.
if (env.KUBE_HARDEN_COMPILE_CACHE) (module as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache?.(env.KUBE_HARDEN_COMPILE_CACHE);
const runner = new ProcessCommandRunner();
const level = (LOG_LEVELS as readonly string[]).includes(env.KUBE_HARDEN_LOG_LEVEL ?? '') ? (env.KUBE_HARDEN_LOG_LEVEL as LogLevel) : 'warn';
const prefix = env.KUBE_HARDEN_SERVICE_PREFIX !== undefined ? env.KUBE_HARDEN_SERVICE_PREFIX.split(' ').filter(Boolean) : DEFAULT_NSENTER_PREFIX;

const code = await runCli(process.argv.slice(2), {
  env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  runner,
  services: () => new SystemdServiceManager(runner, prefix),
  health: (service, node) => new HttpHealthProbe(serviceHealthUrls(service, node?.nodeIp ?? null, env.KUBE_HARDEN_KUBELET_HEALTHZ), 1000, 5000),
  logger: createLogger(level),
  now: () => new Date(),
  terminal: { isTTY: process.stdout.isTTY === true, columns: process.stdout.columns, stderrIsTTY: process.stderr.isTTY === true },
});
process.exitCode = code;
