import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { REPO } from '../helpers/host.js';

/** Runs a few log calls in a fresh process and returns what reached stderr. */
function logsOf(body: string): string[] {
  const module = path.join(REPO, 'dist/agent/telemetry/logger.js');
  const script = `const m = await import(${JSON.stringify(module)});\n${body}`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(result.status, result.stderr).to.equal(0);
  return result.stderr.split('\n').filter(Boolean);
}

describe('logger (winston loaded on first use)', () => {
  it('writes the lines logged while winston loads, in order, before a CLI process exits', () => {
    const lines = logsOf(`const log = m.createLogger('info'); log.info('first', { n: 1 }); log.debug('hidden'); log.warn('second');`);
    const entries = lines.map((line) => JSON.parse(line) as { level: string; message: string; n?: number });
    expect(entries.map(({ level, message, n }) => ({ level, message, n }))).to.deep.equal([
      { level: 'info', message: 'first', n: 1 },
      { level: 'warn', message: 'second', n: undefined },
    ]);
  });

  it('the daemon logger writes at once', () => {
    const lines = logsOf(`const log = await m.loadLogger('debug'); log.debug('now'); process.exit(0);`);
    expect(lines.map((line) => (JSON.parse(line) as { message: string }).message)).to.deep.equal(['now']);
  });
});
