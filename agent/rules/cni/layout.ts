import { dirEntries, type Observation } from '../../core/observation.js';

/** Where containerd and CRI-O look by default (KUBERNETES-FACTS.md §10). */
export const CNI = {
  confDir: '/etc/cni/net.d',
  binDir: '/opt/cni/bin',
  plugin: 'bandwidth',
  extensions: ['.conf', '.conflist', '.json'],
} as const;

export const BANDWIDTH_BINARY = `${CNI.binDir}/${CNI.plugin}`;

/**
 * Network config files in the order runtimes consider them: `.conf`, `.conflist`, `.json`, sorted by
 * name (byte order, as Go's sort.Strings); the first is the pod network. Backups and dot files are
 * not candidates.
 */
export function cniConfigFiles(obs: Observation): string[] {
  return dirEntries(obs, CNI.confDir)
    .filter((name) => !name.startsWith('.') && CNI.extensions.some((ext) => name.endsWith(ext)))
    .sort()
    .map((name) => `${CNI.confDir}/${name}`);
}
