import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { CoordinationV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, V1MicroTime, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { clusterApi } from '../../agent/cluster/client.js';
import type { ClusterApi } from '../../agent/cluster/api.js';
import { REPO, tempDir } from './host.js';
import { requirePrerequisites } from './prerequisites.js';

/** Where scripts/real-apiserver.sh keeps the kube-apiserver it built (the same override as the script). */
export const APISERVER_CACHE = process.env.KUBE_HARDEN_APISERVER_CACHE ?? '/var/cache/kube-harden/apiserver';
export const REAL_APISERVER_SCRIPT = path.join(REPO, 'scripts/real-apiserver.sh');

/** The user the shipped RBAC authorizes: the static token in the script is authenticated as this ServiceAccount. */
export const AGENT_USER = 'system:serviceaccount:kube-harden:kube-harden';

const HOW =
  'run `sudo bash scripts/real-apiserver.sh build` (Debian: builds kube-apiserver v1.20.2 from the `kubernetes` source package, about 4 min)';

/** What is missing to start a real API server here (empty when the tests can run). */
export function realApiServerMissing(): string[] {
  const missing: string[] = [];
  if (!existsSync(path.join(APISERVER_CACHE, 'bin/kube-apiserver'))) missing.push(`${APISERVER_CACHE}/bin/kube-apiserver`);
  for (const tool of ['etcd', 'openssl', 'curl', 'ss'])
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) missing.push(tool === 'etcd' ? 'etcd (Debian etcd-server)' : tool);
  return missing;
}

/** One request as the server's audit log recorded it. */
export interface AuditRecord {
  readonly user: string;
  readonly verb: string;
  readonly code: number;
  readonly uri: string;
  readonly resource: string | null;
  readonly subresource: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly apiGroup: string;
}

/**
 * A real etcd + kube-apiserver (v1.20.2) on loopback, started by scripts/real-apiserver.sh with its
 * state in a temp directory; `stop` stops exactly those two processes.
 */
export class RealApiServer {
  private constructor(
    readonly dir: string,
    private readonly env: Readonly<Record<string, string>>,
  ) {}

