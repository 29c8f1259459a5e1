import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import { cleanupTempDirs, copyFixture, read, testCli } from '../helpers/host.js';
import { DEBIAN_CNI_DIR, isRoot, requirePrerequisites, staticPluginMissing, TEST_PLUGIN_DIR } from '../helpers/prerequisites.js';

type Json = Record<string, unknown>;

function sh(args: string[], input?: string, env?: Record<string, string>) {
  const result = spawnSync(args[0]!, args.slice(1), { input, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });
  return { code: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/**
 * Runs a CNI chain the way a runtime does (libcni): each plugin gets its own config plus the list's
 * name and cniVersion, the previous plugin's result, and runtimeConfig for the capabilities it declares.
 * The plugins run inside the "node" namespace; the pod is another namespace.
 */
function runChain(
  command: 'ADD' | 'DEL',
  list: Json,
  binaries: Record<string, string>,
  env: Record<string, string>,
  prevResult?: Json,
): Json | undefined {
  const plugins = (list.plugins as Json[]).slice();
  if (command === 'DEL') plugins.reverse();
  let result = prevResult;
  const runtimeConfig: Json = { bandwidth: { ingressRate: 1_000_000, ingressBurst: 2_000_000, egressRate: 2_000_000, egressBurst: 4_000_000 } };
  for (const plugin of plugins) {
    const capabilities = (plugin.capabilities ?? {}) as Record<string, boolean>;
    const config: Json = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    const granted = Object.fromEntries(Object.entries(runtimeConfig).filter(([key]) => capabilities[key]));
    if (Object.keys(granted).length > 0) config.runtimeConfig = granted;
    if (result) config.prevResult = result;
    const binary = binaries[String(plugin.type)];
    if (!binary) throw new Error(`no binary for ${String(plugin.type)}`);
    const out = sh(['ip', 'netns', 'exec', env.NODE_NS!, binary], JSON.stringify(config), { ...env, CNI_COMMAND: command });
    if (out.code !== 0) throw new Error(`${command} ${String(plugin.type)} failed: ${out.stdout}${out.stderr}`);
    if (command === 'ADD') result = JSON.parse(out.stdout) as Json;
  }
  return result;
}

describe('e2e: the patched chain shapes traffic with the real CNI plugins', function () {
  this.timeout(60_000);
  const suffix = randomBytes(3).toString('hex');
  const nodeNs = `kh-node-${suffix}`;
  const podNs = `kh-pod-${suffix}`;

  before(function () {
    const missing = [...staticPluginMissing()];
    if (!isRoot()) missing.push('root');
    for (const plugin of ['bridge', 'host-local', 'portmap'])
      if (!existsSync(path.join(DEBIAN_CNI_DIR, plugin))) missing.push(`${DEBIAN_CNI_DIR}/${plugin}`);
    if (sh(['tc', '-V']).code !== 0) missing.push('tc (iproute2)');
    requirePrerequisites(
      this,
      missing,
      'apt-get install containernetworking-plugins iproute2, then scripts/build-bandwidth.sh /var/cache/kube-harden/cni',
    );
  });

  after(() => {
    // Namespaces go even when a step failed: everything the chain made lives inside them.
    sh(['ip', 'netns', 'delete', podNs]);
    sh(['ip', 'netns', 'delete', nodeNs]);
    cleanupTempDirs();
  });

  it('apply chains bandwidth into a bridge + portmap config; ADD gives tbf qdiscs for ingress and egress; DEL leaves nothing', async () => {
    const root = copyFixture('cni-containerd');
    const harness = testCli({ env: { KUBE_HARDEN_PLUGIN_DIR: TEST_PLUGIN_DIR } });
    await runCli(['apply', '--no-restart', '--host-root', root], harness.deps);
    const list = JSON.parse(read(root, 'etc/cni/net.d/10-containerd-net.conflist')) as Json;
    expect((list.plugins as Json[]).map((plugin) => plugin.type)).to.deep.equal(['bridge', 'portmap', 'bandwidth']);

    expect(sh(['ip', 'netns', 'add', nodeNs]).code).to.equal(0);
    expect(sh(['ip', 'netns', 'add', podNs]).code).to.equal(0);
    sh(['ip', '-n', nodeNs, 'link', 'set', 'lo', 'up']);
    const binaries = {
      bridge: `${DEBIAN_CNI_DIR}/bridge`,
      portmap: `${DEBIAN_CNI_DIR}/portmap`,
      // The binary kube-harden installed into the host root: the static build.
      bandwidth: path.join(root, 'opt/cni/bin/bandwidth'),
    };
    // host-local keeps its leases under a directory of this test, not the machine's /var/lib/cni.
    (list.plugins as Json[])[0]!.ipam = { ...((list.plugins as Json[])[0]!.ipam as Json), dataDir: path.join(root, 'var/lib/cni/networks') };
    const env = {
      NODE_NS: nodeNs,
      CNI_CONTAINERID: `kh-${suffix}`,
      CNI_NETNS: `/var/run/netns/${podNs}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: `${path.join(root, 'opt/cni/bin')}:${DEBIAN_CNI_DIR}`,
    };
    const result = runChain('ADD', list, binaries, env);
    expect((result!.ips as Json[])[0]!.address).to.match(/^10\.250\.0\.\d+\/24$/);

    const qdiscs = sh(['ip', 'netns', 'exec', nodeNs, 'tc', 'qdisc', 'show']).stdout;
    const tbf = qdiscs.split('\n').filter((line) => line.includes('qdisc tbf'));
    // Ingress to the pod: tbf on the host-side veth at 1 Mbit; egress: an ifb device with its own tbf at 2 Mbit.
    expect(
      tbf.some((line) => /rate 1Mbit/.test(line)),
      qdiscs,
    ).to.equal(true);
    expect(
      tbf.some((line) => /rate 2Mbit/.test(line)),
      qdiscs,
    ).to.equal(true);
    expect(sh(['ip', '-n', nodeNs, 'link', 'show', 'type', 'ifb']).stdout).to.match(/bwp/);
    expect(sh(['ip', '-n', podNs, 'addr', 'show', 'eth0']).stdout).to.contain('10.250.0.');

    runChain('DEL', list, binaries, env, result);
    const after = sh(['ip', 'netns', 'exec', nodeNs, 'tc', 'qdisc', 'show']).stdout;
    expect(after).to.not.contain('qdisc tbf');
    expect(sh(['ip', '-n', nodeNs, 'link', 'show', 'type', 'ifb']).stdout.trim()).to.equal('');
    expect(sh(['ip', '-n', podNs, 'link', 'show', 'eth0']).code).to.not.equal(0);
  });
});
