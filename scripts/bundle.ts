import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Bundles the CLI into dist/bundle/: kube-harden.mjs (the entry: argument parsing and the command
 * table) and chunks/ (each command and what only it needs, loaded on use: `run` brings the daemon and
 * the Kubernetes client, `audit` never loads them). One file per chunk instead of ~250 modules makes a
 * cold start cheaper (docs/benchmarks.md). The type check stays with tsc; esbuild only strips types.
 */
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const outdir = path.join(repo, 'dist/bundle');

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: repo,
  entryPoints: { 'kube-harden': path.join(repo, 'agent/main.ts') },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outdir,
  outExtension: { '.js': '.mjs' },
  chunkNames: 'chunks/[name]-[hash]',
  // CommonJS dependencies (winston, prom-client, parts of the Kubernetes client) call require() for
  // Node's built-ins; an ES module has no require, so the bundle makes one.
  banner: { js: "import { createRequire as __khCreateRequire } from 'node:module';\nconst require = __khCreateRequire(import.meta.url);" },
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

// Which source went into which chunk: the tests check that audit never loads the Kubernetes client.
writeFileSync(path.join(repo, 'dist/bundle-meta.json'), JSON.stringify(result.metafile));
const bytes = Object.values(result.metafile.outputs).reduce((sum, output) => sum + output.bytes, 0);
console.log(
  `bundle: ${Object.keys(result.metafile.outputs).length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB in ${path.relative(repo, outdir)}/`,
);
