import { expect } from 'chai';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import type { Terminal } from '../../agent/cli/report-facts.js';
import { REPO, cleanupTempDirs, copyFixture, testCli } from '../helpers/host.js';

/**
 * Golden files of the terminal audit. After an intended change to the table (or to a rule's texts),
 * regenerate them and review the diff:
 *   npx tsc -p tsconfig.json && KUBE_HARDEN_UPDATE_GOLDEN=1 npx mocha --no-config dist/test/integration/audit-table.test.js
 */
const GOLDEN_DIR = path.join(REPO, 'test/fixtures/reports');
const UPDATE = process.env.KUBE_HARDEN_UPDATE_GOLDEN === '1';

async function audit(
  args: string[],
  options: { env?: Record<string, string>; terminal?: Terminal; fixture?: string; prepare?: (root: string) => void } = {},
) {
  const root = copyFixture(options.fixture ?? 'kubeadm-worker');
  options.prepare?.(root);
  const harness = testCli({ env: { NODE_NAME: 'worker-7', ...options.env }, ...(options.terminal ? { terminal: options.terminal } : {}) });
  const code = await runCli(['audit', ...args, '--host-root', root], harness.deps);
  return { code, out: harness.stdout(), err: harness.err.join('') };
}

function golden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (UPDATE || !existsSync(file)) {
    if (!UPDATE) throw new Error(`golden file ${file} is missing: run with KUBE_HARDEN_UPDATE_GOLDEN=1 to create it`);
    writeFileSync(file, actual);
    return;
  }
  expect(actual).to.equal(readFileSync(file, 'utf8'));
}

/** Lines of a status row: they start with the status word. */
function rows(out: string): string[] {
  return out.split('\n').filter((line) => /^(FAIL|UNKNOWN|PASS|SKIP) /.test(line));
}

const FAILING = [
  'kubelet.address',
  'kubelet.tls-min-version',
  'kubelet.tls-cipher-suites',
  'kubelet.pod-pids-limit',
  'kubelet.protect-kernel-defaults',
  'kubelet.streaming-connection-idle-timeout',
  'kubelet.read-only-port',
  'kubelet.config-file-permissions',
  'kubelet.service-file-permissions',
  'sysctl.kubelet-kernel-defaults',
];

