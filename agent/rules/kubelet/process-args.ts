import { parseFlags } from '../../formats/flags.js';
import type { KubeletView } from './settings.js';

/**
 * The flags the kubelet's files give it (env files, the snap args file, unit words) that the running
 * process's command line does not carry: empty when the process runs with what is on disk. This is
 * how the health gate proves a restarted kubelet runs with the hardened flags without asking its
 * /configz (which would need the powerful nodes/proxy permission). Pure.
 */
export function flagsNotRunning(view: KubeletView, argv: readonly string[]): string[] {
  const running = new Set(parseFlags(argv.slice(1).join(' ')).flags.map((flag) => `${flag.name}=${flag.value}`));
  // k3s/RKE2 turn `protect-kernel-defaults`/`profile` into kubelet settings their own way (a flag or their
  // defaults drop-in, by version): only `kubelet-arg` entries are sure to be on the command line.
  const onCommandLine = view.flags.filter((flag) => flag.origin.kind !== 'rancher' || flag.origin.key.replace(/\+$/, '') === 'kubelet-arg');
  return onCommandLine.filter((flag) => !running.has(`${flag.name}=${flag.value}`)).map((flag) => `--${flag.name}=${flag.value}`);
}
