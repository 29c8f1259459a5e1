import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, statSync } from 'node:fs';
import path from 'node:path';
import { MAIN } from '../helpers/agent.js';
import { cleanupTempDirs, copyFixture, fixturePath, snapshotTree } from '../helpers/host.js';
import { TEST_PLUGIN_DIR, requirePrerequisites, staticPluginMissing } from '../helpers/prerequisites.js';

/** How many killed applies (the issue asks for at least 200) and how many run at once. */
const RUNS = Number(process.env.KUBE_HARDEN_CRASH_RUNS ?? 200);
const PARALLEL = 2;
const ENV = { PATH: process.env.PATH ?? '', KUBE_HARDEN_PLUGIN_DIR: TEST_PLUGIN_DIR };

/** A control-plane node with a CNI: kubelet, sysctl, static pod, admission/audit config, CNI chain and plugin changes. */
function host(): string {
  const root = copyFixture('kubeadm-control-plane');
  cpSync(fixturePath('cni-flannel'), root, { recursive: true });
  return root;
}

function cli(root: string, args: readonly string[]) {
  return spawnSync(process.execPath, [MAIN, ...args, '--host-root', root], { env: ENV, encoding: 'utf8', timeout: 30_000 });
}

/** `file MODE UID:GID BASE64` or `dir MODE` → its parts (a directory's "content" is just that it is one). */
function parts(entry: string | undefined): { content: string; mode: string } | null {
  if (entry?.startsWith('dir ')) return { mode: entry.split(' ')[1]!, content: 'dir' };
  if (!entry?.startsWith('file ')) return null;
  const [, mode, , content] = entry.split(' ');
  return { mode: mode!, content: content ?? '' };
}

/** Runs `apply` and SIGKILLs it after `delayMs` (or lets it finish first). */
function killedApply(root: string, delayMs: number): Promise<'killed' | 'finished'> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [MAIN, 'apply', '--no-restart', '--host-root', root], { env: ENV, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      resolve(signal === 'SIGKILL' ? 'killed' : 'finished');
    });
  });
}

// Live sysctls are written in place under /proc/sys (procfs has no rename, and a real procfs write is one
// syscall); in a fixture tree they are plain files, so they are left out of the byte-for-byte claim.
const IN_PLACE = /^proc\//;

