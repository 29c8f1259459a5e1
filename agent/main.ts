#!/usr/bin/env node
import module from 'node:module';
import { runCli } from './cli/index.js';
import { ProcessCommandRunner } from './host/commands.js';
import { HttpHealthProbe, KUBELET_HEALTHZ_URL } from './host/health.js';
import { DEFAULT_NSENTER_PREFIX, SystemdServiceManager } from './host/service-manager.js';
import { COMPONENTS, staticPodService } from './rules/control-plane/components.js';
import { SNAP_KUBE_PROXY } from './rules/kube-proxy/snap.js';
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

/**
 * Where each restarted service proves itself healthy: the kubelet's healthz, a static pod's own
 * endpoint, the snap kube-proxy's healthz (on loopback by default, on the node IP once
 * kube-proxy.healthz-bind-address is applied: either answering proves it up).
 */
function healthUrls(service: string, nodeIp: string | null): string[] {
  if (service === SNAP_KUBE_PROXY.service) {
    const host = nodeIp ? (nodeIp.includes(':') ? `[${nodeIp}]` : nodeIp) : null;
    return ['http://127.0.0.1:10256/healthz', ...(host ? [`http://${host}:10256/healthz`] : [])];
  }
  const component = Object.values(COMPONENTS).find((candidate) => service === staticPodService(candidate) || service === candidate.snapService);
  return [component?.healthUrl ?? env.KUBE_HARDEN_KUBELET_HEALTHZ ?? KUBELET_HEALTHZ_URL];
}

const code = await runCli(process.argv.slice(2), {
  env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  runner,
  services: () => new SystemdServiceManager(runner, prefix),
  health: (service, node) => new HttpHealthProbe(healthUrls(service, node?.nodeIp ?? null), 1000, 5000),
  logger: createLogger(level),
  now: () => new Date(),
  terminal: { isTTY: process.stdout.isTTY === true, columns: process.stdout.columns, stderrIsTTY: process.stderr.isTTY === true },
});
process.exitCode = code;
