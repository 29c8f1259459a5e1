/**
 * `npm start`: the main job on the embedded sample node. Copies a realistic kubeadm worker (weak kubelet
 * settings, a KUBELET_EXTRA_ARGS override of the TLS version, unpersisted sysctls, loose modes) to a temp
 * dir and runs the real CLI on it: audit, plan, apply --no-restart, audit again.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixture = path.join(repo, 'test/fixtures/hosts/kubeadm-worker');
const hostRoot = mkdtempSync(path.join(tmpdir(), 'kube-harden-sample-'));
cpSync(fixture, hostRoot, { recursive: true, verbatimSymlinks: true });

function run(title: string, args: string[]): number {
  process.stdout.write(`\n==> kube-harden ${args.join(' ')}    # ${title}\n\n`);
  const result = spawnSync(process.execPath, [path.join(repo, 'dist/bundle/kube-harden.mjs'), ...args, '--host-root', hostRoot], {
    stdio: 'inherit',
  });
  process.stdout.write(`\n(exit code ${result.status})\n`);
  return result.status ?? 1;
}

process.stdout.write(`Sample node: a kubeadm worker copied from ${path.relative(repo, fixture)} to ${hostRoot}\n`);
run('what is wrong, and which file decides it', ['audit']);
run('the exact changes apply would make (nothing is written)', ['plan']);
run('write them, backed up; the kubelet restart is left pending', ['apply', '--no-restart']);
const final = run('the node after apply', ['audit']);
process.stdout.write(`
Files: the hardened host tree is ${hostRoot}
  kubelet config      ${hostRoot}/var/lib/kubelet/config.yaml
  flag overrides      ${hostRoot}/etc/default/kubelet
  sysctls             ${hostRoot}/etc/sysctl.d/90-kube-harden.conf
  backups + journal   ${hostRoot}/var/lib/kube-harden/backups/
Undo it with: node dist/bundle/kube-harden.mjs rollback --no-restart --host-root ${hostRoot}
`);
process.exitCode = final;
