import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A stored API object (plain JSON as the API server would return it). */
export type ApiObject = {
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; [key: string]: unknown };
  [key: string]: unknown;
};

/** One request the server answered (for assertions on verbs and paths). */
export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly status: number;
}

type NodeCondition = { type: string; status: string };
type Kind = 'leases' | 'events' | 'nodes' | 'namespaces' | 'configmaps' | 'pods' | 'daemonsets' | 'clusterpolicyreports';
type Route = { kind: Kind; namespace: string | null; name: string | null };

const ROUTES: readonly [RegExp, Kind][] = [
  [/^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/, 'leases'],
  [/^\/api\/v1\/namespaces\/([^/]+)\/events(?:\/([^/]+))?$/, 'events'],
  [/^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/, 'configmaps'],
  [/^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/, 'pods'],
  [/^\/apis\/apps\/v1\/namespaces\/([^/]+)\/daemonsets(?:\/([^/]+))?$/, 'daemonsets'],
];

interface PodWatch {
  readonly node: string | null;
  readonly response: http.ServerResponse;
}

/**
 * An in-memory Kubernetes API server over HTTP on loopback, for the real @kubernetes/client-node:
 * Leases (create / get / replace with resourceVersion conflicts), Nodes (get, list, merge-patch;
 * conditions and taints set by tests),
 * core/v1 Events (create, merge-patch, list), ConfigMaps (get, replace, merge-patch), DaemonSets (get),
 * Pods (list and watch by spec.nodeName, delete), wgpolicyk8s.io/v1alpha2 ClusterPolicyReports (get, list
 * by label, create, replace; 404 on the resource itself while `policyReportCrd` is false, as a server
 * without the CRD answers). Objects live in `objects` keyed by
 * `kind/namespace/name`; tests change state directly, inject failures and react to deletions.
 */
export class FakeApiServer {
  readonly objects = new Map<string, ApiObject>();
  readonly requests: RecordedRequest[] = [];
  /** Whether the wgpolicyk8s.io CRD is installed (false: every clusterpolicyreports request is a 404). */
  policyReportCrd = true;
  /** Called after an object is deleted (e.g. a DaemonSet controller recreating a pod). */
  onDelete: ((kind: Kind, object: ApiObject) => void) | null = null;
  private version = 1;
  private server: http.Server | null = null;
  private failures: { method: string; pattern: RegExp; status: number; times: number }[] = [];
  private kubeconfigDir: string | null = null;
  private readonly podWatches = new Set<PodWatch>();
  url = '';

