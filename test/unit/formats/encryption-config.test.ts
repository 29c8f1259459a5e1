import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { parse } from 'yaml';
import {
  newEncryptionConfiguration,
  placeKey,
  REDACTED,
  redactSecrets,
  secretsProviders,
  type EncryptionKey,
} from '../../../agent/formats/encryption-config.js';

type Config = { resources: Array<{ resources: string[]; providers: Array<Record<string, { keys?: Array<{ name: string; secret: string }> }>> }> };

/** Providers for secrets as `type:name` (identity bare), in order. */
function order(text: string): string[] {
  const config = parse(text) as Config;
  const entry = config.resources.find((candidate) => candidate.resources.includes('secrets'))!;
  return entry.providers.flatMap((provider) => {
    const [type, body] = Object.entries(provider)[0]!;
    return body.keys ? body.keys.map((key) => `${type}:${key.name}`) : [type];
  });
}

function secretOf(text: string, name: string): string | undefined {
  const config = parse(text) as Config;
  for (const entry of config.resources)
    for (const provider of entry.providers)
      for (const body of Object.values(provider)) for (const key of body.keys ?? []) if (key.name === name) return key.secret;
  return undefined;
}

const existing = (providers: string) =>
  `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n# Set up by the platform team.\nresources:\n  - resources:\n      - secrets\n    providers:\n${providers}`;

