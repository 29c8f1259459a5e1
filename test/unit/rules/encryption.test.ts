import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { FileState, Observation } from '../../../agent/core/observation.js';
import { parsePolicy, type Policy } from '../../../agent/core/policy.js';
import type { Evaluation } from '../../../agent/core/rule.js';
import { buildContext } from '../../../agent/rules/context.js';
import { apiserverEncryptionAtRest, ENCRYPTION_ANNOTATION, ENCRYPTION_CONFIG } from '../../../agent/rules/control-plane/encryption.js';
import { RULE_VALUE_SPECS } from '../../../agent/rules/index.js';
import { fixturePath } from '../../helpers/host.js';
import { kubeadmNode, observation } from '../../helpers/observation.js';
import { policyFrom } from '../../helpers/policy.js';

const MANIFEST_PATH = '/etc/kubernetes/manifests/kube-apiserver.yaml';
const KEY_FILE = '/etc/kubernetes/keys/encryption.key';

type Pod = {
  metadata: { annotations: Record<string, string> };
  spec: {
    containers: Array<{ command: string[]; volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }> }>;
    volumes: Array<{ name: string; hostPath: { path: string; type: string } }>;
  };
};

function file(filePath: string, content: string, mode = 0o600): FileState {
  return { kind: 'file', path: filePath, content, mode, uid: 0, gid: 0 };
}

function evaluate(obs: Observation, policy: Policy): Evaluation {
  return apiserverEncryptionAtRest.evaluate(buildContext(obs, policy));
}

/** The observation after the remedy's edits are written (created files 0600 as the edit asks). */
function applied(obs: Observation, evaluation: Evaluation, extra: Record<string, string | FileState>): Observation {
  const files: Record<string, string | FileState> = { ...extra };
  for (const edit of evaluation.remedy?.edits ?? []) {
    const current = obs.files.get(edit.path);
    const text = edit.transform(current?.kind === 'file' ? current.content : null);
    files[edit.path] = file(edit.path, text, current?.kind === 'file' ? current.mode : (edit.createMode ?? 0o644));
  }
  return kubeadmNode(files);
}

/** Everything a person sees of an evaluation: finding, blocked reason, remedy paths. */
function shown(evaluation: Evaluation): string {
  return JSON.stringify({ finding: evaluation.finding, blocked: evaluation.blocked, paths: evaluation.remedy?.edits?.map((edit) => edit.path) });
}

describe('apiserver.encryption-at-rest: policy value', () => {
  it('accepts null and a key file; reports every problem of a bad value at once, naming each field', () => {
    const parsed = (value: string) =>
      parsePolicy(
        `apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\nrules:\n  apiserver.encryption-at-rest: { value: ${value} }\n`,
        'policy.yaml',
        RULE_VALUE_SPECS,
      );
    expect(parsed('null').ok).to.equal(true);
    expect(parsed(`{ keyFile: ${KEY_FILE}, provider: aescbc, keyName: key-2025-01, encrypt: false }`).ok).to.equal(true);
    const bad = parsed('{ keyFile: keys/enc.key, provider: aesgcm, keyName: "a:b", encrypt: yes please, generate: true }');
    expect(bad.ok).to.equal(false);
    const errors = (bad as { errors: readonly string[] }).errors;
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/^policy\.yaml: rules\.apiserver\.encryption-at-rest\.value: /);
    for (const field of ['keyFile', 'provider', 'keyName', 'encrypt', '"generate"']) expect(errors[0]).to.contain(field);
    expect(parsed('{ keyFile: /etc/../root/key }').ok).to.equal(false);
  });
});