  async start(): Promise<this> {
    this.server = http.createServer((request, response) => void this.handle(request, response));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${address.port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.closeWatches();
    if (this.server) {
      this.server.closeAllConnections();
      await new Promise((resolve) => this.server!.close(resolve));
    }
    if (this.kubeconfigDir) await rm(this.kubeconfigDir, { recursive: true, force: true });
  }

  /** Ends every open watch, as API servers do every few minutes. */
  closeWatches(): void {
    for (const watch of this.podWatches) watch.response.end();
    this.podWatches.clear();
  }

  get openWatches(): number {
    return this.podWatches.size;
  }

  /** A kubeconfig file pointing at this server (plain HTTP on loopback, a bearer token). */
  async kubeconfig(): Promise<string> {
    this.kubeconfigDir ??= await mkdtemp(join(tmpdir(), 'kh-kubeconfig-'));
    const path = join(this.kubeconfigDir, 'kubeconfig');
    await writeFile(
      path,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{ name: fake, cluster: { server: "' + this.url + '", insecure-skip-tls-verify: true } }]',
        'users: [{ name: agent, user: { token: fake-token } }]',
        'contexts: [{ name: fake, context: { cluster: fake, user: agent } }]',
        'current-context: fake',
        '',
      ].join('\n'),
    );
    return path;
  }

  /** The next `times` requests matching method and path answer `status`. */
  failNext(method: string, pattern: RegExp, status: number, times = 1): void {
    this.failures.push({ method, pattern, status, times });
  }

  /** Adds or replaces a Node with a Ready condition and an InternalIP. */
  putNode(name: string, ready: 'True' | 'False' | 'Unknown' = 'True', kubeletVersion = 'v1.31.4', internalIP = '10.0.0.10'): void {
    const existing = this.objects.get(`nodes//${name}`);
    const metadata = existing?.metadata ?? { name, uid: `uid-${name}`, annotations: {} };
    const addresses = (existing?.status as { addresses?: unknown } | undefined)?.addresses ?? [{ type: 'InternalIP', address: internalIP }];
    // Other conditions and the spec (taints) survive a Ready change, as on a real Node.
    const others = ((existing?.status as { conditions?: NodeCondition[] } | undefined)?.conditions ?? []).filter((c) => c.type !== 'Ready');
    this.objects.set(`nodes//${name}`, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { ...metadata, resourceVersion: String(this.version++) },
      ...(existing?.spec ? { spec: existing.spec } : {}),
      status: { conditions: [{ type: 'Ready', status: ready }, ...others], nodeInfo: { kubeletVersion }, addresses },
    });
  }

  /** Sets (or with null removes) a Node condition other than Ready, e.g. DiskPressure True. */
  setNodeCondition(name: string, type: string, status: 'True' | 'False' | 'Unknown' | null): void {
    const node = this.objects.get(`nodes//${name}`);
    if (!node) throw new Error(`no node ${name}`);
    const nodeStatus = (node.status ?? {}) as { conditions?: NodeCondition[] };
    const conditions = (nodeStatus.conditions ?? []).filter((condition) => condition.type !== type);
    if (status !== null) conditions.push({ type, status });
    node.status = { ...nodeStatus, conditions };
    node.metadata.resourceVersion = String(this.version++);
  }

  /** Replaces a Node's spec.taints. */
  setNodeTaints(name: string, taints: readonly { key: string; value?: string; effect: string }[]): void {
    const node = this.objects.get(`nodes//${name}`);
    if (!node) throw new Error(`no node ${name}`);
    node.spec = { ...((node.spec ?? {}) as object), taints: taints.map((taint) => ({ ...taint })) };
    node.metadata.resourceVersion = String(this.version++);
  }

  /** The agent's own DaemonSet, which carries the pause switch annotation `kube-harden.io/paused`. */
  putAgentDaemonSet(annotations: Record<string, string> = {}, namespace = 'kube-harden', name = 'kube-harden'): ApiObject {
    return this.put('daemonsets', {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: { name, namespace, annotations },
      spec: { template: { spec: { containers: [{ name: 'agent', image: 'kube-harden:test' }] } } },
    });
  }

  /** Adds or replaces a Namespace with its labels (cluster-scoped). */
  putNamespace(name: string, labels: Record<string, string> = {}): void {
    this.objects.set(`namespaces//${name}`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, uid: `uid-${name}`, labels, resourceVersion: String(this.version++) },
    });
  }

  deleteNode(name: string): void {
    this.objects.delete(`nodes//${name}`);
  }

  /** What a kubelet does every 10 s: renews its node Lease in kube-node-lease. */
  renewNodeLease(name: string, atMs: number): void {
    this.objects.set(`leases/kube-node-lease/${name}`, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'kube-node-lease', resourceVersion: String(this.version++) },
      spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: new Date(atMs).toISOString() },
    });
  }

  /** Stores any namespaced object (ConfigMaps, DaemonSets) as the API server would. */
  put(kind: Kind, object: ApiObject): ApiObject {
    const stored = { ...object, metadata: { uid: `uid-${object.metadata.name}`, ...object.metadata, resourceVersion: String(this.version++) } };
    this.objects.set(`${kind}/${object.metadata.namespace ?? ''}/${object.metadata.name}`, stored);
    if (kind === 'pods') this.notifyPods('ADDED', stored);
    return stored;
  }

  /** Adds or replaces a pod (watchers see ADDED or MODIFIED). */
  putPod(pod: ApiObject): ApiObject {
    const key = `pods/${pod.metadata.namespace}/${pod.metadata.name}`;
    const existed = this.objects.has(key);
    const stored = {
      ...pod,
      metadata: {
        uid: `uid-${pod.metadata.name}`,
        creationTimestamp: new Date().toISOString(),
        ...pod.metadata,
        resourceVersion: String(this.version++),
      },
    };
    this.objects.set(key, stored);
    this.notifyPods(existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  deletePod(namespace: string, name: string): void {
    const key = `pods/${namespace}/${name}`;
    const pod = this.objects.get(key);
    if (!pod) return;
    this.objects.delete(key);
    this.notifyPods('DELETED', { ...pod, metadata: { ...pod.metadata, resourceVersion: String(this.version++) } });
    this.onDelete?.('pods', pod);
  }

  node(name: string): ApiObject | undefined {
    return this.objects.get(`nodes//${name}`);
  }

  get(kind: Kind, namespace: string, name: string): ApiObject | undefined {
    return this.objects.get(`${kind}/${namespace}/${name}`);
  }

  list(kind: Kind, namespace?: string): ApiObject[] {
    return [...this.objects.entries()].filter(([key]) => key.startsWith(`${kind}/${namespace ?? ''}`)).map(([, object]) => object);
  }

  private podsOnNode(node: string | null): ApiObject[] {
    return this.list('pods').filter((pod) => node === null || (pod.spec as { nodeName?: string } | undefined)?.nodeName === node);
  }

  private notifyPods(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: ApiObject): void {
    const node = (pod.spec as { nodeName?: string } | undefined)?.nodeName ?? null;
    for (const watch of this.podWatches)
      if (watch.node === null || watch.node === node) watch.response.write(`${JSON.stringify({ type, object: pod })}\n`);
  }

  private route(path: string): Route | null {
    if (path === '/api/v1/nodes') return { kind: 'nodes', namespace: null, name: null };
    if (path === '/api/v1/pods') return { kind: 'pods', namespace: null, name: null };
    if (path === '/api/v1/namespaces') return { kind: 'namespaces', namespace: null, name: null };
    const report = /^\/apis\/wgpolicyk8s\.io\/v1alpha2\/clusterpolicyreports(?:\/([^/]+))?$/.exec(path);
    if (report) return { kind: 'clusterpolicyreports', namespace: null, name: report[1] ? decodeURIComponent(report[1]) : null };
    const node = /^\/api\/v1\/nodes\/([^/]+)$/.exec(path);
    if (node) return { kind: 'nodes', namespace: null, name: decodeURIComponent(node[1]!) };
    for (const [pattern, kind] of ROUTES) {
      const match = pattern.exec(path);
      if (match) return { kind, namespace: decodeURIComponent(match[1]!), name: match[2] ? decodeURIComponent(match[2]) : null };
    }
    return null;
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const method = request.method ?? 'GET';
    const url = new URL(request.url ?? '/', this.url);
    const path = url.pathname;
    const reply = (status: number, body: unknown) => {
      this.requests.push({ method, path, status });
      response.writeHead(status, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const status = (code: number, reason: string, message: string) =>
      reply(code, { apiVersion: 'v1', kind: 'Status', status: 'Failure', reason, message, code });

    const failure = this.failures.find((candidate) => candidate.method === method && candidate.pattern.test(path) && candidate.times > 0);
    if (failure) {
      failure.times -= 1;
      return status(failure.status, 'InternalError', 'injected failure');
    }
    if (request.headers.authorization !== 'Bearer fake-token') return status(401, 'Unauthorized', 'Unauthorized');
    const route = this.route(path);
    // What kube-apiserver answers for a resource it does not serve: a Status without details.
    if (!route || (route.kind === 'clusterpolicyreports' && !this.policyReportCrd))
      return status(404, 'NotFound', 'the server could not find the requested resource');
    let body: ApiObject | null = null;
    if (chunks.length > 0) {
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ApiObject;
      } catch {
        return status(400, 'BadRequest', 'body is not JSON');
      }
    }
    const key = (name: string) => `${route.kind}/${route.namespace ?? ''}/${name}`;

    if (method === 'GET' && route.name === null) {
      if (route.kind === 'pods') {
        const selector = url.searchParams.get('fieldSelector') ?? '';
        const node = /^spec\.nodeName=(.+)$/.exec(selector)?.[1] ?? null;
        if (selector && !node) return status(400, 'BadRequest', `unsupported fieldSelector ${selector}`);
        if (url.searchParams.get('watch') === 'true') {
          this.requests.push({ method, path: `${path}?watch`, status: 200 });
          response.writeHead(200, { 'Content-Type': 'application/json' });
          response.flushHeaders();
          this.podWatches.add({ node, response });
          response.on('close', () => {
            for (const watch of this.podWatches) if (watch.response === response) this.podWatches.delete(watch);
          });
          return;
        }
        return reply(200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.version) }, items: this.podsOnNode(node) });
      }
      const selector = (url.searchParams.get('labelSelector') ?? '').split(',').filter((pair) => pair !== '');
      const selected = (object: ApiObject) =>
        selector.every((pair) => {
          const [key, value] = pair.split('=') as [string, string];
          return (object.metadata.labels as Record<string, string> | undefined)?.[key] === value;
        });
      return reply(200, {
        kind: 'List',
        apiVersion: 'v1',
        metadata: { resourceVersion: String(this.version) },
        items: this.list(route.kind, route.namespace ?? undefined).filter(selected),
      });
    }
    if (route.name === null && method !== 'POST') return status(405, 'MethodNotAllowed', method);
    if (method === 'POST') {
      if (!body?.metadata?.name) return status(422, 'Invalid', 'metadata.name is required');
      if (this.objects.has(key(body.metadata.name))) return status(409, 'AlreadyExists', `${route.kind} "${body.metadata.name}" already exists`);
      const created = {
        ...body,
        metadata: {
          ...body.metadata,
          namespace: route.namespace ?? undefined,
          resourceVersion: String(this.version++),
          uid: `uid-${body.metadata.name}`,
        },
      };
      this.objects.set(key(body.metadata.name), created);
      return reply(201, created);
    }
    const current = this.objects.get(key(route.name!));
    if (!current)
      return reply(404, {
        apiVersion: 'v1',
        kind: 'Status',
        status: 'Failure',
        reason: 'NotFound',
        message: `${route.kind} "${route.name}" not found`,
        details: { name: route.name, kind: route.kind },
        code: 404,
      });
    if (method === 'GET') return reply(200, current);
    if (method === 'PUT') {
      const sent = body?.metadata?.resourceVersion;
      if (sent !== undefined && sent !== current.metadata.resourceVersion)
        return status(409, 'Conflict', 'the object has been modified; please apply your changes to the latest version and try again');
      const replaced = { ...body!, metadata: { ...body!.metadata, resourceVersion: String(this.version++), uid: current.metadata.uid } };
      this.objects.set(key(route.name!), replaced);
      return reply(200, replaced);
    }
    if (method === 'PATCH') {
      if (request.headers['content-type'] !== 'application/merge-patch+json')
        return status(415, 'UnsupportedMediaType', String(request.headers['content-type']));
      const patched = mergePatch(current, body) as ApiObject;
      patched.metadata.resourceVersion = String(this.version++);
      this.objects.set(key(route.name!), patched);
      return reply(200, patched);
    }
    if (method === 'DELETE') {
      if (route.kind === 'pods') this.deletePod(route.namespace!, route.name!);
      else this.objects.delete(key(route.name!));
      return reply(200, current);
    }
    return status(405, 'MethodNotAllowed', method);
  }
}

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const result: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key], value);
  }
  return result;
}
