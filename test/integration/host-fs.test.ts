import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HostFs } from '../../agent/host/host-fs.js';
import { HostRoot } from '../../agent/host/host-root.js';
import { cleanupTempDirs, tempDir } from '../helpers/host.js';

describe('HostFs', () => {
  let root: string;
  let fs: HostFs;
  beforeEach(async () => {
    root = tempDir('kh-fs-');
    mkdirSync(path.join(root, 'etc/kubernetes'), { recursive: true });
    fs = new HostFs(await HostRoot.open(root));
  });
  after(cleanupTempDirs);

  it('writes atomically, keeps mode and owner of the file it replaces, leaves no temp file', async () => {
    const file = path.join(root, 'etc/kubernetes/kubelet.conf');
    writeFileSync(file, 'old');
    chmodSync(file, 0o600);
    await fs.writeAtomic('/etc/kubernetes/kubelet.conf', 'new');
    expect(readFileSync(file, 'utf8')).to.equal('new');
    expect(statSync(file).mode & 0o7777).to.equal(0o600);
    expect(readdirSync(path.join(root, 'etc/kubernetes'))).to.deep.equal(['kubelet.conf']);
  });

  it('creates a file with the requested mode and its parent directories', async () => {
    await fs.writeAtomic('/etc/sysctl.d/90-x.conf', 'a = 1\n', 0o644);
    expect(statSync(path.join(root, 'etc/sysctl.d/90-x.conf')).mode & 0o7777).to.equal(0o644);
  });

  it('writes through a symlink to its target inside the root and keeps the link', async () => {
    writeFileSync(path.join(root, 'etc/real.yaml'), 'a');
    symlinkSync('/etc/real.yaml', path.join(root, 'etc/link.yaml'));
    await fs.writeAtomic('/etc/link.yaml', 'b');
    expect(readFileSync(path.join(root, 'etc/real.yaml'), 'utf8')).to.equal('b');
    expect(lstatSync(path.join(root, 'etc/link.yaml')).isSymbolicLink()).to.equal(true);
  });

  const badInputs: Array<[string, (dir: string) => void, RegExp]> = [
    ['a directory', (dir) => mkdirSync(path.join(dir, 'etc/target')), /directory/],
    ['a fifo', (dir) => execFileSync('mkfifo', [path.join(dir, 'etc/target')]), /not a regular file/],
    ['a binary file', (dir) => writeFileSync(path.join(dir, 'etc/target'), Buffer.from([0x6b, 0, 0x01])), /not a text file/],
  ];
  for (const [name, make, pattern] of badInputs)
    it(`reports ${name} where a file is expected, without reading it as content`, async () => {
      make(root);
      const state = await fs.readFile('/etc/target');
      expect(state.kind).to.equal('error');
      if (state.kind === 'error') expect(state.error).to.match(pattern);
    });

  it('reports a dangling symlink as missing and a permission problem as an error', async () => {
    symlinkSync('/nowhere', path.join(root, 'etc/dangling'));
    expect((await fs.readFile('/etc/dangling')).kind).to.equal('missing');
  });

  it('refuses to replace a directory', async () => {
    mkdirSync(path.join(root, 'etc/dir'));
    try {
      await fs.writeAtomic('/etc/dir', 'x');
      expect.fail('should throw');
    } catch (error) {
      expect(String(error)).to.contain('not a regular file');
    }
  });
});
