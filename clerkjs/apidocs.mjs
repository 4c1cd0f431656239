// Opens totpkit's API docs page (/docs: Swagger UI over /openapi.json, its files served by the
// server) in headless Chromium and reads the operations it lists. See
// server/tests/test_pages_browser.py.
//
// Environment:
//   DOCS_URL        the page, e.g. http://127.0.0.1:8765/docs (required)
//   CHROMIUM_PATH   the browser (default /usr/bin/chromium, Debian's package); never downloaded
//   SCREENSHOT_DIR  where to save screenshots (optional)
//   FLOW_TIMEOUT_MS overall time limit (default 60000)
//
// Output: the LAST line on stdout is one JSON summary with the listed operations ("GET /v1/me", ...).
// Exit 1 on a failed expectation, an HTTP error, a request to another host, a failed request or
// any console error.

import { ExpectationError, expect, reporter, requiredEnv } from './lib/common.mjs';
import { finish, openBrowser } from './lib/pages.mjs';

const DOCS_URL = requiredEnv('DOCS_URL');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
const TIMEOUT_MS = Number(process.env.FLOW_TIMEOUT_MS || 60_000);

const summary = { ok: false, steps: [], operations: [], screenshots: [], problems: [] };
const { log, step } = reporter('apidocs', summary);
let browser;

async function flow() {
  const { page } = browser;
  browser.setStep('load');
  await page.goto(DOCS_URL, { waitUntil: 'load' });
  await page.waitForSelector('.opblock', { timeout: 30_000 });
  summary.title = await page.textContent('.info .title');
  summary.operations = await page.$$eval('.opblock', blocks =>
    blocks.map(block => {
      const method = block.querySelector('.opblock-summary-method')?.textContent?.trim();
      const path = block.querySelector('.opblock-summary-path')?.getAttribute('data-path');
      return `${method} ${path}`;
    }),
  );
  expect(summary.operations.length > 0, 'Swagger UI lists operations');
  summary.screenshots.push(await browser.screenshot('docs'));
  step('load', { operations: summary.operations.length });

  // Expanding one operation shows its description and answers (the document is interactive).
  browser.setStep('expand');
  const first = page.locator('.opblock').first();
  await first.locator('.opblock-summary-control').click();
  await first.locator('.responses-wrapper').waitFor();
  summary.expandedResponses = await first.locator('.responses-table .response-col_status').allTextContents();
  expect(summary.expandedResponses.length > 0, 'an expanded operation lists its answers');
  summary.screenshots.push(await browser.screenshot('docs-operation'));
  step('expand');
  summary.ok = true;
}

const timer = setTimeout(async () => {
  summary.ok = false;
  summary.error = { kind: 'timeout', message: `the docs page did not finish within ${TIMEOUT_MS} ms` };
  await browser?.close();
  finish(summary);
}, TIMEOUT_MS);

try {
  browser = await openBrowser({ chromiumPath: CHROMIUM_PATH, origin: new URL(DOCS_URL).origin, screenshotDir: SCREENSHOT_DIR });
  await flow();
} catch (err) {
  summary.ok = false;
  summary.error = { kind: err instanceof ExpectationError ? 'expectation' : err?.constructor?.name, message: String(err?.message ?? err) };
  log(`FAILED: ${summary.error.message}`);
} finally {
  clearTimeout(timer);
}
if (browser) {
  summary.problems = browser.problems();
  summary.screenshots = summary.screenshots.filter(Boolean);
  await browser.close();
}
if (summary.problems.length) summary.ok = false;
for (const p of summary.problems) log(`PROBLEM ${p}`);
finish(summary);
