import { FormatError } from './env-file.js';

/**
 * sysctl.d files (`key = value` a line, `#`/`;` comments, a leading `-` to ignore failures), and the
 * order systemd-sysctl and `sysctl --system` apply them in.
 */

export interface SysctlSetting {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

/** Normalizes `kernel/panic` to `kernel.panic` (both spellings are accepted by sysctl). */
export function normalizeSysctlKey(key: string): string {
  return key.includes('/') && !key.includes('.') ? key.replace(/\//g, '.') : key;
}

export function parseSysctlConf(text: string): SysctlSetting[] {
  const settings: SysctlSetting[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const eq = line.indexOf('=');
    if (eq === -1) throw new FormatError('expected key = value', index + 1);
    const key = normalizeSysctlKey(line.slice(0, eq).trim().replace(/^-/, ''));
    if (!/^[A-Za-z0-9_.*/-]+$/.test(key)) throw new FormatError(`invalid sysctl key "${key.slice(0, 60)}"`, index + 1);
    settings.push({ key, value: line.slice(eq + 1).trim(), line: index + 1 });
  });
  return settings;
}

/** Directories systemd-sysctl reads, highest priority first (a name in an earlier dir masks later ones). */
export const SYSCTL_DIRS: readonly string[] = ['/etc/sysctl.d', '/run/sysctl.d', '/usr/local/lib/sysctl.d', '/usr/lib/sysctl.d', '/lib/sysctl.d'];

/** procps `sysctl --system` also reads this last; Debian links it as /etc/sysctl.d/99-sysctl.conf. */
export const SYSCTL_CONF = '/etc/sysctl.conf';

/**
 * The files applied at boot, in application order: `*.conf` from every dir sorted by file name (the
 * first dir wins a name), then /etc/sysctl.conf when present and not already linked in.
 */
export function sysctlFileOrder(listings: ReadonlyMap<string, readonly string[]>, hasSysctlConf: boolean): string[] {
  const chosen = new Map<string, string>();
  for (const dir of SYSCTL_DIRS)
    for (const name of listings.get(dir) ?? []) if (name.endsWith('.conf') && !chosen.has(name)) chosen.set(name, `${dir}/${name}`);
  const ordered = [...chosen.keys()].sort().map((name) => chosen.get(name)!);
  if (hasSysctlConf && !chosen.has('99-sysctl.conf')) ordered.push(SYSCTL_CONF);
  return ordered;
}

/** Renders a file that sets exactly `settings`, with a header saying who owns it. */
export function renderSysctlConf(header: string, settings: ReadonlyArray<readonly [string, string]>): string {
  const lines = header.split('\n').map((line) => `# ${line}`.trimEnd());
  for (const [key, value] of settings) lines.push(`${key} = ${value}`);
  return `${lines.join('\n')}\n`;
}