describe('audit table: a sectioned terminal report', () => {
  after(cleanupTempDirs);

  for (const [name, terminal] of [
    ['80', undefined],
    ['160', { isTTY: true, columns: 160 }],
  ] as const)
    it(`kubeadm worker at ${name} columns: matches test/fixtures/reports/kubeadm-worker-${name}.txt, no line wider, never glued`, async () => {
      const { code, out } = await audit([], { env: { NO_COLOR: '1' }, ...(terminal ? { terminal } : {}) });
      expect(code).to.equal(1);
      golden(`kubeadm-worker-${name}.txt`, out);
      const width = Number(name);
      expect(out.split('\n').filter((line) => line.length > width)).to.deep.equal([]);
      // Each rule id stands alone: followed by two spaces or the end of its line, never by its value.
      for (const line of rows(out)) expect(line).to.match(/^(FAIL|UNKNOWN|PASS|SKIP) +[a-z0-9.-]+( {2,}\S.*)?$/);
    });

  it('the excerpt in docs/operations.md is the real 80-column table (its lines, in order)', () => {
    const docs = readFileSync(path.join(REPO, 'docs/operations.md'), 'utf8');
    const excerpt = /## Reading the audit[\s\S]*?```text\n([\s\S]*?)```/
      .exec(docs)![1]!
      .split('\n')
      .filter((line) => line !== '' && line !== '...');
    const table = readFileSync(path.join(GOLDEN_DIR, 'kubeadm-worker-80.txt'), 'utf8').split('\n');
    let at = 0;
    for (const line of excerpt) {
      const found = table.indexOf(line, at);
      expect(found, `docs line not in the table (in order): ${line}`).to.be.above(-1);
      at = found + 1;
    }
  });

  it('the summary, then the failures: the first rule rows on screen are the failures, all within 80 columns', async () => {
    const { out } = await audit([]);
    const lines = out.split('\n');
    expect(lines[0]).to.equal('Node worker-7: kubeadm worker, kubelet v1.31.4, node IP 10.0.12.7');
    expect(lines[2]).to.equal('Result: 10 fail, 0 unknown, 9 pass, 60 skip (skip: not applicable here)');
    const statuses = rows(out).map((line) => line.split(' ')[0]);
    // The first section (kubelet, 9 failures) opens with its failures; its passes follow them.
    expect(statuses.slice(0, 9)).to.deep.equal(Array(9).fill('FAIL'));
    expect(lines.findIndex((line) => line.startsWith('FAIL'))).to.be.below(8);
    const table = out.slice(0, out.indexOf('== Remediations'));
    for (const id of FAILING) expect(table).to.match(new RegExp(`^FAIL +${id.replace(/\./g, '\\.')}( |$)`, 'm'));
    expect(out).to.match(/\nResult: 10 fail, 0 unknown, 9 pass, 60 skip\n$/);
  });

  it('rules that do not apply collapse into one line per section, with the reason; --all lists every rule', async () => {
    const { out } = await audit([]);
    expect(rows(out).filter((line) => line.startsWith('SKIP'))).to.deep.equal([]);
    expect(out).to.contain('== Not applicable to this node (--all lists each rule)\n');
    expect(out).to.match(
      /\ncontrol plane +35 rules: no kube-apiserver, kube-controller-manager\n +or kube-scheduler on this node; not a control-plane\n +node\n/,
    );
    expect(out).to.match(/\nkube-proxy +4 rules: kube-proxy reads ConfigMap\n? +kube-system\/kube-proxy/);
    expect(out).not.to.contain('/var/snap/k8s/common/args/kube-proxy');

    const everything = await audit(['--all']);
    const table = everything.out.slice(0, everything.out.indexOf('== Remediations'));
    expect(rows(table)).to.have.length(79);
    expect(rows(table).filter((line) => line.startsWith('SKIP'))).to.have.length(60);
    expect(everything.out).not.to.contain('Not applicable to this node');
    expect(everything.out).to.match(/^SKIP +apiserver\.service-account-extend-token-expiration\n/m);
  });

  it('--only failing: only fail and unknown rows, the remediations, and the counts of every rule', async () => {
    const { code, out } = await audit(['--only', 'failing']);
    expect(code).to.equal(1);
    expect(rows(out.slice(0, out.indexOf('== Remediations'))).map((line) => line.split(' ')[0])).to.deep.equal(Array(10).fill('FAIL'));
    expect(out).not.to.contain('Not applicable');
    expect(out).to.contain('Result: 10 fail, 0 unknown, 9 pass, 60 skip');
    expect(out).to.contain('== Remediations');
  });

  it('remediations: what apply would write per failing rule (from the plan), rules sharing a fix grouped', async () => {
    const { out } = await audit([]);
    const fixes = out.slice(out.indexOf('== Remediations'));
    expect(fixes).to.contain('FAIL     kubelet.tls-min-version\nFAIL     kubelet.read-only-port\n         edit /etc/default/kubelet (-1 +1 lines)\n');
    expect(fixes).to.contain('         chmod /var/lib/kubelet/config.yaml 0644 -> 0600\n');
    expect(fixes).to.contain('         set vm.overcommit_memory live 0 -> 1\n');
    expect(fixes).to.contain('         then restart kubelet\n');
  });

  it('a held-back failure says why apply leaves it', async () => {
    // No kubelet binary and none running: the version is unknown, apply changes no kubelet setting, and the remediations say so.
    const { out } = await audit([], { prepare: (root) => rmSync(path.join(root, 'usr/bin/kubelet')) });
    expect(out.slice(out.indexOf('== Remediations'))).to.contain(
      'FAIL     kubelet.read-only-port\n         held back: kubelet version unknown: pass --kubelet-version or make the\n',
    );
  });

  it('colour only on a terminal, and never with NO_COLOR (non-empty) set', async () => {
    const tty = { isTTY: true, columns: 100 };
    const coloured = await audit([], { terminal: tty });
    expect(coloured.out).to.contain('\u001b[1;31mFAIL');
    expect(coloured.out).to.contain('\u001b[32mPASS');
    expect((await audit([], { terminal: tty, env: { NO_COLOR: '1' } })).out).not.to.contain('\u001b[');
    // no-color.org: an empty NO_COLOR does not disable colour.
    expect((await audit([], { terminal: tty, env: { NO_COLOR: '' } })).out).to.contain('\u001b[');
    expect((await audit([], { terminal: { isTTY: false, columns: 100 } })).out).not.to.contain('\u001b[');
    expect((await audit([])).out).not.to.contain('\u001b[');
  });

  it('a wide terminal uses its width; colour codes do not count against it', async () => {
    const { out } = await audit([], { terminal: { isTTY: true, columns: 160 } });
    // eslint-disable-next-line no-control-regex
    const plain = out.replace(/\u001b\[[0-9;]*m/g, '');
    expect(Math.max(...plain.split('\n').map((line) => line.length))).to.be.within(100, 160);
  });

  it('bad combinations are usage errors (exit 2), and json/junit keep every rule', async () => {
    for (const args of [
      ['--only', 'passing'],
      ['--all', '--output', 'json'],
      ['--only', 'failing', '--output', 'junit'],
      ['--all', '--only', 'failing'],
    ]) {
      const { code, err } = await audit(args);
      expect(code, args.join(' ')).to.equal(2);
      expect(err).to.match(/^kube-harden audit: --/);
    }
    const json = JSON.parse((await audit(['--output', 'json'])).out) as { results: unknown[] };
    expect(json.results).to.have.length(79);
  });
});
