/**
 * The benchmark's shell baseline: what kube-bench runs for the CIS checks the audit judges.
 */
import { spawnSync } from 'node:child_process';
import { KUBE_BENCH_CIS_1_12 } from './kube-bench-checks.js';

/**
 * kube-bench's own commands for the CIS checks in `judged` (scripts/bench/kube-bench-checks.ts),
 * each handed to `/bin/sh` on standard input with its output captured, as kube-bench's `runAudit` does,
 * with kube-bench's variables set to the paths under `root` (a host tree) and the components' process names: the shell
 * work kube-bench does on this node. Not counted, so the baseline is if anything too fast: kube-bench's
 * own start-up, its search for running components (a `ps` per candidate binary) and its judging.
 * kube-bench skips `audit_config` when the process is not found; on a node the components run, so every
 * command is run here.
 */
export function kubeBenchCommands(root: string, judged: ReadonlySet<string>): string[] {
  const variables: Record<string, string> = {
    apiserverbin: 'kube-apiserver',
    controllermanagerbin: 'kube-controller-manager',
    schedulerbin: 'kube-scheduler',
    etcdbin: 'etcd',
    kubeletbin: 'kubelet',
    proxybin: 'kube-proxy',
    apiserverconf: `${root}/etc/kubernetes/manifests/kube-apiserver.yaml`,
    controllermanagerconf: `${root}/etc/kubernetes/manifests/kube-controller-manager.yaml`,
    schedulerconf: `${root}/etc/kubernetes/manifests/kube-scheduler.yaml`,
    etcdconf: `${root}/etc/kubernetes/manifests/etcd.yaml`,
    controllermanagerkubeconfig: `${root}/etc/kubernetes/controller-manager.conf`,
    schedulerkubeconfig: `${root}/etc/kubernetes/scheduler.conf`,
    etcddatadir: `${root}/var/lib/etcd`,
    kubeletconf: `${root}/var/lib/kubelet/config.yaml`,
    kubeletsvc: `${root}/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf`,
    kubeletkubeconfig: `${root}/etc/kubernetes/kubelet.conf`,
    kubeletcafile: `${root}/etc/kubernetes/pki/ca.crt`,
    proxykubeconfig: `${root}/etc/kubernetes/proxy.conf`,
  };
  const substitute = (command: string) =>
    command
      // Paths kube-bench spells out in a check (the PKI dir, admin.conf, CNI state): the fixture's copy.
      .replace(/(?<![\w/.-])\/(etc\/kubernetes|var\/lib\/cni)\//g, `${root}/$1/`)
      .replace(/\$([a-z]+)/g, (whole, name: string) => variables[name] ?? whole);
  return KUBE_BENCH_CIS_1_12.filter((check) => judged.has(check.id)).flatMap((check) => check.commands.map(substitute));
}

/** One pass of the shell baseline: its wall time. */
export function kubeBenchPass(commands: readonly string[]): number {
  const start = process.hrtime.bigint();
  for (const command of commands) spawnSync('/bin/sh', [], { input: command, stdio: 'pipe' });
  return Number(process.hrtime.bigint() - start) / 1e6;
}