  /** `extraArgs`: more kube-apiserver flags (a server configured differently, e.g. an API group switched off). */
  static async start(extraArgs: readonly string[] = []): Promise<RealApiServer> {
    const dir = tempDir('kh-apiserver-');
    const result = spawnSync('bash', [REAL_APISERVER_SCRIPT, 'start', dir], {
      encoding: 'utf8',
      timeout: 180_000,
      env: { ...process.env, KUBE_HARDEN_APISERVER_CACHE: APISERVER_CACHE, KUBE_HARDEN_APISERVER_EXTRA_ARGS: extraArgs.join(' ') },
    });
    if (result.status !== 0)
      throw new Error(`real-apiserver.sh start failed (exit ${result.status}): ${result.stderr.trim().split('\n').slice(-5).join(' | ')}`);
    const env = Object.fromEntries(
      readFileSync(path.join(dir, 'env'), 'utf8')
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    const server = new RealApiServer(dir, env);
    await server.bootstrap();
    return server;
  }

  get url(): string {
    return this.env.KH_APISERVER_URL!;
  }

  get version(): string {
    return this.env.KH_VERSION!;
  }

  /** A kubeconfig for user admin (system:masters). */
  get adminKubeconfig(): string {
    return this.env.KH_ADMIN_KUBECONFIG!;
  }

  /** A kubeconfig authenticated as the agent's ServiceAccount kube-harden/kube-harden. */
  get agentKubeconfig(): string {
    return this.env.KH_SA_KUBECONFIG!;
  }

  adminConfig(): KubeConfig {
    const config = new KubeConfig();
    config.loadFromFile(this.adminKubeconfig);
    return config;
  }

  /** The agent's ClusterApi (agent/cluster/client.ts) as the ServiceAccount. */
  agentApi(): ClusterApi {
    const config = new KubeConfig();
    config.loadFromFile(this.agentKubeconfig);
    return clusterApi(config);
  }

  /** The agent's ClusterApi as admin (for tests that are about the API, not RBAC). */
  adminApi(): ClusterApi {
    return clusterApi(this.adminConfig());
  }

  /** Generic create/replace/delete as admin. */
  objects(): KubernetesObjectApi {
    return KubernetesObjectApi.makeApiClient(this.adminConfig());
  }

  /** Creates, or replaces when it exists (admin). */
  async apply(object: KubernetesObject): Promise<void> {
    const api = this.objects();
    try {
      await api.create(object);
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
      const current = await api.read(object as KubernetesObject & { metadata: { name: string } });
      await api.replace({ ...object, metadata: { ...object.metadata, resourceVersion: current.metadata?.resourceVersion } });
    }
  }

  /**
   * What a kubelet registers: the Node (created when missing) with its Ready condition, kubelet version
   * and InternalIP in status (written through the status subresource, as the kubelet does).
   */
  async putNode(name: string, ready: 'True' | 'False' | 'Unknown' = 'True', kubeletVersion = 'v1.31.4', internalIP = '10.0.0.10'): Promise<void> {
    const core = this.adminConfig().makeApiClient(CoreV1Api);
    const node = await core.readNode({ name }).catch(async (error: unknown) => {
      if ((error as { code?: number }).code !== 404) throw error;
      return core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name } } });
    });
    const now = new Date();
    await core.replaceNodeStatus({
      name,
      body: {
        ...node,
        status: {
          conditions: [{ type: 'Ready', status: ready, reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now }],
          addresses: [{ type: 'InternalIP', address: internalIP }],
          nodeInfo: {
            kubeletVersion,
            kubeProxyVersion: kubeletVersion,
            architecture: 'amd64',
            bootID: '',
            containerRuntimeVersion: 'containerd://1.7.0',
            kernelVersion: '6.1.0',
            machineID: '',
            operatingSystem: 'linux',
            osImage: 'Debian GNU/Linux 12',
            systemUUID: '',
          },
        },
      },
    });
  }

  /**
   * What a kubelet does every 10 s: renews its node Lease in kube-node-lease (created when missing).
   * False when the server does not serve coordination.k8s.io/v1 at all (a test's server without it).
   */
  async renewNodeLease(name: string, atMs: number): Promise<boolean> {
    const leases = this.adminConfig().makeApiClient(CoordinationV1Api);
    const spec = { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new V1MicroTime(atMs) };
    for (;;) {
      try {
        const current = await leases.readNamespacedLease({ name, namespace: 'kube-node-lease' });
        await leases.replaceNamespacedLease({ name, namespace: 'kube-node-lease', body: { ...current, spec } });
        return true;
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (code === 409) continue; // raced with another renewal: read again
        if (code !== 404) throw error;
        const created = await leases
          .createNamespacedLease({ namespace: 'kube-node-lease', body: { metadata: { name, namespace: 'kube-node-lease' }, spec } })
          .then(
            () => true,
            (failure: { code?: number }) => {
              if (failure.code === 404) return false; // the namespace exists: the Lease kind itself is not served
              throw failure;
            },
          );
        return created;
      }
    }
  }

  /** Every request the server logged so far. */
  audit(): AuditRecord[] {
    const file = path.join(this.dir, 'audit.log');
    if (!existsSync(file)) return [];
    const seen = new Set<string>();
    return (
      readFileSync(file, 'utf8')
        .split('\n')
        // The server may be half-way through writing its last line: only lines it ended are records.
        .slice(0, -1)
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as RawAudit)
        // A watch is logged when its response starts and again when it ends: keep one record per request.
        .filter((event) => event.stage !== 'RequestReceived' && !seen.has(event.auditID) && seen.add(event.auditID) !== null)
        .map((event) => ({
          user: event.user?.username ?? '',
          verb: event.verb,
          code: event.responseStatus?.code ?? 0,
          uri: event.requestURI,
          resource: event.objectRef?.resource ?? null,
          subresource: event.objectRef?.subresource ?? null,
          namespace: event.objectRef?.namespace ?? null,
          name: event.objectRef?.name ?? null,
          apiGroup: event.objectRef?.apiGroup ?? '',
        }))
    );
  }

  /** The requests the agent's ServiceAccount made since `from` (an index into audit()). */
  agentRequests(from = 0): AuditRecord[] {
    return this.audit()
      .slice(from)
      .filter((record) => record.user === AGENT_USER);
  }

  async stop(): Promise<void> {
    spawnSync('bash', [REAL_APISERVER_SCRIPT, 'stop', this.dir], { encoding: 'utf8', timeout: 30_000 });
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** What a cluster has before the agent arrives: the agent's namespace (kube-system, kube-node-lease and default exist). */
  private async bootstrap(): Promise<void> {
    await this.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'kube-harden' } });
  }
}

interface RawAudit {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  user?: { username?: string };
  responseStatus?: { code?: number };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
}

/** The shipped RBAC objects: manifests/base rendered by kustomize (kubectl) when present, else its YAML files. */
export function shippedRbac(): KubernetesObject[] {
  const kinds = new Set(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']);
  const rendered = spawnSync('kubectl', ['kustomize', path.join(REPO, 'manifests/base')], { encoding: 'utf8' });
  const text =
    rendered.status === 0
      ? rendered.stdout
      : ['serviceaccount.yaml', 'rbac.yaml'].map((file) => readFileSync(path.join(REPO, 'manifests/base', file), 'utf8')).join('\n---\n');
  return parseAllDocuments(text)
    .map((document) => document.toJSON() as KubernetesObject | null)
    .filter((object): object is KubernetesObject => object !== null && kinds.has(object.kind ?? ''));
}

/**
 * Starts one real API server for the suite (skipping it with one line when the binary is missing,
 * failing under KUBE_HARDEN_REQUIRE_E2E=1) and stops it after. Call inside `describe`.
 */
export function realApiServerHooks(extraArgs: readonly string[] = []): { readonly server: RealApiServer } {
  let server: RealApiServer | null = null;
  before(async function () {
    this.timeout(180_000);
    requirePrerequisites(this, realApiServerMissing(), HOW);
    server = await RealApiServer.start(extraArgs);
  });
  after(async function () {
    this.timeout(30_000);
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
  };
}
