import { expect } from 'chai';
import { parsePolicy, ruleValue } from '../../../agent/core/policy.js';
import { RULE_VALUE_SPECS } from '../../../agent/rules/index.js';

const HEAD = 'apiVersion: kube-harden.io/v1alpha1\nkind: HardeningPolicy\n';

describe('policy loading', () => {
  it('fills defaults for every rule', () => {
    const result = parsePolicy(HEAD, 'p.yaml', RULE_VALUE_SPECS);
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.policy.mode).to.equal('enforce');
    expect(ruleValue(result.policy, 'kubelet.pod-pids-limit')).to.equal(4096);
    expect(ruleValue(result.policy, 'kubelet.tls-min-version')).to.equal('VersionTLS12');
    expect(result.policy.restarts).to.deep.equal({
      maxConcurrent: 1,
      healthTimeoutSeconds: 120,
      leaseDurationSeconds: 60,
      windows: [],
      paused: false,
      blockers: { prometheus: null, podSelectors: [], nodeConditions: [], nodeTaints: [] },
    });
  });

  it('takes values and disabled rules', () => {
    const result = parsePolicy(
      `${HEAD}mode: audit\nrules:\n  kubelet.pod-pids-limit: { value: 1024 }\n  kubelet.address: { enabled: false }\n`,
      'p.yaml',
      RULE_VALUE_SPECS,
    );
    expect(result.ok).to.equal(true);
    if (!result.ok) return;
    expect(result.policy.mode).to.equal('audit');
    expect(ruleValue(result.policy, 'kubelet.pod-pids-limit')).to.equal(1024);
    expect(result.policy.rules.get('kubelet.address')?.enabled).to.equal(false);
  });

  it('refuses a misspelt drift or backups field (drift: { enable: false } would leave drift correction on) and a resync Node cannot time', () => {
    const result = parsePolicy(`${HEAD}drift: { enable: false, resyncSeconds: 3000000 }\nbackups: { retian: 3 }\n`, 'p.yaml', RULE_VALUE_SPECS);
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.errors).to.deep.equal([
      'p.yaml: drift: unknown field "enable" (expected enabled, resyncSeconds)',
      'p.yaml: drift.resyncSeconds must be a positive integer of at most 2073600 (24 days)',
      'p.yaml: backups: unknown field "retian" (expected retain)',
    ]);
    const fine = parsePolicy(`${HEAD}drift: { enabled: false, resyncSeconds: 2073600 }\nbackups: {}\n`, 'p.yaml', RULE_VALUE_SPECS);
    expect(fine.ok && fine.policy.drift).to.deep.equal({ enabled: false, resyncSeconds: 2073600 });
    expect(fine.ok && fine.policy.backups.retain).to.equal(10); // the default
  });

  it('an alias without its anchor is one error naming the file, not an exception', () => {
    const result = parsePolicy(`${HEAD}mode: enforce\n&a x: *b\n`, 'p.yaml', RULE_VALUE_SPECS);
    expect(result).to.deep.equal({ ok: false, errors: ['p.yaml: Unresolved alias (the anchor must be set before the alias): b'] });
  });

  it('lists every problem at once, each naming the file and field', () => {
    const text = `apiVersion: v1\nkind: HardeningPolicy\nmode: fix-everything\nrules:\n  kubelet.nope: {}\n  kubelet.tls-min-version: { value: VersionTLS10 }\n  kubelet.tls-cipher-suites: { value: [TLS_RSA_WITH_AES_128_CBC_SHA] }\n  kubelet.read-only-port: { value: 1 }\nrestarts: { maxConcurrent: 0 }\nextra: 1\n`;
    const result = parsePolicy(text, 'bad.yaml', RULE_VALUE_SPECS);
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.errors).to.have.length(8);
    for (const needle of [
      'apiVersion',
      'mode',
      'kubelet.nope',
      'tls-min-version',
      'tls-cipher-suites',
      'read-only-port.value: this rule takes no value',
      'maxConcurrent',
      'unknown field "extra"',
    ])
      expect(
        result.errors.some((error) => error.includes(needle)),
        needle,
      ).to.equal(true);
    expect(result.errors.every((error) => error.startsWith('bad.yaml'))).to.equal(true);
  });

  it('reports YAML syntax errors with the line', () => {
    const result = parsePolicy(`${HEAD}rules: [\n`, 'p.yaml', RULE_VALUE_SPECS);
    expect(result.ok).to.equal(false);
    if (!result.ok) expect(result.errors[0]).to.match(/^p\.yaml:\d+: /);
  });

  it('validates exemptions', () => {
    const result = parsePolicy(
      `${HEAD}exemptions:\n  - { rule: kubelet.address, namespaces: [kube-system], expires: soon }\n`,
      'p.yaml',
      RULE_VALUE_SPECS,
    );
    expect(result.ok).to.equal(false);
    if (!result.ok) expect(result.errors.join('\n')).to.contain('reason').and.contain('expires');
  });
});
