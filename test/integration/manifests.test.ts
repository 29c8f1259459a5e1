import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { parsePolicy } from '../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../agent/rules/index.js';
import { REPO, cleanupTempDirs, tempDir } from '../helpers/host.js';
import { requirePrerequisites } from '../helpers/prerequisites.js';

type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [key: string]: unknown };
type Container = {
  name: string;
  args?: string[];
  env?: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  securityContext?: Record<string, unknown>;
  resources?: { limits?: Record<string, string>; requests?: Record<string, string> };
  livenessProbe?: unknown;
  readinessProbe?: unknown;
  volumeMounts?: { name: string; mountPath: string; mountPropagation?: string }[];
};

const MANIFESTS = path.join(REPO, 'manifests');

function kustomize(dir: string): K8sObject[] {
  const result = spawnSync('kubectl', ['kustomize', path.join(MANIFESTS, dir)], { encoding: 'utf8' });
  expect(result.status, result.stderr).to.equal(0);
  return parseAllDocuments(result.stdout).map((doc) => doc.toJS() as K8sObject);
}

/** The maintained schema models: kubernetes-models for the core API, its prometheus-operator package for CRDs. */
async function validate(object: K8sObject): Promise<void> {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : [null, object.apiVersion];
  const pkg = group === 'monitoring.coreos.com' ? '@kubernetes-models/prometheus-operator' : 'kubernetes-models';
  const module = (await import(group ? `${pkg}/${group}/${version}/${object.kind}` : `${pkg}/${version}/${object.kind}`)) as Record<
    string,
    new (data: unknown) => { validate(): void }
  >;
  const Model = module[object.kind];
  expect(Model, `${object.apiVersion} ${object.kind}`).to.be.a('function');
  new Model!(object).validate();
}

function daemonSet(objects: K8sObject[]) {
  const found = objects.find((object) => object.kind === 'DaemonSet') as unknown as {
    spec: { template: { spec: Record<string, unknown> & { containers: Container[] } } };
  };
  return found.spec.template.spec;
}

