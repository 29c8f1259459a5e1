import { expect } from 'chai';
import type { Finding } from '../../../agent/core/finding.js';
import type { Plan } from '../../../agent/core/plan.js';
import type { EvaluatedRule } from '../../../agent/core/planner.js';
import { renderAuditTable } from '../../../agent/cli/audit-table.js';
import { escapeHtml, markup } from '../../../agent/cli/html.js';
import { renderAuditHtml } from '../../../agent/cli/html-report.js';
import { buildAuditReport, describeChange, skipReasons, type ReportNode, type ReportPolicy } from '../../../agent/cli/report-model.js';
import { hanging, wrap } from '../../../agent/cli/text-layout.js';

const NODE: ReportNode = {
  name: 'n1',
  distribution: 'kubeadm',
  roles: ['node'],
  kubeletVersion: 'v1.31.4',
  kubeletVersionSource: 'test',
  nodeIp: '10.0.0.5',
  nodeIpSource: '--node-ip',
  kernel: '6.1.0',
  lsm: { apparmor: 'enabled', apparmorProfiles: 3, selinux: 'disabled' },
};

const POLICY: ReportPolicy = {
  file: null,
  mode: 'enforce',
  sha256: 'a'.repeat(64),
  fileSha256: null,
  rules: [{ id: 'x.y', enabled: true, value: '"<b>"' }],
};

function rule(id: string, component: string, fields: Partial<Finding>): EvaluatedRule {
  const finding: Finding = {
    id,
    title: `title of ${id}`,
    status: 'pass',
    expected: 'e',
    actual: 'a',
    source: null,
    cis: [],
    remediable: false,
    message: '',
    ...fields,
  };
  return { meta: { id, title: finding.title, cis: [], component, remediable: true, disruption: 'none', versions: 'all' }, evaluation: { finding } };
}

const EMPTY_PLAN: Plan = { changes: [], activations: [], blocked: [] };

