import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { runCli } from '../../agent/cli/index.js';
import type { Logger } from '../../agent/telemetry/logger.js';
import { FakeHealthProbe } from '../fakes/fake-health.js';
import { cleanupTempDirs, copyFixture, read, testCli, type TestCli } from '../helpers/host.js';
import { writePolicyFile } from '../helpers/policy.js';

const KEY_FILE = '/etc/kubernetes/keys/encryption.key';
const CONFIG = '/etc/kubernetes/enc/encryption-config.yaml';
const MANIFEST = 'etc/kubernetes/manifests/kube-apiserver.yaml';

type Pod = {
  metadata: { annotations?: Record<string, string> };
  spec: {
    containers: Array<{ command: string[]; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
    volumes: Array<{ name: string; hostPath: { path: string; type: string } }>;
  };
};

type Providers = { resources: Array<{ resources: string[]; providers: Array<Record<string, { keys?: Array<{ name: string; secret: string }> }>> }> };

/** Providers for secrets as `type:secret` (identity bare), in order: what the API server will use. */
function providers(text: string): string[] {
  const entry = (parse(text) as Providers).resources.find((candidate) => candidate.resources.includes('secrets'))!;
  return entry.providers.flatMap((provider) => {
    const [type, body] = Object.entries(provider)[0]!;
    return body.keys ? body.keys.map((key) => `${type}:${key.secret}`) : [type];
  });
}

/** A logger that keeps every line it is given, message and metadata, as the JSON logger would write them. */
function recordingLogger(lines: string[]): Logger {
  const record =
    (level: string) =>
    (message: unknown, meta?: unknown): Logger => {
      lines.push(JSON.stringify({ level, message, meta }));
      return logger;
    };
  const logger = { error: record('error'), warn: record('warn'), info: record('info'), debug: record('debug') } as unknown as Logger;
  return logger;
}

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  readonly harness: TestCli;
}

async function cli(args: string[], root: string, logs: string[], health = new FakeHealthProbe([true])): Promise<Run> {
  const harness = testCli({ health });
  const code = await runCli([...args, '--host-root', root], { ...harness.deps, logger: recordingLogger(logs) });
  return { code, out: harness.stdout(), err: harness.err.join(''), harness };
}

function writeKey(root: string, secret: string, mode = 0o600): void {
  mkdirSync(path.join(root, path.dirname(KEY_FILE)), { recursive: true });
  writeFileSync(path.join(root, KEY_FILE), `${secret}\n`);
  chmodSync(path.join(root, KEY_FILE), mode);
}

function policy(extra = ''): string {
  return writePolicyFile(['rules:', `  apiserver.encryption-at-rest: { value: { keyFile: ${KEY_FILE}${extra} } }`]);
}

function mode(root: string, hostPath: string): number {
  return statSync(path.join(root, hostPath)).mode & 0o777;
}

