// What the page drivers (example.mjs, apidocs.mjs) share: Debian's Chromium through playwright-core
// (never a downloaded browser), a record of every request, console message and page error, and
// screenshots into a directory given by the test.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { ExpectationError, expect } from './common.mjs';

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Opens one page in a fresh Chromium profile and records what it does. `origin` is the server's;
// a request anywhere else (a CDN, a telemetry host) is recorded as a problem.
export async function openBrowser({ chromiumPath, origin, screenshotDir, viewport = { width: 1100, height: 900 } }) {
  expect(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  if (screenshotDir) mkdirSync(screenshotDir, { recursive: true });
  const userDataDir = mkdtempSync(join(tmpdir(), 'totpkit-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport,
    timeout: 30_000,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30_000);
  const record = { requests: [], console: [], foreign: [], failed: [] };
  let step = 'start';
  let allowed = new Set(); // non-2xx statuses the running step expects

  context.on('request', request => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    if (!url.startsWith(`${origin}/`)) record.foreign.push(url);
  });
  context.on('response', response => {
    const url = new URL(response.url());
    if (`${url.protocol}//${url.host}` !== origin) return;
    const status = response.status();
    record.requests.push({
      step,
      method: response.request().method(),
      path: url.pathname,
      _method: url.searchParams.get('_method'),
      status,
      expected: status < 400 || allowed.has(status),
    });
  });
  context.on('requestfailed', request => {
    record.failed.push({ step, url: request.url(), error: request.failure()?.errorText ?? 'failed' });
  });
  page.on('console', message => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    record.console.push({ step, type: message.type(), text: message.text().slice(0, 600), url: message.location()?.url ?? '' });
  });
  page.on('pageerror', error => record.console.push({ step, type: 'pageerror', text: String(error?.stack || error).slice(0, 600) }));

  let shots = 0;
  return {
    page,
    record,
    setStep(name, expectedStatuses = []) {
      step = name;
      allowed = new Set(expectedStatuses);
    },
    // A full-page screenshot named NN-name.png; returns its path (null without a directory).
    async screenshot(name, target = page) {
      if (!screenshotDir) return null;
      shots += 1;
      const path = join(screenshotDir, `${String(shots).padStart(2, '0')}-${name}.png`);
      await target.screenshot(target === page ? { path, fullPage: true } : { path });
      return path;
    },
    // Everything that went wrong besides the flow's own expectations.
    problems() {
      const problems = [];
      for (const r of record.requests) {
        if (!r.expected) problems.push(`unexpected HTTP ${r.status}: ${r.method} ${r.path}${r._method ? `?_method=${r._method}` : ''} [${r.step}]`);
      }
      for (const url of record.foreign) problems.push(`request to another host: ${url}`);
      for (const f of record.failed) problems.push(`request failed: ${f.url} ${f.error} [${f.step}]`);
      for (const c of record.console) {
        if (c.type === 'warning') continue;
        // Chromium logs every non-2xx fetch; fine when the step expected that status.
        const match = /Failed to load resource: the server responded with a status of (\d+)/.exec(c.text);
        if (match && record.requests.some(r => r.status === Number(match[1]) && r.step === c.step && r.expected)) continue;
        problems.push(`console ${c.type} [${c.step}]: ${c.text}${c.url ? ` (${c.url})` : ''}`);
      }
      return problems;
    },
    async close() {
      try {
        await context.close();
      } catch {
        // already closed
      }
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

// Prints the summary as the last stdout line and exits (0 when summary.ok).
export function finish(summary) {
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(summary.ok ? 0 : 1);
}

export { ExpectationError };
