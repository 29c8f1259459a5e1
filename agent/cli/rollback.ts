import { restartAndWait, waitHealthy } from '../node/executor.js';
import { isStaticPodService } from '../rules/control-plane/components.js';
import { BackupStore, type Journal } from '../host/backups.js';
import { HostFs } from '../host/host-fs.js';
import { HostRoot } from '../host/host-root.js';
import { EXIT, InputError, UsageError, commonOptions, parseCommand } from './common.js';
import type { Command } from './command.js';
import { ENCRYPTION_RULE } from '../rules/control-plane/encryption-key.js';

/** The default health timeout (rollback runs without a policy: it must work when the policy is broken). */
const ROLLBACK_HEALTH_TIMEOUT_MS = 120_000;

function describe(journal: Journal): string {
  const files = new Set(journal.entries.map((entry) => (entry.type === 'sysctl' ? entry.key : entry.path)));
  return `${journal.id}  ${journal.state.padEnd(12)}${journal.createdAt}  ${files.size} item(s)  rules: ${journal.rules.join(', ') || '-'}`;
}

/**
 * Why an apply that turned on (or rotated) encryption at rest is not undone without being asked: the API
 * server has been writing Secrets with that key since, and the configuration restored would not hold it.
 */
function encryptionRefusal(journals: readonly Journal[]): string | null {
  const ids = journals.filter((journal) => journal.rules.includes(ENCRYPTION_RULE)).map((journal) => journal.id);
  if (ids.length === 0) return null;
  return (
    `${ids.join(', ')} changed encryption at rest (${ENCRYPTION_RULE}): Secrets the API server wrote since are encrypted ` +
    'with its key, and undoing it leaves them unreadable. Nothing was restored. Roll forward instead (fix what is wrong ' +
    'and apply), or pass --allow-encryption-rollback if the API server has written no Secret since (it never came up)'
  );
}

export const rollbackCommand: Command = {
  name: 'rollback',
  help: `Usage: kube-harden rollback [--host-root DIR] [--list | --to ID] [--no-restart] [--allow-encryption-rollback]

Without options, undoes the most recent apply that was not already rolled back. Every file is restored
byte for byte with its mode and owner, files the apply created are removed, and live sysctl values are
written back. Then the services that apply changed are restarted and must become healthy (unless
--no-restart); a static pod is not restarted (the kubelet recreates it from the restored manifest):
rollback waits for its health endpoint.

  --list                 list the backups (newest last) and exit
  --to ID                undo every apply from ID onwards, newest first: the node returns to its state
                         before apply ID
  --no-restart           restore files only; restart the services yourself (a restored static pod
                         manifest is reloaded by the kubelet at once; rollback does not wait for it)
  --allow-encryption-rollback
                         also undo an apply that changed encryption at rest. Without it such an apply is
                         refused: Secrets written with its key since would become unreadable

Backups live in <host-root>/var/lib/kube-harden/backups/ and are pruned by the policy's backups.retain.
An apply that was killed half-way (state in-progress in --list) is undone like any other.

Exit codes: 0 restored; 1 a restore or restart failed; 2 bad invocation, no such backup, or an
encryption change refused.`,
  async run(argv, deps) {
    const { values } = parseCommand(argv, {
      list: { type: 'boolean' },
      to: { type: 'string' },
      'no-restart': { type: 'boolean' },
      'allow-encryption-rollback': { type: 'boolean' },
    });
    if (values.help) {
      deps.stdout(`${this.help}\n`);
      return EXIT.ok;
    }
    if (values.list && values.to) throw new UsageError('--list and --to cannot be combined');
    const common = commonOptions(values, deps.env);
    let root: HostRoot;
    try {
      root = await HostRoot.open(common.hostRoot);
    } catch {
      throw new InputError(`--host-root ${common.hostRoot} cannot be opened`);
    }
    const backups = new BackupStore(new HostFs(root), deps.now);
    const journals = await backups.list();
    if (values.list) {
      deps.stdout(journals.length === 0 ? 'no backups\n' : `${journals.map(describe).join('\n')}\n`);
      return EXIT.ok;
    }
    // An apply killed half-way stays "in-progress": its journal lists each step before the step was
    // taken, so undoing it restores what it touched (a step never taken is restored to what it was).
    const undoable = journals.filter((journal) => journal.state !== 'rolled-back');
    let targets: Journal[];
    if (values.to) {
      if (!journals.some((journal) => journal.id === values.to)) throw new InputError(`no backup with id ${values.to} (see --list)`);
      const from = journals.find((journal) => journal.id === values.to)!.sequence;
      targets = undoable.filter((journal) => journal.sequence >= from).reverse();
    } else targets = undoable.slice(-1);
    if (targets.length === 0) throw new InputError('nothing to roll back (no apply backups left, see --list)');
    const refusal = values['allow-encryption-rollback'] ? null : encryptionRefusal(targets);
    if (refusal) throw new InputError(refusal);

    let ok = true;
    const services = new Set<string>();
    for (const journal of targets) {
      try {
        const restored = await backups.restore(journal);
        journal.state = 'rolled-back';
        await backups.save(journal);
        journal.services.forEach((service) => services.add(service));
        deps.stdout(`rolled back ${journal.id}: ${restored.length} item(s) restored\n`);
      } catch (error) {
        ok = false;
        deps.stderr(`rollback of ${journal.id} failed: ${error instanceof Error ? error.message : String(error)}\n`);
        break;
      }
    }
    const manager = deps.services(common.hostRoot);
    for (const service of services) {
      // A static pod has no unit to restart: the kubelet recreated it when its manifest was put back.
      const reloaded = isStaticPodService(service);
      if (values['no-restart']) {
        deps.stdout(
          reloaded
            ? `reload ${service}: done by the kubelet when its manifest was restored (not waited for: --no-restart)\n`
            : `restart ${service}: pending (--no-restart)\n`,
        );
        continue;
      }
      const problem = reloaded
        ? await waitHealthy(deps.health(service), service, ROLLBACK_HEALTH_TIMEOUT_MS)
        : await restartAndWait({ services: manager, health: (name) => deps.health(name) }, service, ROLLBACK_HEALTH_TIMEOUT_MS);
      deps.stdout(`${reloaded ? 'reload' : 'restart'} ${service}: ${problem === null ? 'healthy' : `NOT healthy: ${problem}`}\n`);
      ok &&= problem === null;
    }
    return ok ? EXIT.ok : EXIT.findings;
  },
};