describe('apiserver.encryption-at-rest: planning from a key the policy names', () => {
  let manifest: string;
  let secret: string;
  let policy: Policy;
  let node: (files?: Record<string, string | FileState>) => Observation;
  before(() => {
    manifest = readFileSync(path.join(fixturePath('kubeadm-control-plane'), MANIFEST_PATH), 'utf8');
    secret = randomBytes(32).toString('base64');
    policy = policyFrom(`rules:\n  apiserver.encryption-at-rest: { value: { keyFile: ${KEY_FILE} } }\n`);
    node = (files = {}) => kubeadmNode({ [MANIFEST_PATH]: manifest, [KEY_FILE]: `${secret}\n`, ...files });
  });

  it('without a key in the policy: audit only, with the reason a node cannot create keys', () => {
    const evaluation = evaluate(node(), policyFrom());
    expect(evaluation.finding).to.include({ status: 'fail', remediable: false });
    expect(evaluation.finding.message).to.contain('keys must be identical on every control-plane node');
    expect(evaluation.remedy).to.equal(undefined);
  });

  it('fresh: writes the configuration (0600, key first, identity last), then the flag, the directory mount and a digest', () => {
    const obs = node();
    const evaluation = evaluate(obs, policy);
    expect(evaluation.finding).to.include({ status: 'fail', remediable: true });
    const [config, pod] = evaluation.remedy!.edits!;
    expect(config!).to.include({ path: ENCRYPTION_CONFIG.file, createMode: 0o600 });
    const written = parse(config!.transform(null)) as {
      apiVersion: string;
      resources: Array<{ resources: string[]; providers: Array<Record<string, { keys?: Array<{ secret: string }> }>> }>;
    };
    expect(written.apiVersion).to.equal('apiserver.config.k8s.io/v1');
    expect(written.resources[0]!.resources).to.deep.equal(['secrets']);
    expect(written.resources[0]!.providers.map((provider) => Object.keys(provider)[0])).to.deep.equal(['secretbox', 'identity']);
    expect(written.resources[0]!.providers[0]!.secretbox!.keys![0]!.secret).to.equal(secret);
    expect(pod!).to.include({ path: MANIFEST_PATH, restartsComponent: true });
    const edited = parse(pod!.transform(manifest)) as Pod;
    expect(edited.spec.containers[0]!.command).to.include(`--encryption-provider-config=${ENCRYPTION_CONFIG.file}`);
    expect(edited.spec.volumes.find((volume) => volume.name === ENCRYPTION_CONFIG.mountName)!.hostPath).to.deep.equal({
      path: ENCRYPTION_CONFIG.dir,
      type: 'DirectoryOrCreate',
    });
    expect(edited.spec.containers[0]!.volumeMounts.find((mount) => mount.name === ENCRYPTION_CONFIG.mountName)).to.deep.equal({
      mountPath: ENCRYPTION_CONFIG.dir,
      name: ENCRYPTION_CONFIG.mountName,
      readOnly: true,
    });
    expect(edited.metadata.annotations[ENCRYPTION_ANNOTATION]).to.match(/^[0-9a-f]{16}$/);
    expect(evaluation.remedy!.restart!.service).to.equal('static-pod/kube-apiserver');
    expect(shown(evaluation)).to.not.contain(secret);
    expect(JSON.stringify(edited)).to.not.contain(secret);
  });

  it('is idempotent: once written, the rule passes and plans nothing', () => {
    const obs = node();
    const after = applied(obs, evaluate(obs, policy), { [MANIFEST_PATH]: manifest, [KEY_FILE]: `${secret}\n` });
    const again = evaluate(after, policy);
    expect(again.finding.status, again.finding.message).to.equal('pass');
    expect(again.remedy).to.equal(undefined);
  });

  it("its own configuration gone while the flag names it: written again; an operator's missing file is held", () => {
    const flagged = (file: string) =>
      manifest.replace('    - --allow-privileged=true\n', `    - --allow-privileged=true\n    - --encryption-provider-config=${file}\n`);
    const own = evaluate(node({ [MANIFEST_PATH]: flagged(ENCRYPTION_CONFIG.file) }), policy);
    expect(own.remedy!.edits![0]!).to.include({ path: ENCRYPTION_CONFIG.file, createMode: 0o600 });
    const theirs = evaluate(node({ [MANIFEST_PATH]: flagged('/etc/kubernetes/pki/encryption.yaml') }), policy);
    expect(theirs.remedy).to.equal(undefined);
    expect(theirs.blocked).to.contain('/etc/kubernetes/pki/encryption.yaml, which does not exist');
  });

  it("an operator's configuration with identity first: the key goes first in it, keys kept, mode tightened, the flag kept", () => {
    const old = randomBytes(32).toString('base64');
    const own = '/etc/kubernetes/pki/encryption.yaml';
    const config = `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources:\n  - secrets\n  providers:\n  - identity: {}\n  - aescbc:\n      keys:\n      - name: key-1\n        secret: ${old}\n`;
    const withFlag = manifest.replace(
      '    - --allow-privileged=true\n',
      `    - --allow-privileged=true\n    - --encryption-provider-config=${own}\n`,
    );
    const obs = node({ [MANIFEST_PATH]: withFlag, [own]: file(own, config, 0o644) });
    const before = evaluate(obs, policy);
    expect(before.finding.status).to.equal('fail');
    expect(before.finding.actual).to.contain('first provider identity, mode 644');
    const [edit, pod] = before.remedy!.edits!;
    expect(edit!.path).to.equal(own);
    const merged = parse(edit!.transform(config)) as { resources: Array<{ providers: Array<Record<string, { keys?: Array<{ name: string }> }>> }> };
    expect(merged.resources[0]!.providers.map((provider) => Object.keys(provider)[0])).to.deep.equal(['secretbox', 'aescbc', 'identity']);
    expect(merged.resources[0]!.providers[1]!.aescbc!.keys![0]!.name).to.equal('key-1');
    expect(before.remedy!.permissions).to.deep.equal([{ path: own, mode: 0o600 }]);
    // /etc/kubernetes/pki is already mounted from the same host path: no new volume, only the digest.
    const edited = parse(pod!.transform(withFlag)) as Pod;
    expect(edited.spec.volumes.map((volume) => volume.name)).to.not.include(ENCRYPTION_CONFIG.mountName);
    expect(edited.spec.containers[0]!.command.filter((word) => word.startsWith('--encryption-provider-config'))).to.deep.equal([
      `--encryption-provider-config=${own}`,
    ]);
    expect(shown(before)).to.not.contain(old).and.not.contain(secret);
  });

  it('a missing, unreadable or malformed key file: the rule fails with that reason and plans nothing', () => {
    const cases: Array<[string | FileState | null, RegExp]> = [
      [null, /key file \/etc\/kubernetes\/keys\/encryption.key does not exist/],
      [{ kind: 'error', path: KEY_FILE, error: 'permission denied' }, /cannot read key file .*: permission denied/],
      ['not a key, just a passphrase\n', /is not base64: it must hold 32 random bytes/],
      [`${randomBytes(16).toString('base64')}\n`, /decodes to 16 bytes, not 32/],
    ];
    for (const [content, reason] of cases) {
      const obs =
        content === null
          ? kubeadmNode({ [MANIFEST_PATH]: manifest })
          : node({ [KEY_FILE]: typeof content === 'string' ? file(KEY_FILE, content) : content });
      const evaluation = evaluate(obs, policy);
      expect(evaluation.finding).to.include({ status: 'fail', remediable: false });
      expect(evaluation.blocked).to.match(reason);
      expect(evaluation.remedy).to.equal(undefined);
      if (typeof content === 'string') expect(shown(evaluation)).to.not.contain(content.trim());
    }
  });

  it('a key file others can read is tightened to 0600', () => {
    const evaluation = evaluate(node({ [KEY_FILE]: file(KEY_FILE, `${secret}\n`, 0o644) }), policy);
    expect(evaluation.remedy!.permissions).to.deep.include({ path: KEY_FILE, mode: 0o600 });
  });

  it('encrypt: false adds the key for reading only, and says what is left to do', () => {
    const readOnly = policyFrom(`rules:\n  apiserver.encryption-at-rest: { value: { keyFile: ${KEY_FILE}, encrypt: false } }\n`);
    const obs = node();
    const first = evaluate(obs, readOnly);
    const config = parse(first.remedy!.edits![0]!.transform(null)) as { resources: Array<{ providers: Array<Record<string, unknown>> }> };
    expect(config.resources[0]!.providers.map((provider) => Object.keys(provider)[0])).to.deep.equal(['identity', 'secretbox']);
    const after = applied(obs, first, { [MANIFEST_PATH]: manifest, [KEY_FILE]: `${secret}\n` });
    const second = evaluate(after, readOnly);
    expect(second.finding).to.include({ status: 'fail', remediable: false });
    expect(second.blocked).to.contain('for reading only (encrypt: false)');
    expect(second.remedy).to.equal(undefined);
    // Then encrypt: true moves the same key first.
    const promoted = evaluate(after, policy);
    const moved = parse(promoted.remedy!.edits![0]!.transform((after.files.get(ENCRYPTION_CONFIG.file) as { content: string }).content)) as {
      resources: Array<{ providers: Array<Record<string, unknown>> }>;
    };
    expect(moved.resources[0]!.providers.map((provider) => Object.keys(provider)[0])).to.deep.equal(['secretbox', 'identity']);
  });

  it('never puts a local key ahead of a KMS provider', () => {
    const config = `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - kms: {apiVersion: v2, name: vault, endpoint: unix:///run/kms.sock}\n  - identity: {}\n`;
    const withFlag = manifest.replace(
      '    - --allow-privileged=true\n',
      `    - --allow-privileged=true\n    - --encryption-provider-config=${ENCRYPTION_CONFIG.file}\n`,
    );
    const evaluation = evaluate(node({ [MANIFEST_PATH]: withFlag, [ENCRYPTION_CONFIG.file]: config }), policy);
    expect(evaluation.finding.status).to.equal('pass');
    expect(evaluation.finding.message).to.contain('kms');
    expect(evaluation.remedy).to.equal(undefined);
  });

  it('holds back on an unknown API server version and on the k8s snap', () => {
    const digest = manifest.replace(/image: registry\.k8s\.io\/kube-apiserver:v[0-9.]+/, 'image: registry.local/kube-apiserver@sha256:abc');
    const unknownVersion = evaluate(node({ [MANIFEST_PATH]: digest }), policy);
    expect(unknownVersion.blocked).to.contain('version unknown');
    expect(unknownVersion.remedy).to.equal(undefined);
    const args = readFileSync(path.join(fixturePath('k8s-snap-control-plane'), 'var/snap/k8s/common/args/kube-apiserver'), 'utf8');
    const snap = evaluate(observation({ files: { '/var/snap/k8s/common/args/kube-apiserver': args, [KEY_FILE]: `${secret}\n` } }), policy);
    expect(snap.finding).to.include({ status: 'fail', remediable: false });
    expect(snap.blocked).to.contain('k8s snap');
    expect(snap.remedy).to.equal(undefined);
  });

  it('reads the key file the policy names, only on a kubeadm control plane', () => {
    const obs = node();
    expect(apiserverEncryptionAtRest.targets(obs, policy).files).to.include.members([KEY_FILE, ENCRYPTION_CONFIG.file]);
    expect(apiserverEncryptionAtRest.targets(obs, policyFrom()).files).to.not.include(KEY_FILE);
    // Not on a worker (no API server), nor on the k8s snap, where it is never used.
    expect(apiserverEncryptionAtRest.targets(kubeadmNode(), policy).files).to.not.include(KEY_FILE);
    const snap = observation({ files: { '/var/snap/k8s/common/args/kube-apiserver': '--secure-port=6443\n' } });
    expect(apiserverEncryptionAtRest.targets(snap, policy).files).to.not.include(KEY_FILE);
  });
});
