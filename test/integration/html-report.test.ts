import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../agent/cli/index.js';
import type { Finding } from '../../agent/core/finding.js';
import { cleanupTempDirs, copyFixture, tempDir, testCli } from '../helpers/host.js';
import { requirePrerequisites } from '../helpers/prerequisites.js';

const CHROMIUM = process.env.KUBE_HARDEN_CHROMIUM ?? 'chromium';

function chromiumMissing(): string[] {
  const probe = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return probe.status === 0 ? [] : [`Debian's chromium (${CHROMIUM})`];
}

/**
 * Chromium's own background traffic (component updater, network time, accounts), which flags do not
 * silence in Debian's build. The page cannot reach these hosts: the report must not name them at all
 * (checked below), so ignoring them cannot hide a request the page made.
 */
const BROWSER_OWN = /(^|\.)(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)$/;

function requestHost(request: string): string {
  const [method, target = ''] = request.split(' ');
  return method === 'CONNECT' ? target.replace(/:\d+$/, '') : new URL(target).hostname;
}

/** A proxy that answers nothing useful but records every request the browser sends through it. */
async function recordingProxy(): Promise<{ server: Server; port: number; requests: string[]; fromPage: () => string[] }> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(502).end();
  });
  server.on('connect', (request, socket) => {
    requests.push(`CONNECT ${request.url}`);
    socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fromPage = () => requests.filter((request) => !BROWSER_OWN.test(requestHost(request)));
  return { server, port: (server.address() as AddressInfo).port, requests, fromPage };
}

/** Headless Chromium on a local file, every request sent to the recording proxy; async so the proxy can answer. */
async function chromium(file: string, proxyPort: number, mode: ['--dump-dom'] | [`--screenshot=${string}`]): Promise<string> {
  const { spawn } = await import('node:child_process');
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-extensions',
    `--user-data-dir=${tempDir('kh-chromium-')}`,
    `--proxy-server=http://127.0.0.1:${proxyPort}`,
    // Loopback is never proxied by default; the report has no business there either.
    '--proxy-bypass-list=<-loopback>',
    '--window-size=1280,4000',
    '--virtual-time-budget=3000',
    ...mode,
    `file://${file}`,
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(CHROMIUM, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`chromium exited ${code}: ${err.split('\n').slice(-5).join('\n')}`));
    });
  });
}

/** The text of an HTML document: tags dropped, the few entities the report uses decoded. */
function textOf(document: string): string {
  return document
    .replace(/<style[\s\S]*?<\/style>/g, '')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

describe('audit --output html in headless Chromium (kubeadm control plane)', function () {
  this.timeout(180_000);
  let dir: string;
  let html: string;
  let failing: Finding[];
  let proxy: Awaited<ReturnType<typeof recordingProxy>>;

  before(async function () {
    requirePrerequisites(this, chromiumMissing(), 'apt-get install -y --no-install-recommends chromium');
    const root = copyFixture('kubeadm-control-plane');
    const report = testCli({ env: { NODE_NAME: 'cp-1' } });
    expect(await runCli(['audit', '--output', 'html', '--host-root', root], report.deps)).to.equal(1);
    html = report.stdout();
    const json = testCli({ env: { NODE_NAME: 'cp-1' } });
    await runCli(['audit', '--output', 'json', '--host-root', root], json.deps);
    failing = (JSON.parse(json.stdout()) as { results: Finding[] }).results.filter((result) => result.status === 'fail');
    expect(failing.length).to.be.above(10);
    dir = tempDir('kh-html-');
    writeFileSync(path.join(dir, 'report.html'), html);
    proxy = await recordingProxy();
  });

  after(async () => {
    await new Promise((resolve) => proxy?.server.close(resolve));
    cleanupTempDirs();
  });

  it('is self-contained: a strict CSP, no script, no external src or href', () => {
    expect(html).to.match(
      /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-[A-Za-z0-9+/=]+&#39;;/,
    );
    expect(html).not.to.match(/<script|<link|<iframe|<img|@import|url\(/i);
    expect(html).not.to.match(/\s(src|href|action)="(?!#)/i);
    expect(html.match(/<style>/g)).to.have.length(1);
    // Nothing on the page names the hosts Chromium itself talks to (see BROWSER_OWN).
    expect(html).not.to.match(/google\.com|googleapis\.com|gvt1\.com|gstatic\.com/);
  });

  it('the page text shows every failing rule with its expected value and its fix (a diff, a mode change, or why apply holds back)', async () => {
    const dom = await chromium(path.join(dir, 'report.html'), proxy.port, ['--dump-dom']);
    const text = textOf(dom);
    expect(text).to.contain(`Failures (${failing.length})`);
    for (const finding of failing) {
      const start = dom.indexOf(`<article class="rule fail" id="rule-${finding.id}">`);
      expect(start, finding.id).to.be.above(-1);
      const article = textOf(dom.slice(start, dom.indexOf('</article>', start)));
      expect(article, finding.id).to.contain(finding.id);
      expect(article, finding.id).to.contain(textOf(finding.expected).trim());
      expect(article, finding.id).to.match(/Fix (What kube-harden apply would do:|Held back:)/);
    }
    // The policy evidence and the provenance are on the page.
    expect(text).to.match(/Generated 2026-11-22T12:00:00.000Z by kube-harden \d+\.\d+\.\d+/);
    expect(text).to.match(/sha256 \(effective policy\) [0-9a-f]{64}/);
    expect(text).to.contain('kube-harden apply would write');
    expect(proxy.fromPage()).to.deep.equal([]);
  });

  it('renders to a screenshot with no request leaving the page', async () => {
    const png = path.join(dir, 'report.png');
    await chromium(path.join(dir, 'report.html'), proxy.port, [`--screenshot=${png}`]);
    const bytes = readFileSync(png);
    expect(bytes.subarray(0, 8).toString('hex')).to.equal('89504e470d0a1a0a');
    expect([bytes.readUInt32BE(16), bytes.readUInt32BE(20)]).to.deep.equal([1280, 4000]);
    expect(bytes.length).to.be.above(50_000);
    expect(proxy.fromPage()).to.deep.equal([]);
  });

  it('the check can fail: an external image is requested without the CSP and blocked with it', async () => {
    const image = '<img src="http://kube-harden.invalid/pixel.png" alt="">';
    const open = path.join(dir, 'control-open.html');
    writeFileSync(open, `<!DOCTYPE html><html><body>${image}</body></html>`);
    await chromium(open, proxy.port, ['--dump-dom']);
    expect(proxy.fromPage().join('\n')).to.contain('kube-harden.invalid');
    proxy.requests.length = 0;
    const guarded = path.join(dir, 'control-csp.html');
    writeFileSync(guarded, html.replace('<main>', `<main>${image}`));
    await chromium(guarded, proxy.port, ['--dump-dom']);
    expect(proxy.fromPage()).to.deep.equal([]);
  });
});
