#!/usr/bin/env node
import { runCli } from './cli/index.js';
import { ExecaCommandRunner } from './host/commands.js';
import { HttpHealthProbe, KUBELET_HEALTHZ_URL } from './host/health.js';
import { DEFAULT_NSENTER_PREFIX, SystemdServiceManager } from './host/service-manager.js';
import { COMPONENTS, staticPodService } from './rules/control-plane/components.js';
import { LOG_LEVELS, createLogger, type LogLevel } from './telemetry/logger.js';

// Composition root: real adapters only here. KUBE_HARDEN_SERVICE_PREFIX replaces the nsenter prefix
// (space-separated) for hosts where the agent already runs in the host's namespaces.
const env = process.env;
const runner = new ExecaCommandRunner();
const level = (LOG_LEVELS as readonly string[]).includes(env.KUBE_HARDEN_LOG_LEVEL ?? '') ? (env.KUBE_HARDEN_LOG_LEVEL as LogLevel) : 'warn';
const prefix = env.KUBE_HARDEN_SERVICE_PREFIX !== undefined ? env.KUBE_HARDEN_SERVICE_PREFIX.split(' ').filter(Boolean) : DEFAULT_NSENTER_PREFIX;

/** Where each restarted service proves itself healthy: the kubelet's healthz, a static pod's own endpoint. */
function healthUrl(service: string): string {
  const component = Object.values(COMPONENTS).find((candidate) => service === staticPodService(candidate) || service === candidate.snapService);
  return component?.healthUrl ?? env.KUBE_HARDEN_KUBELET_HEALTHZ ?? KUBELET_HEALTHZ_URL;
}

const code = await runCli(process.argv.slice(2), {
  env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  runner,
  services: () => new SystemdServiceManager(runner, prefix),
  health: (service) => new HttpHealthProbe(healthUrl(service), 1000, 5000),
  logger: createLogger(level),
  now: () => new Date(),
});
process.exitCode = code;
