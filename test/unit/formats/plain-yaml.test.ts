import { expect } from 'chai';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { readPlainYaml } from '../../../agent/formats/plain-yaml.js';
import { REPO } from '../../helpers/host.js';

/** The reference: the yaml package's plain value (default YAML 1.2 core schema, unique keys), or 'error'. */
function reference(text: string): unknown {
  try {
    return parse(text);
  } catch {
    return 'error';
  }
}

/** The plain reader either declines (undefined) or agrees with the reference exactly. */
function agrees(text: string): { handled: boolean; problem: string | null } {
  const fast = readPlainYaml(text);
  if (fast === undefined) return { handled: false, problem: null };
  const expected = reference(text);
  try {
    expect(fast).to.deep.equal(expected);
    return { handled: true, problem: null };
  } catch {
    return { handled: true, problem: `${JSON.stringify(text)}: plain ${JSON.stringify(fast)} vs yaml ${JSON.stringify(expected)}` };
  }
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    const info = statSync(file, { throwIfNoEntry: false });
    if (!info) return [];
    if (info.isDirectory()) return yamlFiles(file);
    return /\.ya?ml$/.test(name) && info.isFile() ? [file] : [];
  });
}

const SCALARS = [
  ...['~', 'null', 'Null', 'NULL', 'true', 'True', 'TRUE', 'false', 'FALSE', 'yes', 'no', 'on', 'off', 'y', 'n'],
  ...[
    '0',
    '1',
    '-1',
    '+1',
    '007',
    '0o17',
    '0x1F',
    '0xg',
    '1_000',
    '1.5',
    '.5',
    '1.',
    '-.5e3',
    '1e3',
    '1E-2',
    '+.inf',
    '-.Inf',
    '.nan',
    '.NaN',
    '.',
    '-',
  ],
  ...[
    '10.0.0.10',
    '0644',
    '0600',
    'v1.31.4',
    'VersionTLS12',
    '10m',
    '5m0s',
    '256Mi',
    '/var/lib/kubelet/config.yaml',
    'unix:///run/containerd/containerd.sock',
  ],
  ...[
    'https://127.0.0.1:6443/livez',
    'a b c',
    "don't",
    'a#b',
    'a:b',
    'key=value,other=x',
    '--flag=value',
    '*',
    '&a',
    '!tag',
    '|',
    '>',
    '@x',
    '`x`',
    '%x',
    '?x',
  ],
  ...['"quoted"', '"with \\"escape\\""', '"tab\\there"', '"\\u00e9"', '"\\x41"', "'single'", "'it''s'", '""', "''", '"a # not a comment"', "'a: b'"],
  ...['[]', '{}', '[a, b]', '[1, "2"]', '[a, [b]]', '{a: 1}', 'a: b', 'value # comment', '"x" # comment', "'x' trailing"],
];

describe('plain YAML reader: agrees with the yaml package or declines', () => {
  it('every YAML file in the fixtures', () => {
    const problems: string[] = [];
    let handled = 0;
    const files = yamlFiles(path.join(REPO, 'test/fixtures'));
    for (const file of files) {
      const result = agrees(readFileSync(file, 'utf8'));
      if (result.problem) problems.push(`${path.relative(REPO, file)}: ${result.problem}`);
      if (result.handled) handled++;
    }
    expect(problems).to.deep.equal([]);
    expect(files.length).to.be.above(20);
    expect(handled, 'most fixture files are read without the yaml package').to.be.above(files.length / 2);
  });

  it('reads every kubeadm manifest and kubelet config of the fixtures itself (the fast path is the one used)', () => {
    const files = yamlFiles(path.join(REPO, 'test/fixtures/hosts')).filter(
      (file) => /\/etc\/kubernetes\/manifests\/[^/]+\.yaml$/.test(file) || /\/var\/lib\/kubelet\/config\.yaml$/.test(file),
    );
    expect(files.length).to.be.above(10);
    const declined = files.filter((file) => readPlainYaml(readFileSync(file, 'utf8')) === undefined).map((file) => path.relative(REPO, file));
    expect(declined).to.deep.equal([]);
  });

  it('scalars as values, list items, in flow lists, and as keys', () => {
    const problems = SCALARS.flatMap((scalar) =>
      [`key: ${scalar}\n`, `- ${scalar}\n`, `list:\n- ${scalar}\n- x\n`, `${scalar}: 1\n`, `a:\n  b: ${scalar}\n  c: 2\n`]
        .map((text) => agrees(text).problem)
        .filter((problem): problem is string => problem !== null),
    );
    expect(problems).to.deep.equal([]);
  });

  it('structures: nesting, kubeadm lists at the key indentation, comments, empty values', () => {
    const texts = [
      'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --a=b\n    name: x\n    volumeMounts:\n    - mountPath: /p\n      name: n\n      readOnly: true\n',
      'a:\n  - 1\n  - 2\nb: 3\n',
      'a:\n-   x: 1\n    y: 2\n-   z\n',
      '# comment\n---\na: 1 # trailing\n# between\nb:\n  # inside\n  c: d\n',
      'a:\nb:\n  c:\nd: ""\n',
      'a:\n  -\n    b: 1\n  -\n    - c\n',
      '- - a\n  - b\n',
      '',
      '# only a comment\n',
      'a: 1\r\nb: 2\r\n',
    ];
    const problems = texts.map((text) => agrees(text).problem).filter((problem) => problem !== null);
    expect(problems).to.deep.equal([]);
    expect(readPlainYaml(texts[0]!)).to.not.equal(undefined);
  });

  it('declines what it does not read (the yaml package decides those, errors included)', () => {
    for (const text of [
      'a: &x 1\nb: *x\n',
      'a: !!str 1\n',
      'a: |\n  line\n',
      'a: >\n  folded\n',
      'a: multi\n  line\n',
      'a:\tb\n',
      'a: 1\n---\nb: 2\n',
      'a: 1\na: 2\n',
      '? complex\n: key\n',
      'a: {b: 1}\n',
      'a: "unterminated\n  continued"\n',
      '__proto__: 1\n',
      'just a scalar\n',
      'a: 1\n  b: 2\n',
    ])
      expect(readPlainYaml(text), JSON.stringify(text)).to.equal(undefined);
  });
});
