/**
 * The shell commands kube-bench runs for each CIS Kubernetes Benchmark v1.12 check of a control-plane
 * node (sections 1 to 4), in the order it runs them: `audit_env`, `audit`, then `audit_config`. A check
 * of type `manual` runs none. Transcribed as data from aquasecurity/kube-bench `cfg/cis-1.12/`
 * (master.yaml, etcd.yaml, controlplane.yaml, node.yaml) at commit a73ce378 (Apache License 2.0);
 * kube-bench passes each one to `/bin/sh` on standard input (`check/check.go`, `runAudit`), after
 * replacing `$apiserverbin`, `$kubeletconf` and the like with the node's binaries and paths.
 *
 * Only the benchmark reads this: it is the shell baseline the cold audit is compared with.
 */

/** One kube-bench check: its CIS id and the commands kube-bench runs for it. */
export interface KubeBenchCheck {
  /** CIS id, as in the audit's `cis` lists. */
  readonly id: string;
  /** What kube-bench hands to `/bin/sh`, one process tree each; empty for a manual check. */
  readonly commands: readonly string[];
}

/** kube-bench's checks for CIS v1.12, sections 1 (control plane), 2 (etcd), 3 (control plane configuration) and 4 (worker node). */
export const KUBE_BENCH_CIS_1_12: readonly KubeBenchCheck[] = [
  { id: '1.1.1', commands: ["/bin/sh -c 'if test -e $apiserverconf; then stat -c permissions=%a $apiserverconf; fi'"] },
  { id: '1.1.2', commands: ["/bin/sh -c 'if test -e $apiserverconf; then stat -c %U:%G $apiserverconf; fi'"] },
  { id: '1.1.3', commands: ["/bin/sh -c 'if test -e $controllermanagerconf; then stat -c permissions=%a $controllermanagerconf; fi'"] },
  { id: '1.1.4', commands: ["/bin/sh -c 'if test -e $controllermanagerconf; then stat -c %U:%G $controllermanagerconf; fi'"] },
  { id: '1.1.5', commands: ["/bin/sh -c 'if test -e $schedulerconf; then stat -c permissions=%a $schedulerconf; fi'"] },
  { id: '1.1.6', commands: ["/bin/sh -c 'if test -e $schedulerconf; then stat -c %U:%G $schedulerconf; fi'"] },
  { id: '1.1.7', commands: ["/bin/sh -c 'if test -e $etcdconf; then find $etcdconf -name '*etcd*' | xargs stat -c permissions=%a; fi'"] },
  { id: '1.1.8', commands: ["/bin/sh -c 'if test -e $etcdconf; then find $etcdconf -name '*etcd*' | xargs stat -c %U:%G; fi'"] },
  {
    id: '1.1.9',
    commands: [
      "ps -ef | grep $kubeletbin | grep -- --cni-conf-dir | sed 's%.*cni-conf-dir[= ]\\([^ ]*\\).*%\\1%' | xargs -I{} find {} -mindepth 1 | xargs --no-run-if-empty stat -c permissions=%a\nfind /var/lib/cni/networks -type f 2> /dev/null | xargs --no-run-if-empty stat -c permissions=%a",
    ],
  },
  {
    id: '1.1.10',
    commands: [
      "ps -ef | grep $kubeletbin | grep -- --cni-conf-dir | sed 's%.*cni-conf-dir[= ]\\([^ ]*\\).*%\\1%' | xargs -I{} find {} -mindepth 1 | xargs --no-run-if-empty stat -c %U:%G\nfind /var/lib/cni/networks -type f 2> /dev/null | xargs --no-run-if-empty stat -c %U:%G",
    ],
  },
  {
    id: '1.1.11',
    commands: [
      'DATA_DIR=\'\'\nfor d in $(ps -ef | grep $etcdbin | grep -- --data-dir | sed \'s%.*data-dir[= ]\\([^ ]*\\).*%\\1%\'); do\n  if test -d "$d"; then DATA_DIR="$d"; fi\ndone\nif ! test -d "$DATA_DIR"; then DATA_DIR=$etcddatadir; fi\nstat -c permissions=%a "$DATA_DIR"',
    ],
  },
  {
    id: '1.1.12',
    commands: [
      'DATA_DIR=\'\'\nfor d in $(ps -ef | grep $etcdbin | grep -- --data-dir | sed \'s%.*data-dir[= ]\\([^ ]*\\).*%\\1%\'); do\n  if test -d "$d"; then DATA_DIR="$d"; fi\ndone\nif ! test -d "$DATA_DIR"; then DATA_DIR=$etcddatadir; fi\nstat -c %U:%G "$DATA_DIR"',
    ],
  },
  {
    id: '1.1.13',
    commands: [
      'for adminconf in /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf; do if test -e $adminconf; then stat -c "permissions=%a %n" $adminconf; fi; done',
    ],
  },
  {
    id: '1.1.14',
    commands: [
      'for adminconf in /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf; do if test -e $adminconf; then stat -c "ownership=%U:%G %n" $adminconf; fi; done',
    ],
  },
  { id: '1.1.15', commands: ["/bin/sh -c 'if test -e $schedulerkubeconfig; then stat -c permissions=%a $schedulerkubeconfig; fi'"] },
  { id: '1.1.16', commands: ["/bin/sh -c 'if test -e $schedulerkubeconfig; then stat -c %U:%G $schedulerkubeconfig; fi'"] },
  { id: '1.1.17', commands: ["/bin/sh -c 'if test -e $controllermanagerkubeconfig; then stat -c permissions=%a $controllermanagerkubeconfig; fi'"] },
  { id: '1.1.18', commands: ["/bin/sh -c 'if test -e $controllermanagerkubeconfig; then stat -c %U:%G $controllermanagerkubeconfig; fi'"] },
  { id: '1.1.19', commands: ['find /etc/kubernetes/pki/ | xargs stat -c %U:%G'] },
  { id: '1.1.20', commands: ["find /etc/kubernetes/pki/ -name '*.crt' | xargs stat -c permissions=%a"] },
  { id: '1.1.21', commands: ["find /etc/kubernetes/pki/ -name '*.key' | xargs stat -c permissions=%a"] },
  { id: '1.2.1', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.2', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.3', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.4', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.5', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.6', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.7', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.8', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.9', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.10', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.11', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.12', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.13', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.14', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.15', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.16', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.17', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.18', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.19', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.20', commands: [] },
  { id: '1.2.21', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.22', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.23', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.24', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.25', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.26', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.27', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  {
    id: '1.2.28',
    commands: [
      "ENCRYPTION_PROVIDER_CONFIG=$(ps -ef | grep $apiserverbin | grep -- --encryption-provider-config | sed 's%.*encryption-provider-config[= ]\\([^ ]*\\).*%\\1%')\nif test -e $ENCRYPTION_PROVIDER_CONFIG; then grep -A1 'providers:' $ENCRYPTION_PROVIDER_CONFIG | tail -n1 | grep -o \"[A-Za-z]*\" | sed 's/^/provider=/'; fi",
    ],
  },
  { id: '1.2.29', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.2.30', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '1.3.1', commands: ['/bin/ps -ef | grep $controllermanagerbin | grep -v grep'] },
  { id: '1.3.2', commands: ['/bin/ps -ef | grep $controllermanagerbin | grep -v grep'] },
  { id: '1.3.3', commands: ['/bin/ps -ef | grep $controllermanagerbin | grep -v grep'] },
  { id: '1.3.4', commands: ['/bin/ps -ef | grep $controllermanagerbin | grep -v grep'] },
  { id: '1.3.5', commands: ['/bin/ps -ef | grep $controllermanagerbin | grep -v grep'] },
  { id: '1.3.6', commands: ['/bin/ps -ef | grep $controllermanagerbin | grep -v grep'] },
  { id: '1.3.7', commands: ['/bin/ps -ef | grep $controllermanagerbin | grep -v grep'] },
  { id: '1.4.1', commands: ['/bin/ps -ef | grep $schedulerbin | grep -v grep'] },
  { id: '1.4.2', commands: ['/bin/ps -ef | grep $schedulerbin | grep -v grep'] },
  { id: '2.1', commands: ['/bin/ps -ef | /bin/grep $etcdbin | /bin/grep -v grep'] },
  { id: '2.2', commands: ['/bin/ps -ef | /bin/grep $etcdbin | /bin/grep -v grep'] },
  { id: '2.3', commands: ['/bin/ps -ef | /bin/grep $etcdbin | /bin/grep -v grep'] },
  { id: '2.4', commands: ['/bin/ps -ef | /bin/grep $etcdbin | /bin/grep -v grep'] },
  { id: '2.5', commands: ['/bin/ps -ef | /bin/grep $etcdbin | /bin/grep -v grep'] },
  { id: '2.6', commands: ['/bin/ps -ef | /bin/grep $etcdbin | /bin/grep -v grep'] },
  { id: '2.7', commands: ['/bin/ps -ef | /bin/grep $etcdbin | /bin/grep -v grep'] },
  { id: '3.1.1', commands: [] },
  { id: '3.1.2', commands: [] },
  { id: '3.1.3', commands: [] },
  { id: '3.2.1', commands: ['/bin/ps -ef | grep $apiserverbin | grep -v grep'] },
  { id: '3.2.2', commands: [] },
  { id: '4.1.1', commands: ["/bin/sh -c 'if test -e $kubeletsvc; then stat -c permissions=%a $kubeletsvc; fi'"] },
  { id: '4.1.2', commands: ['/bin/sh -c "if test -e $kubeletsvc; then stat -c %U:%G $kubeletsvc; else echo \\"File not found\\"; fi"'] },
  { id: '4.1.3', commands: ["/bin/sh -c 'if test -e $proxykubeconfig; then stat -c permissions=%a $proxykubeconfig; fi'"] },
  { id: '4.1.4', commands: ["/bin/sh -c 'if test -e $proxykubeconfig; then stat -c %U:%G $proxykubeconfig; fi'"] },
  { id: '4.1.5', commands: ["/bin/sh -c 'if test -e $kubeletkubeconfig; then stat -c permissions=%a $kubeletkubeconfig; fi'"] },
  { id: '4.1.6', commands: ["/bin/sh -c 'if test -e $kubeletkubeconfig; then stat -c %U:%G $kubeletkubeconfig; fi'"] },
  {
    id: '4.1.7',
    commands: [
      "CAFILE=$(ps -ef | grep kubelet | grep -v apiserver | grep -- --client-ca-file= | awk -F '--client-ca-file=' '{print $2}' | awk '{print $1}' | uniq)\nif test -z $CAFILE; then CAFILE=$kubeletcafile; fi\nif test -e $CAFILE; then stat -c permissions=%a $CAFILE; fi",
    ],
  },
  {
    id: '4.1.8',
    commands: [
      "CAFILE=$(ps -ef | grep kubelet | grep -v apiserver | grep -- --client-ca-file= | awk -F '--client-ca-file=' '{print $2}' | awk '{print $1}' | uniq)\nif test -z $CAFILE; then CAFILE=$kubeletcafile; fi\nif test -e $CAFILE; then stat -c %U:%G $CAFILE; fi",
    ],
  },
  { id: '4.1.9', commands: ["/bin/sh -c 'if test -e $kubeletconf; then stat -c permissions=%a $kubeletconf; fi'"] },
  { id: '4.1.10', commands: ["/bin/sh -c 'if test -e $kubeletconf; then stat -c %U:%G $kubeletconf; fi'"] },
  { id: '4.2.1', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.2', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.3', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.4', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.5', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.6', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.7', commands: ['/bin/ps -fC $kubeletbin'] },
  { id: '4.2.8', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.9', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.10', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.11', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.12', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.13', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.2.14', commands: ['/bin/ps -fC $kubeletbin', '/bin/cat $kubeletconf'] },
  { id: '4.3.1', commands: ['/bin/ps -fC $proxybin', "/bin/sh -c 'if test -e $proxykubeconfig; then cat $proxykubeconfig; fi'"] },
];