describe('text layout', () => {
  it('wraps at spaces, then after separators inside long words, never beyond the width', () => {
    expect(wrap('alpha beta gamma', 11)).to.deep.equal(['alpha beta', 'gamma']);
    expect(wrap('kubelet.streaming-connection-idle-timeout', 20)).to.deep.equal(['kubelet.streaming-', 'connection-idle-', 'timeout']);
    expect(wrap('TLS_A,TLS_B,TLS_C', 12)).to.deep.equal(['TLS_A,TLS_B,', 'TLS_C']);
    expect(wrap('x'.repeat(25), 10)).to.deep.equal(['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
    for (const width of [5, 13, 40])
      for (const line of wrap('a fairly long sentence with /var/lib/kubelet/config.yaml in it', width)) expect(line.length).to.be.at.most(width);
    expect(hanging('  source: ', 'one two three', 16)).to.deep.equal(['  source: one', '          two', '          three']);
  });
});

describe('report model', () => {
  it('merges "no X on this node" reasons and puts the most common first', () => {
    const rows = [
      { component: 'files', finding: { message: 'not a control-plane node' } },
      { component: 'a', finding: { message: 'no kube-apiserver on this node' } },
      { component: 'a', finding: { message: 'no kube-apiserver on this node' } },
      { component: 'b', finding: { message: 'no kube-scheduler on this node' } },
    ] as never;
    expect(skipReasons(rows)).to.deep.equal(['no kube-apiserver or kube-scheduler on this node', 'not a control-plane node']);
  });

  it('sections with the most problems come first, failures first within a section', () => {
    const report = buildAuditReport(
      NODE,
      [
        rule('kernel.a', 'kernel', { status: 'fail' }),
        rule('kubelet.a', 'kubelet', { status: 'pass' }),
        rule('kubelet.b', 'kubelet', { status: 'fail' }),
        rule('kubelet.c', 'kubelet', { status: 'unknown' }),
        rule('apiserver.a', 'kube-apiserver', { status: 'skip', message: 'no kube-apiserver on this node' }),
      ],
      EMPTY_PLAN,
    );
    expect(report.sections.map((section) => section.title)).to.deep.equal(['kubelet', 'kernel', 'control plane']);
    expect(report.sections[0]!.rows.map((row) => row.finding.id)).to.deep.equal(['kubelet.b', 'kubelet.c', 'kubelet.a']);
    expect(report.failing.map((row) => row.finding.id)).to.deep.equal(['kubelet.b', 'kernel.a']);
  });

  it('describes each kind of change in one line', () => {
    expect(describeChange({ action: 'chmod', path: '/f', rules: ['r'], stage: 0, before: 0o644, after: 0o600 })).to.equal('chmod /f 0644 -> 0600');
    expect(describeChange({ action: 'write', path: '/f', rules: ['r'], stage: 0, before: 'a\nb\n', after: 'a\nc\nd\n', createMode: null })).to.equal(
      'edit /f (-1 +2 lines)',
    );
    expect(describeChange({ action: 'write', path: '/n', rules: ['r'], stage: 0, before: null, after: 'x\n', createMode: 0o644 })).to.equal(
      'create /n',
    );
    expect(describeChange({ action: 'sysctl', path: '/proc/sys/k', key: 'k', rules: ['r'], stage: 0, before: '0', after: '1' })).to.equal(
      'set k live 0 -> 1',
    );
  });
});

describe('terminal table without a terminal', () => {
  it('a policy in audit mode says apply would refuse; a held-back rule says why', () => {
    const report = buildAuditReport(NODE, [rule('kubelet.b', 'kubelet', { status: 'fail' })], {
      changes: [],
      activations: [],
      blocked: [{ id: 'kubelet.b', reason: 'kubelet version unknown' }],
    });
    const out = renderAuditTable(report, { width: 80, color: false, all: false, onlyFailing: false, policy: { file: '/etc/p.yaml', mode: 'audit' } });
    expect(out).to.contain('The policy mode is audit: apply refuses to change anything');
    expect(out).to.contain('FAIL     kubelet.b\n         held back: kubelet version unknown\n');
    expect(out).to.contain('policy /etc/p.yaml (mode audit)');
    expect(out).not.to.contain('\u001b[');
  });
});

describe('HTML report escaping', () => {
  const hostile = '</style><script>alert(1)</script><img src=http://evil.invalid/x onerror=alert(2)>"\'&';

  it('escapes every value: finding fields, node facts, diffs of file contents, policy values', () => {
    const report = buildAuditReport(
      { ...NODE, name: hostile, kernel: hostile },
      [
        rule('kubelet.b', 'kubelet', {
          status: 'fail',
          actual: hostile,
          expected: hostile,
          source: `/etc/${hostile}`,
          message: hostile,
          title: hostile,
          remediable: true,
        }),
      ],
      {
        changes: [
          {
            action: 'write',
            path: '/etc/default/kubelet',
            rules: ['kubelet.b'],
            stage: 0,
            before: `A=${hostile}\n`,
            after: 'A=1\n',
            createMode: null,
          },
        ],
        activations: [
          { id: 'restart:kubelet', service: 'kubelet', kind: 'restart', disruption: 'restart', reason: hostile, rules: ['kubelet.b'], changes: [] },
        ],
        blocked: [],
      },
    );
    const page = renderAuditHtml(
      report,
      { ...POLICY, file: `/p/${hostile}`, rules: [{ id: hostile, enabled: true, value: JSON.stringify(hostile) }] },
      { generatedAt: '2026-11-22T12:00:00.000Z', toolVersion: '0.1.0' },
    );
    expect(page).not.to.match(/<script|<img|onerror=alert\(2\)>/i);
    expect(page.match(/<\/style>/g)).to.have.length(1);
    expect(page).to.contain(escapeHtml(hostile));
    expect(page).to.contain('<span class="del">-A=&#60;/style&#62;&#60;script&#62;');
  });

  it('markup escapes interpolations but keeps nested markup', () => {
    expect(markup`<p>${'<b>&'}${markup`<i>${'"'}</i>`}${null}${['a', '<']}</p>`.text).to.equal('<p>&#60;b&#62;&#38;<i>&#34;</i>a&#60;</p>');
  });
});