describe('EncryptionConfiguration: placing a key from the policy', () => {
  let key: EncryptionKey;
  let old: string;
  before(() => {
    key = { provider: 'secretbox', name: 'key-2', secret: randomBytes(32).toString('base64') };
    old = randomBytes(32).toString('base64');
  });

  it('a fresh configuration lists the key first and identity last (read role: identity stays first)', () => {
    const text = newEncryptionConfiguration(key, 'write', '# header\n');
    expect(text.startsWith('# header\n')).to.equal(true);
    expect((parse(text) as { apiVersion: string }).apiVersion).to.equal('apiserver.config.k8s.io/v1');
    expect(order(text)).to.deep.equal(['secretbox:key-2', 'identity']);
    expect(secretOf(text, 'key-2')).to.equal(key.secret);
    expect(order(newEncryptionConfiguration(key, 'read', ''))).to.deep.equal(['identity', 'secretbox:key-2']);
  });

  it('identity first: the key goes first and identity moves last, every other key kept; comments kept', () => {
    const text = placeKey(
      existing(`      - identity: {}\n      - aescbc:\n          keys:\n            - name: key-1\n              secret: ${old}\n`),
      key,
      'write',
    );
    expect(order(text)).to.deep.equal(['secretbox:key-2', 'aescbc:key-1', 'identity']);
    expect(secretOf(text, 'key-1')).to.equal(old);
    expect(text).to.contain('# Set up by the platform team.');
  });

  it('an aescbc key in force stays, after a new aescbc key (upstream rotation order)', () => {
    const text = placeKey(
      existing(`      - aescbc:\n          keys:\n            - name: key-1\n              secret: ${old}\n      - identity: {}\n`),
      { ...key, provider: 'aescbc' },
      'write',
    );
    expect(order(text)).to.deep.equal(['aescbc:key-2', 'aescbc:key-1', 'identity']);
    expect(secretOf(text, 'key-1')).to.equal(old);
  });

  it('read role adds the key after the provider that writes now; write role then moves it first', () => {
    const start = existing(`      - aescbc:\n          keys:\n            - name: key-1\n              secret: ${old}\n      - identity: {}\n`);
    const readable = placeKey(start, key, 'read');
    expect(order(readable)).to.deep.equal(['aescbc:key-1', 'secretbox:key-2', 'identity']);
    expect(placeKey(readable, key, 'read')).to.equal(readable);
    const writing = placeKey(readable, key, 'write');
    expect(order(writing)).to.deep.equal(['secretbox:key-2', 'aescbc:key-1', 'identity']);
    // Same provider: appended after the keys in force, so it does not write yet.
    expect(order(placeKey(start, { ...key, provider: 'aescbc' }, 'read'))).to.deep.equal(['aescbc:key-1', 'aescbc:key-2', 'identity']);
  });

  it('is idempotent: a configuration that already holds the key first comes back unchanged', () => {
    const once = placeKey(existing(`      - identity: {}\n`), key, 'write');
    expect(placeKey(once, key, 'write')).to.equal(once);
    // The same key under another name is found by its bytes, not added twice.
    expect(placeKey(once, { ...key, name: 'renamed' }, 'write')).to.equal(once);
  });

  it("keeps the file's list style: an unindented file changes only where the key goes", () => {
    const flat = `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources:\n  - secrets\n  providers:\n  - identity: {}\n`;
    const text = placeKey(flat, key, 'write');
    expect(text).to.equal(
      `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources:\n  - secrets\n  providers:\n  - secretbox:\n      keys:\n      - name: key-2\n        secret: ${key.secret}\n  - identity: {}\n`,
    );
  });

  it('adds an entry for secrets when none covers them, keeping the others', () => {
    const text = placeKey(
      'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [configmaps]\n    providers: [{ identity: {} }]\n',
      key,
      'write',
    );
    const config = parse(text) as Config;
    expect(config.resources.map((entry) => entry.resources)).to.deep.equal([['secrets'], ['configmaps']]);
    expect(order(text)).to.deep.equal(['secretbox:key-2', 'identity']);
  });

  it('refuses, without quoting the file, a name taken by another key, a shared entry and other API versions', () => {
    const clash = existing(`      - secretbox:\n          keys:\n            - name: key-2\n              secret: ${old}\n`);
    expect(() => placeKey(clash, key, 'write'))
      .to.throw(/already named key-2/)
      .with.property('message')
      .that.does.not.contain(old);
    expect(() =>
      placeKey(existing('      - identity: {}\n').replace('      - secrets\n', '      - secrets\n      - configmaps\n'), key, 'write'),
    ).to.throw(/lists secrets, configmaps/);
    expect(() => placeKey('apiVersion: v1\nkind: EncryptionConfiguration\nresources: []\n', key, 'write')).to.throw(/apiserver.config.k8s.io\/v1/);
    expect(() => placeKey(`kind: EncryptionConfiguration\nsecret: ${old}\n  bad: [`, key, 'write'))
      .to.throw()
      .with.property('message')
      .that.does.not.contain(old);
  });

  it('describes providers by name only', () => {
    const text = placeKey(
      existing(`      - kms:\n          apiVersion: v2\n          name: vault\n          endpoint: unix:///kms.sock\n`),
      key,
      'read',
    );
    expect(secretsProviders(text)).to.deep.equal(['kms:vault', 'secretbox:key-2', 'identity']);
    expect(secretsProviders(text).join()).to.not.contain(key.secret);
  });
});

describe('EncryptionConfiguration: redaction for diffs and reports', () => {
  let secret: string;
  before(() => {
    secret = randomBytes(32).toString('base64');
  });

  it('removes secrets in block, flow, quoted and block-scalar form; other files are untouched', () => {
    const block = existing(`      - aescbc:\n          keys:\n            - name: k\n              secret: ${secret}\n`);
    const flow = existing(`      - aescbc: {keys: [{name: k, secret: "${secret}"}]}\n`);
    const folded = existing(`      - aescbc:\n          keys:\n            - name: k\n              secret: |\n                ${secret}\n`);
    for (const text of [block, flow, folded]) {
      const shown = redactSecrets(text);
      expect(shown).to.not.contain(secret);
      expect(shown).to.contain(REDACTED);
      expect(shown).to.contain('name: k');
    }
    const broken = `kind: EncryptionConfiguration\n  - secret: '${secret}'\n [`;
    expect(redactSecrets(broken)).to.not.contain(secret);
    const other = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: secret\n# secret: keep\n`;
    expect(redactSecrets(other)).to.equal(other);
  });
});