describe('manifests: kustomize overlays, schemas, RBAC, policy, monitoring', function () {
  this.timeout(60_000);
  before(function () {
    const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    requirePrerequisites(this, kubectl.status === 0 ? [] : ['kubectl'], 'install kubectl (it carries kustomize)');
  });
  after(cleanupTempDirs);

  for (const overlay of ['overlays/audit-only', 'overlays/enforce', 'monitoring'])
    it(`${overlay} builds and every object validates against the Kubernetes API schemas`, async () => {
      const objects = kustomize(overlay);
      expect(objects.length).to.be.greaterThan(2);
      for (const object of objects) await validate(object);
    });

  it('the schemas catch a broken DaemonSet (the check can fail)', async () => {
    const objects = kustomize('overlays/enforce');
    const broken = JSON.parse(JSON.stringify(objects.find((object) => object.kind === 'DaemonSet'))) as K8sObject & {
      spec: { template: { spec: { containers: { ports: { containerPort: unknown }[] }[] } } };
    };
    broken.spec.template.spec.containers[0]!.ports[0]!.containerPort = 'health';
    let error: unknown = null;
    await validate(broken).catch((caught: unknown) => (error = caught));
    expect(String(error)).to.contain('containerPort');
  });

  it('the DaemonSet can do the job on every node', () => {
    const spec = daemonSet(kustomize('overlays/enforce'));
    expect(spec).to.include({ hostPID: true, hostNetwork: true, priorityClassName: 'system-node-critical', serviceAccountName: 'kube-harden' });
    expect(spec.tolerations).to.deep.equal([{ operator: 'Exists' }]);
    const agent = spec.containers.find((container) => container.name === 'agent')!;
    expect(agent.securityContext).to.deep.equal({ privileged: true });
    expect(agent.args).to.include.members(['run', '--host-root=/host', '--metrics-address=127.0.0.1:9742', '--health-address=:9743']);
    const fields = Object.fromEntries((agent.env ?? []).map((entry) => [entry.name, entry.valueFrom?.fieldRef?.fieldPath]));
    expect(fields).to.include({
      NODE_NAME: 'spec.nodeName',
      NODE_IP: 'status.hostIP',
      POD_NAME: 'metadata.name',
      POD_NAMESPACE: 'metadata.namespace',
    });
    expect(agent.volumeMounts).to.deep.include({ name: 'host', mountPath: '/host', mountPropagation: 'HostToContainer' });
    expect(agent.resources?.limits).to.have.keys('cpu', 'memory');
    expect(agent.livenessProbe).to.deep.include({ httpGet: { path: '/healthz', port: 'health' } });
    expect(agent.readinessProbe).to.deep.include({ httpGet: { path: '/readyz', port: 'health' } });
    const proxy = spec.containers.find((container) => container.name === 'kube-rbac-proxy')!;
    expect(proxy.args).to.include('--upstream=http://127.0.0.1:9742/');
    expect(spec.terminationGracePeriodSeconds).to.be.greaterThan(120);
  });

  it('RBAC grants exactly the verbs the agent uses, each listed in docs/security.md', () => {
    const objects = kustomize('overlays/enforce');
    const grants = objects
      .filter((object) => object.kind === 'Role' || object.kind === 'ClusterRole')
      .flatMap((role) =>
        (
          (
            role as unknown as {
              rules: { apiGroups?: string[]; resources?: string[]; nonResourceURLs?: string[]; verbs: string[]; resourceNames?: string[] }[];
            }
          ).rules ?? []
        ).map(
          (rule) =>
            `${role.kind}/${role.metadata.namespace ?? '-'}/${role.metadata.name}: ${(rule.apiGroups ?? ['']).join(',')} ${(rule.resources ?? rule.nonResourceURLs ?? []).join(',')}${rule.resourceNames ? `[${rule.resourceNames.join(',')}]` : ''} ${rule.verbs.join(',')}`,
        ),
      )
      .sort();
    expect(grants).to.deep.equal([
      'ClusterRole/-/kube-harden-agent:  events create,patch',
      'ClusterRole/-/kube-harden-agent:  namespaces list',
      'ClusterRole/-/kube-harden-agent:  nodes get,list,patch',
      'ClusterRole/-/kube-harden-agent:  pods list,watch',
      'ClusterRole/-/kube-harden-agent: authentication.k8s.io tokenreviews create',
      'ClusterRole/-/kube-harden-agent: authorization.k8s.io subjectaccessreviews create',
      'ClusterRole/-/kube-harden-agent: wgpolicyk8s.io clusterpolicyreports get,create,update',
      'ClusterRole/-/kube-harden-metrics-reader:  /metrics get',
      'Role/kube-harden/kube-harden-leases: coordination.k8s.io leases get,create,update',
      'Role/kube-harden/kube-harden-pause-switch: apps daemonsets[kube-harden] get',
      'Role/kube-node-lease/kube-harden-node-leases: coordination.k8s.io leases get',
      'Role/kube-system/kube-harden-cluster-settings:  configmaps[kube-proxy,kubelet-config] get,update,patch',
      'Role/kube-system/kube-harden-cluster-settings:  configmaps[kubeadm-config] get,update',
      'Role/kube-system/kube-harden-cluster-settings:  pods delete',
      'Role/kube-system/kube-harden-cluster-settings: apps daemonsets[kube-proxy] get',
    ]);
    const security = readFileSync(path.join(REPO, 'docs/security.md'), 'utf8');
    for (const resource of [
      'leases',
      'nodes',
      'events',
      'pods',
      'namespaces',
      'configmaps',
      'daemonsets',
      'tokenreviews',
      'subjectaccessreviews',
      'clusterpolicyreports',
    ])
      expect(security, resource).to.contain(`\`${resource}\``);
    expect(grants.join('\n')).to.not.match(/secrets|\*|escalate|bind|impersonate|nodes\/proxy/);
  });

  it('every shipped policy loads in the agent; audit-only audits, enforce enforces', () => {
    const modes: Record<string, string> = {};
    for (const overlay of ['base', 'overlays/audit-only', 'overlays/enforce']) {
      const file = path.join(MANIFESTS, overlay, 'policy.yaml');
      const result = parsePolicy(readFileSync(file, 'utf8'), file, RULE_VALUE_SPECS);
      expect(result.ok, result.ok ? '' : result.errors.join('\n')).to.equal(true);
      if (result.ok) modes[overlay] = result.policy.mode;
    }
    expect(modes).to.deep.equal({ base: 'audit', 'overlays/audit-only': 'audit', 'overlays/enforce': 'enforce' });
    const rendered = kustomize('overlays/enforce').find(
      (object) => object.kind === 'ConfigMap' && object.metadata.name === 'kube-harden-policy',
    ) as unknown as { data: Record<string, string> };
    expect(parseYaml(rendered.data['policy.yaml']!).mode).to.equal('enforce');
  });

  it('alerts pass promtool check rules and promtool test rules', function () {
    const promtool = spawnSync('promtool', ['--version']);
    requirePrerequisites(this, promtool.status === 0 ? [] : ['promtool'], 'apt-get install --no-install-recommends prometheus');
    const dir = tempDir('kh-rules-');
    const rule = parseYaml(readFileSync(path.join(MANIFESTS, 'monitoring/prometheusrule.yaml'), 'utf8')) as { spec: unknown };
    writeFileSync(path.join(dir, 'rules.yaml'), stringify(rule.spec));
    copyFileSync(path.join(MANIFESTS, 'monitoring/tests/alerts.test.yaml'), path.join(dir, 'alerts.test.yaml'));
    const check = spawnSync('promtool', ['check', 'rules', 'rules.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).to.equal(0);
    const test = spawnSync('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: dir, encoding: 'utf8' });
    expect(test.status, test.stdout + test.stderr).to.equal(0);
    expect(test.stdout).to.contain('SUCCESS');
  });

  it('every dashboard query uses kube_harden_ metrics only', () => {
    const dashboard = JSON.parse(readFileSync(path.join(MANIFESTS, 'monitoring/dashboard.json'), 'utf8')) as {
      panels: { targets: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((panel) => panel.targets.map((target) => target.expr));
    expect(exprs.length).to.be.greaterThan(10);
    for (const expr of exprs) {
      // Drop grouping clauses, label matchers, ranges and strings; what is left are functions and metric names.
      const bare = expr.replace(/\b(by|without)\s*\([^)]*\)/g, ' ').replace(/\{[^}]*\}|\[[^\]]*\]|"[^"]*"/g, ' ');
      const functions = /^(sum|max|min|count|avg|rate|increase|time|histogram_quantile|or|and|unless)$/;
      const metrics = [...bare.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)].map((match) => match[0]).filter((name) => !functions.test(name));
      expect(metrics.length, expr).to.be.greaterThan(0);
      for (const metric of metrics) expect(metric, expr).to.match(/^kube_harden_/);
    }
  });
});
