import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { RULES } from '../../../agent/rules/index.js';
import { kubeBenchCommands } from '../../../scripts/bench/kube-bench-baseline.js';
import { KUBE_BENCH_CIS_1_12 } from '../../../scripts/bench/kube-bench-checks.js';
import { cleanupTempDirs, copyFixture } from '../../helpers/host.js';

/**
 * kube-bench's variables that the CIS 1.12 checks use (cfg/config.yaml): none may reach the shell unset.
 * (`$adminconf` in 1.1.13 is the check's own loop variable.)
 */
const KUBE_BENCH_VARIABLES =
  /\$(?:apiserverbin|controllermanagerbin|schedulerbin|etcdbin|kubeletbin|proxybin|apiserverconf|controllermanagerconf|schedulerconf|etcdconf|controllermanagerkubeconfig|schedulerkubeconfig|etcddatadir|kubeletconf|kubeletsvc|kubeletkubeconfig|kubeletcafile|proxykubeconfig)\b/;

const run = (command: string) => spawnSync('/bin/sh', [], { input: command, encoding: 'utf8' }).stdout;

describe("bench: the shell baseline is kube-bench's commands for the checks the audit judges", () => {
  after(cleanupTempDirs);
  const judged = new Set(RULES.flatMap((rule) => rule.meta.cis));

  it('every CIS check the audit judges has its kube-bench entry, so none is left out of the baseline', () => {
    const known = new Set(KUBE_BENCH_CIS_1_12.map((check) => check.id));
    expect([...judged].filter((id) => !known.has(id))).to.deep.equal([]);
    expect(KUBE_BENCH_CIS_1_12.filter((check) => judged.has(check.id) && check.commands.length === 0)).to.deep.equal([]);
  });

  it("every path and process name is set: kube-bench's variables, and its hard-coded paths moved under the host root", () => {
    const root = copyFixture('kubeadm-control-plane');
    const commands = kubeBenchCommands(root, judged);
    expect(commands.filter((command) => KUBE_BENCH_VARIABLES.test(command))).to.deep.equal([]);
    expect(commands.filter((command) => / \/etc\/kubernetes\//.test(command))).to.deep.equal([]);
    expect(commands.filter((command) => command.includes(`${root}${root}`))).to.deep.equal([]);
  });

  it("reads the fixture's files: the commands of 1.1.1, 1.1.13 and 4.2.1 print what the files hold", () => {
    const root = copyFixture('kubeadm-control-plane');
    const [apiserverMode] = kubeBenchCommands(root, new Set(['1.1.1']));
    const mode = (statSync(path.join(root, 'etc/kubernetes/manifests/kube-apiserver.yaml')).mode & 0o777).toString(8);
    expect(run(apiserverMode!)).to.equal(`permissions=${mode}\n`);
    const [admin] = kubeBenchCommands(root, new Set(['1.1.13']));
    expect(run(admin!)).to.include(`${root}/etc/kubernetes/admin.conf`);
    const [processes, config] = kubeBenchCommands(root, new Set(['4.2.1']));
    expect(processes).to.equal('/bin/ps -fC kubelet');
    expect(run(config!)).to.include('kind: KubeletConfiguration');
  });
});
