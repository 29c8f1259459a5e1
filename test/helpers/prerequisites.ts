import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where .ci/run (scripts/build-bandwidth.sh) puts the static bandwidth plugin the tests install. */
export const TEST_PLUGIN_DIR = process.env.KUBE_HARDEN_TEST_PLUGIN_DIR ?? '/var/cache/kube-harden/cni';
/** Debian's containernetworking-plugins (the real bridge, host-local, portmap; a dynamic bandwidth). */
export const DEBIAN_CNI_DIR = '/usr/lib/cni';

/** True when CI demands the real components (missing ones then fail instead of skipping). */
export const E2E_REQUIRED = process.env.KUBE_HARDEN_REQUIRE_E2E === '1';

export function isStaticPlugin(file: string): boolean {
  if (!existsSync(file)) return false;
  const result = spawnSync('file', [file], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.includes('statically linked') : true;
}

/**
 * Skips the suite with one line saying how to enable it, or fails it when CI requires it. Call from a
 * `before` hook with `this`.
 */
export function requirePrerequisites(context: Mocha.Context, missing: string[], how: string): void {
  if (missing.length === 0) return;
  if (E2E_REQUIRED) throw new Error(`required test prerequisites missing: ${missing.join(', ')} (${how})`);
  console.log(`    (skipped: needs ${missing.join(', ')}; ${how}; KUBE_HARDEN_REQUIRE_E2E=1 makes this mandatory)`);
  context.skip();
}

export function staticPluginMissing(): string[] {
  return isStaticPlugin(`${TEST_PLUGIN_DIR}/bandwidth`) ? [] : [`a static bandwidth plugin in ${TEST_PLUGIN_DIR}`];
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}