describe('crash consistency: apply killed at random moments', function () {
  this.timeout(600_000);
  before(function () {
    requirePrerequisites(this, staticPluginMissing(), 'npm run build:plugin (root)');
  });
  after(cleanupTempDirs);

  it(`${RUNS} SIGKILLed applies leave every managed file old or new, never partial; the next run converges and rollback restores the node`, async () => {
    const pristine = host();
    const before = snapshotTree(pristine);
    const complete = host();
    expect([0, 1]).to.include(cli(complete, ['apply', '--no-restart']).status);
    const after = snapshotTree(complete);
    const verdicts = (root: string) =>
      (JSON.parse(cli(root, ['audit', '--output', 'json']).stdout) as { results: { id: string; status: string }[] }).results.map(
        (r) => `${r.id}=${r.status}`,
      );
    const hardened = verdicts(complete);
    const managed = [...new Set([...before.keys(), ...after.keys()])].filter((rel) => before.get(rel) !== after.get(rel) && !IN_PLACE.test(rel));
    expect(managed.length).to.be.greaterThan(10);

    // Calibrate under the same load: when do the writes of a complete apply happen after its start?
    const calibration = await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        const root = host();
        const started = Date.now();
        await killedApply(root, 60_000);
        const times = managed.map((rel) => statSync(path.join(root, rel), { throwIfNoEntry: false })?.mtimeMs ?? 0).filter((time) => time >= started);
        return { first: Math.min(...times) - started, last: Math.max(...times) - started };
      }),
    );
    const from = Math.max(0, Math.min(...calibration.map((entry) => entry.first)) - 50);
    const to = Math.max(...calibration.map((entry) => entry.last)) + 50;

    const outcome = { before: 0, mid: 0, after: 0, finished: 0 };
    const problems: string[] = [];
    let next = 0;
    const worker = async () => {
      for (let run = next++; run < RUNS; run = next++) {
        const root = host();
        // Kills spread over the window in which a complete apply writes (calibrated above).
        const how = await killedApply(root, from + Math.floor(Math.random() * (to - from)));
        const now = snapshotTree(root);
        let changed = 0;
        for (const rel of managed) {
          const state = parts(now.get(rel));
          const old = parts(before.get(rel));
          const done = parts(after.get(rel));
          if (state === null) {
            if (now.has(rel) || old !== null) problems.push(`run ${run}: ${rel} is ${now.get(rel)?.split(' ')[0] ?? 'missing'}`);
            continue;
          }
          if (state.content !== old?.content && state.content !== done?.content)
            problems.push(`run ${run}: ${rel} holds neither its old nor its new content`);
          if (state.mode !== old?.mode && state.mode !== done?.mode) problems.push(`run ${run}: ${rel} has mode ${state.mode}`);
          if ((state.content !== old?.content || state.mode !== old?.mode) && state.content === done?.content && state.mode === done?.mode) changed++;
        }
        // Nothing new that a component would read: only the agent's state and dot-prefixed temp files.
        for (const rel of now.keys())
          if (
            !before.has(rel) &&
            !after.has(rel) &&
            !rel.startsWith('var/lib/kube-harden') &&
            !/(^|\/)\.[^/]+\.kube-harden-[0-9a-f]+\.tmp$/.test(rel)
          )
            problems.push(`run ${run}: unexpected ${rel}`);
        if (how === 'finished') outcome.finished++;
        else if (changed === 0) outcome.before++;
        else if (changed === managed.length) outcome.after++;
        else outcome.mid++;

        if (run % 10 === 0) {
          // The next run converges: the one after it changes nothing (--no-restart leaves the static pod
          // manifests alone, so `plan`, which plans them, is not the measure here)...
          expect([0, 1]).to.include(cli(root, ['apply', '--no-restart']).status);
          const again = cli(root, ['apply', '--no-restart', '--output', 'json']);
          if ((JSON.parse(again.stdout) as { changes: unknown[] }).changes.length !== 0)
            problems.push(`run ${run}: not converged after one more apply`);
          // The bytes may differ from an uninterrupted apply (a flag removed first can leave config.yaml's
          // default in force, which passes), but every rule must end with the same verdict.
          const converged = verdicts(root);
          if (converged.join() !== hardened.join())
            problems.push(`run ${run}: verdicts after converging differ: ${converged.filter((v) => !hardened.includes(v)).join(', ')}`);
          // ...and rolling back every apply, the interrupted one included, gives the original node back.
          const list = cli(root, ['rollback', '--list']).stdout.trim().split('\n');
          const first = list[0]!.split(' ')[0]!;
          const rollback = cli(root, ['rollback', '--no-restart', '--to', first]);
          if (rollback.status !== 0) problems.push(`run ${run}: rollback exited ${rollback.status}: ${rollback.stderr}`);
          const restored = snapshotTree(root);
          for (const rel of managed)
            if (restored.get(rel) !== before.get(rel) && !(restored.get(rel) === undefined && before.get(rel) === undefined))
              problems.push(`run ${run}: ${rel} not restored by rollback`);
        }
      }
    };
    await Promise.all(Array.from({ length: PARALLEL }, worker));
    console.log(
      `      writes happen ${from + 50}-${to - 50} ms after start; ${RUNS} runs: killed before the first change ${outcome.before}, mid-apply ${outcome.mid}, after the last change ${outcome.after}; finished ${outcome.finished}`,
    );
    expect(problems.slice(0, 20)).to.deep.equal([]);
    // The harness must actually hit applies half-way, or it proves nothing.
    expect(outcome.mid).to.be.greaterThan(RUNS / 5);
  });
});
