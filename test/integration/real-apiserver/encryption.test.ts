import { expect } from 'chai';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { runCli } from '../../../agent/cli/index.js';
import { cleanupTempDirs, copyFixture, read, testCli } from '../../helpers/host.js';
import { writePolicyFile } from '../../helpers/policy.js';
import { requirePrerequisites } from '../../helpers/prerequisites.js';
import { RealApiServer, realApiServerMissing } from '../../helpers/real-apiserver.js';

const CONFIG = '/etc/kubernetes/enc/encryption-config.yaml';
const KEY_FILE = '/etc/kubernetes/keys/encryption.key';

/** etcd's v3 JSON gateway: keys and values are base64. */
async function etcdGet(etcd: string, key: string): Promise<Buffer> {
  const response = await fetch(`${etcd}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(key).toString('base64') }) });
  const body = (await response.json()) as { kvs?: Array<{ value: string }> };
  return Buffer.from(body.kvs?.[0]?.value ?? '', 'base64');
}

async function etcdPut(etcd: string, key: string, value: Buffer): Promise<void> {
  const response = await fetch(`${etcd}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: Buffer.from(key).toString('base64'), value: value.toString('base64') }),
  });
  expect(response.status).to.equal(200);
}

/** A Secret as the API server would store it, in JSON (its storage decoder reads JSON as well as protobuf). */
function storedSecret(name: string, value: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      kind: 'Secret',
      apiVersion: 'v1',
      metadata: {
        name,
        namespace: 'default',
        uid: `00000000-0000-0000-0000-${randomBytes(6).toString('hex')}`,
        creationTimestamp: '2024-01-01T00:00:00Z',
      },
      data: { value: Buffer.from(value).toString('base64') },
      type: 'Opaque',
    }),
  );
}

/** Upstream's aescbc format: prefix, a random IV, AES-256-CBC with PKCS#7 padding. */
function aescbc(keyName: string, key: string, data: Buffer): Buffer {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', Buffer.from(key, 'base64'), iv);
  return Buffer.concat([Buffer.from(`k8s:enc:aescbc:v1:${keyName}:`), iv, cipher.update(data), cipher.final()]);
}

/**
 * The configuration kube-harden writes, loaded by a real kube-apiserver (v1.20.2): it starts with it,
 * encrypts new Secrets with the policy's key, and still reads Secrets stored unencrypted and Secrets
 * encrypted with the key that was in force before (kept behind the new one).
 */
describe('real API server with the EncryptionConfiguration kube-harden wrote', function () {
  this.timeout(240_000);
  let server: RealApiServer | null = null;
  let etcd = '';
  let oldKey = '';
  let keyName = '';

  before(async function () {
    requirePrerequisites(this, realApiServerMissing(), 'run `sudo bash scripts/real-apiserver.sh build`');
    const root = copyFixture('kubeadm-control-plane');
    oldKey = randomBytes(32).toString('base64');
    mkdirSync(path.join(root, path.dirname(CONFIG)), { recursive: true });
    // The operator's configuration: identity first, an aescbc key that encrypted some Secrets.
    writeFileSync(
      path.join(root, CONFIG),
      `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources:\n  - secrets\n  providers:\n  - identity: {}\n  - aescbc:\n      keys:\n      - name: key-1\n        secret: ${oldKey}\n`,
      { mode: 0o600 },
    );
    mkdirSync(path.join(root, path.dirname(KEY_FILE)), { recursive: true });
    writeFileSync(path.join(root, KEY_FILE), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const policy = writePolicyFile(['rules:', `  apiserver.encryption-at-rest: { value: { keyFile: ${KEY_FILE} } }`]);
    await runCli(['apply', '--policy', policy, '--host-root', root], testCli().deps);
    const config = parse(read(root, CONFIG)) as { resources: Array<{ providers: Array<Record<string, { keys?: Array<{ name: string }> }>> }> };
    keyName = config.resources[0]!.providers[0]!.secretbox!.keys![0]!.name;
    server = await RealApiServer.start([`--encryption-provider-config=${path.join(root, CONFIG)}`]);
    const env = readFileSync(path.join(server.dir, 'env'), 'utf8');
    etcd = /^KH_ETCD_URL=(.*)$/m.exec(env)![1]!;
  });
  after(async function () {
    await server?.stop();
    cleanupTempDirs();
  });

  it('stores a new Secret encrypted with the policy key, and serves it back', async () => {
    const core = server!.adminConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'written-now' }, stringData: { value: 'fresh' } } });
    const raw = await etcdGet(etcd, '/registry/secrets/default/written-now');
    expect(raw.subarray(0, 64).toString('latin1')).to.match(new RegExp(`^k8s:enc:secretbox:v1:${keyName}:`));
    expect(raw.includes(Buffer.from('fresh'))).to.equal(false);
    const secret = await core.readNamespacedSecret({ name: 'written-now', namespace: 'default' });
    expect(Buffer.from(secret.data!.value!, 'base64').toString()).to.equal('fresh');
  });

  it('still reads Secrets stored unencrypted (identity last) and with the earlier aescbc key (kept)', async () => {
    await etcdPut(etcd, '/registry/secrets/default/stored-plain', storedSecret('stored-plain', 'plain'));
    await etcdPut(etcd, '/registry/secrets/default/stored-aescbc', aescbc('key-1', oldKey, storedSecret('stored-aescbc', 'older')));
    const core = server!.adminConfig().makeApiClient(CoreV1Api);
    const plain = await core.readNamespacedSecret({ name: 'stored-plain', namespace: 'default' });
    expect(Buffer.from(plain.data!.value!, 'base64').toString()).to.equal('plain');
    const older = await core.readNamespacedSecret({ name: 'stored-aescbc', namespace: 'default' });
    expect(Buffer.from(older.data!.value!, 'base64').toString()).to.equal('older');
    // Re-encryption (docs/rules.md step 5): a replace writes it back with the policy key.
    await core.replaceNamespacedSecret({ name: 'stored-aescbc', namespace: 'default', body: older });
    expect((await etcdGet(etcd, '/registry/secrets/default/stored-aescbc')).subarray(0, 64).toString('latin1')).to.match(/^k8s:enc:secretbox:v1:/);
  });
});