describe('encryption at rest from a key file the policy names (kubeadm)', () => {
  after(cleanupTempDirs);

  it('writes the configuration 0600 and the manifest flag and mount, waits for the API server, and no output or log holds the key', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const secret = randomBytes(32).toString('base64');
    writeKey(root, secret);
    const file = policy();
    const logs: string[] = [];
    const outputs: string[] = [];
    const keep = (run: Run) => {
      outputs.push(run.out, run.err);
      return run;
    };

    const diff = keep(await cli(['plan', '--policy', file], root, logs)).out;
    expect(diff).to.contain(`# write ${CONFIG} (apiserver.encryption-at-rest)`).and.contain('secret: <redacted>');
    const plan = JSON.parse(keep(await cli(['plan', '--policy', file, '--output', 'json'], root, logs)).out) as { changes: Array<{ path: string }> };
    expect(plan.changes.map((change) => change.path)).to.include(CONFIG);

    // The HTML report shows the fix it would make: the diff, redacted too.
    const html = keep(await cli(['audit', '--policy', file, '--output', 'html'], root, logs)).out;
    expect(html).to.contain(CONFIG).and.contain('secret: &#60;redacted&#62;');
    const health = new FakeHealthProbe([true]);
    const applied = keep(await cli(['apply', '--policy', file, '--output', 'json'], root, logs, health));
    const result = JSON.parse(applied.out) as {
      changes: Array<{ path: string; result: string }>;
      restarts: Array<{ service: string; result: string }>;
    };
    expect(result.changes.find((change) => change.path === CONFIG)!.result).to.equal('applied');
    expect(result.restarts.find((restart) => restart.service === 'static-pod/kube-apiserver')!.result).to.equal('restarted');
    expect(applied.err).to.match(/waiting for static-pod\/kube-apiserver/);

    expect(mode(root, CONFIG)).to.equal(0o600);
    expect(providers(read(root, CONFIG))).to.deep.equal([`secretbox:${secret}`, 'identity']);
    const pod = parse(read(root, MANIFEST)) as Pod;
    expect(pod.spec.containers[0]!.command).to.include(`--encryption-provider-config=${CONFIG}`);
    expect(pod.spec.containers[0]!.volumeMounts).to.deep.include({
      mountPath: '/etc/kubernetes/enc',
      name: 'kube-harden-encryption-config',
      readOnly: true,
    });
    expect(pod.spec.volumes).to.deep.include({
      hostPath: { path: '/etc/kubernetes/enc', type: 'DirectoryOrCreate' },
      name: 'kube-harden-encryption-config',
    });
    expect(read(root, MANIFEST)).to.not.contain(secret);

    // A second run changes nothing, and says so without the key either.
    const again = keep(await cli(['apply', '--policy', file], root, logs));
    expect(again.out).to.contain('(nothing to change)');
    keep(await cli(['audit', '--policy', file], root, logs));
    const audit = JSON.parse(keep(await cli(['audit', '--policy', file, '--output', 'json'], root, logs)).out) as {
      results: Array<{ id: string; status: string }>;
    };
    expect(audit.results.find((finding) => finding.id === 'apiserver.encryption-at-rest')!.status).to.equal('pass');
    keep(await cli(['audit', '--policy', file, '--output', 'html'], root, logs));
    const list = keep(await cli(['rollback', '--list'], root, logs)).out;
    expect(list).to.contain('apiserver.encryption-at-rest');
    // The journal names the created file but keeps no copy of it.
    const backups = path.join(root, 'var/lib/kube-harden/backups');
    for (const dir of readdirSync(backups))
      for (const entry of readdirSync(path.join(backups, dir))) expect(readFileSync(path.join(backups, dir, entry), 'utf8')).to.not.contain(secret);

    expect(logs.length).to.be.greaterThan(0);
    for (const text of [...outputs, ...logs]) expect(text).to.not.contain(secret);
  });

  it('rollback refuses to undo an encryption change unless asked (Secrets written with the key would become unreadable)', async () => {
    const root = copyFixture('kubeadm-control-plane');
    writeKey(root, randomBytes(32).toString('base64'));
    const original = read(root, MANIFEST);
    const logs: string[] = [];
    await cli(['apply', '--policy', policy()], root, logs);
    expect(existsSync(path.join(root, CONFIG)), 'apply wrote the configuration').to.equal(true);
    const hardened = read(root, MANIFEST);
    const config = read(root, CONFIG);
    const id = /^(\S+)/.exec((await cli(['rollback', '--list'], root, logs)).out.trim().split('\n').at(-1)!)![1]!;
    for (const args of [['rollback'], ['rollback', '--to', id]]) {
      const refused = await cli(args, root, logs);
      expect(refused.code, args.join(' ')).to.equal(2);
      expect(refused.err)
        .to.contain(id)
        .and.contain('apiserver.encryption-at-rest')
        .and.contain('unreadable')
        .and.contain('--allow-encryption-rollback');
      expect(refused.err).to.not.contain('    at '); // a refusal, not a stack trace
      // Nothing was restored: the manifest and the configuration are as apply left them.
      expect(read(root, MANIFEST)).to.equal(hardened);
      expect(read(root, CONFIG)).to.equal(config);
    }
    const allowed = await cli(['rollback', '--allow-encryption-rollback', '--no-restart'], root, logs);
    expect(allowed.code, allowed.err).to.equal(0);
    expect(read(root, MANIFEST)).to.equal(original);
    expect(existsSync(path.join(root, CONFIG))).to.equal(false);
  });

  it('restores the manifest and removes the configuration when the API server does not come back', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const logs: string[] = [];
    // Everything else first, so the encryption change is the only one left.
    await cli(['apply'], root, logs);
    const before = read(root, MANIFEST);
    const secret = randomBytes(32).toString('base64');
    writeKey(root, secret);
    const file = policy(', provider: aescbc');
    const run = await cli(['apply', '--policy', file, '--output', 'json'], root, logs, new FakeHealthProbe([false, true]));
    expect(run.code).to.equal(1);
    const result = JSON.parse(run.out) as { changes: Array<{ path: string; result: string }>; restarts: Array<{ service: string; result: string }> };
    expect(result.restarts.find((restart) => restart.service === 'static-pod/kube-apiserver')!.result).to.equal('rolled-back');
    expect(
      result.changes.every((change) => change.result === 'rolled-back'),
      run.out,
    ).to.equal(true);
    expect(read(root, MANIFEST)).to.equal(before);
    expect(existsSync(path.join(root, CONFIG))).to.equal(false);
    expect(run.out + run.err + logs.join('\n')).to.not.contain(secret);
  });

  it('a missing or malformed key file: nothing is written for it, and the reason names the file', async () => {
    const root = copyFixture('kubeadm-control-plane');
    const logs: string[] = [];
    const file = policy();
    const missing = JSON.parse((await cli(['apply', '--policy', file, '--output', 'json'], root, logs)).out) as {
      blocked: Array<{ id: string; reason: string }>;
    };
    expect(missing.blocked.find((blocked) => blocked.id === 'apiserver.encryption-at-rest')!.reason).to.contain(
      `key file ${KEY_FILE} does not exist`,
    );
    expect(existsSync(path.join(root, 'etc/kubernetes/enc'))).to.equal(false);
    expect(read(root, MANIFEST)).to.not.contain('encryption-provider-config');

    const short = randomBytes(24).toString('base64');
    writeKey(root, short);
    const malformed = await cli(['apply', '--policy', file, '--output', 'json'], root, logs);
    const reason = (JSON.parse(malformed.out) as { blocked: Array<{ id: string; reason: string }> }).blocked.find(
      (blocked) => blocked.id === 'apiserver.encryption-at-rest',
    )!.reason;
    expect(reason).to.contain(`key file ${KEY_FILE} decodes to 24 bytes, not 32`);
    expect(existsSync(path.join(root, 'etc/kubernetes/enc'))).to.equal(false);
    expect(malformed.out + malformed.err + logs.join('\n')).to.not.contain(short);
  });

  it("weakened 1.33 control plane with identity first: the key goes first in the operator's file, every key kept across a rotation", async () => {
    const root = copyFixture('kubeadm-control-plane-weak-1.33');
    const own = '/etc/kubernetes/encryption/config.yaml';
    const old = randomBytes(32).toString('base64');
    mkdirSync(path.join(root, path.dirname(own)), { recursive: true });
    writeFileSync(
      path.join(root, own),
      `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources:\n  - secrets\n  providers:\n  - identity: {}\n  - aescbc:\n      keys:\n      - name: key-1\n        secret: ${old}\n`,
    );
    chmodSync(path.join(root, own), 0o644);
    writeFileSync(
      path.join(root, MANIFEST),
      read(root, MANIFEST)
        .replace('    - --allow-privileged=true\n', `    - --allow-privileged=true\n    - --encryption-provider-config=${own}\n`)
        .replace('    volumeMounts:\n', `    volumeMounts:\n    - mountPath: ${own}\n      name: encryption-config\n      readOnly: true\n`)
        .replace('  volumes:\n', `  volumes:\n  - hostPath:\n      path: ${own}\n      type: File\n    name: encryption-config\n`),
    );
    const logs: string[] = [];
    const first = randomBytes(32).toString('base64');
    writeKey(root, first);
    const file = policy();
    const before = JSON.parse((await cli(['audit', '--policy', file, '--output', 'json'], root, logs)).out) as {
      results: Array<{ id: string; status: string; actual: string }>;
    };
    expect(before.results.find((finding) => finding.id === 'apiserver.encryption-at-rest')!.actual).to.contain('first provider identity, mode 644');

    const run = await cli(['apply', '--policy', file], root, logs);
    expect(run.out).to.contain(own);
    expect(providers(read(root, own))).to.deep.equal([`secretbox:${first}`, `aescbc:${old}`, 'identity']);
    expect(mode(root, own)).to.equal(0o600);
    const pod = parse(read(root, MANIFEST)) as Pod;
    expect(pod.spec.volumes.map((volume) => volume.name)).to.not.include('kube-harden-encryption-config');
    const digest = pod.metadata.annotations!['kube-harden.io/encryption-config'];
    expect(digest).to.match(/^[0-9a-f]{16}$/);
    expect(JSON.parse((await cli(['plan', '--policy', file, '--output', 'json'], root, logs)).out).changes).to.deep.equal([]);

    // Rotation: a new key from the store; the one in force and the old one stay readable behind it.
    const second = randomBytes(32).toString('base64');
    writeKey(root, second);
    const rotated = await cli(['apply', '--policy', file, '--output', 'json'], root, logs);
    expect(providers(read(root, own))).to.deep.equal([`secretbox:${second}`, `secretbox:${first}`, `aescbc:${old}`, 'identity']);
    // A new key changes the digest, so the API server is recreated (and gated) to load it.
    expect((parse(read(root, MANIFEST)) as Pod).metadata.annotations!['kube-harden.io/encryption-config']).to.not.equal(digest);
    expect(JSON.parse(rotated.out).restarts.map((restart: { service: string }) => restart.service)).to.include('static-pod/kube-apiserver');
    for (const text of [run.out, run.err, rotated.out, rotated.err, ...logs])
      for (const key of [old, first, second]) expect(text).to.not.contain(key);
    // Backups (0700) keep the earlier content, keys included, so rollback can restore it.
    const backups = path.join(root, 'var/lib/kube-harden/backups');
    expect(statSync(backups).mode & 0o777).to.equal(0o700);
    const copies = readdirSync(backups).flatMap((dir) =>
      readdirSync(path.join(backups, dir)).map((entry) => readFileSync(path.join(backups, dir, entry), 'utf8')),
    );
    expect(copies.some((copy) => copy.includes(old) && copy.includes('kind: EncryptionConfiguration'))).to.equal(true);
  });
});
