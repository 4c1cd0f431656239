// Drives totpkit's example page (/examples/totp, served by `totpkit serve` with the unmodified
// clerk-js bundle) in headless Chromium the way a person would: typing into its fields, clicking
// every button, and reading what the page shows. See server/tests/test_pages_browser.py.
//
// Environment:
//   PAGE_URL        the example page, e.g. http://127.0.0.1:8765/examples/totp (required)
//   EMAIL, PASSWORD credentials of an existing user without MFA (required)
//   CHROMIUM_PATH   the browser (default /usr/bin/chromium, Debian's package); never downloaded
//   SCREENSHOT_DIR  where to save a screenshot of each step (optional)
//   FLOW_TIMEOUT_MS overall time limit (default 120000)
//
// Output: progress on stderr; the LAST line on stdout is one JSON summary. Exit 0 on success, 1 on
// any failed expectation, any unexpected HTTP status, a request to another host, a failed request
// or a browser console error that the flow did not expect.

import { CodeClock, ExpectationError, base32Decode, expect, reporter, requiredEnv } from './lib/common.mjs';
import { finish, openBrowser } from './lib/pages.mjs';

const PAGE_URL = requiredEnv('PAGE_URL');
const EMAIL = requiredEnv('EMAIL');
const PASSWORD = requiredEnv('PASSWORD');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const SCREENSHOT_DIR = process.env.SCREENSHOT_DIR || '';
const TIMEOUT_MS = Number(process.env.FLOW_TIMEOUT_MS || 120_000);

const summary = { ok: false, steps: [], results: {}, screenshots: [], problems: [] };
const { log, step } = reporter('example', summary);
const codes = new CodeClock(log);
let browser;
let page;

// What the page shows about the last call: the summary line, its data attributes, the JSON panel.
async function shownResult() {
  return page.evaluate(() => {
    const line = document.getElementById('result-summary');
    return {
      call: line.dataset.call,
      outcome: line.dataset.outcome,
      text: line.textContent,
      json: JSON.parse(document.getElementById('result').textContent),
    };
  });
}

// Clicks `selector` and waits for the page to show the call's result (ok or error).
async function click(selector, name, expectedStatuses = []) {
  browser.setStep(name, expectedStatuses);
  const before = Number((await page.getAttribute('body', 'data-results')) || 0);
  await page.click(selector);
  await page.waitForFunction(
    n => Number(document.body.dataset.results || 0) > n && !document.body.dataset.busy,
    before,
  );
  const result = await shownResult();
  summary.results[name] = { call: result.call, outcome: result.outcome, text: result.text };
  return result;
}

function expectError(result, call, status, code) {
  expect(result.call === call, `the panel shows ${call}`, result);
  expect(result.outcome === 'error', `${call} failed`, result);
  expect(result.json.status === status, `${call}: HTTP ${status}`, result);
  expect(result.json.errors?.[0]?.code === code, `${call}: error code ${code}`, result);
  expect(result.text.includes(`HTTP ${status} ${code}`), `${call}: the summary line names ${status} ${code}`, result);
}

function expectOk(result, call) {
  expect(result.call === call, `the panel shows ${call}`, result);
  expect(result.outcome === 'ok', `${call} succeeded`, result);
  expect(result.text === `${call} → ok`, `${call}: the summary line says ok`, result);
}

const totpEnabled = () => page.getAttribute('body', 'data-totp-enabled');

async function shot(name) {
  const path = await browser.screenshot(name);
  if (path) summary.screenshots.push(path);
}

async function flow() {
  // 1. the page loads clerk-js from the server and offers the sign-in form
  browser.setStep('load');
  await page.goto(PAGE_URL, { waitUntil: 'load' });
  await page.waitForSelector('body[data-clerk="loaded"]', { timeout: 20_000 });
  await page.waitForSelector('#sign-in-section:not([hidden])');
  expect(await page.isHidden('#user-section'), 'no user section before sign-in');
  await shot('sign-in-form');
  step('load');

  // 2. sign in with email and password (signIn.create, then setActive)
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  expectOk(await click('#sign-in', 'sign_in'), 'signIn.create({ identifier, password })');
  await page.waitForSelector('#user-section:not([hidden])');
  expect((await page.textContent('#user-email')) === EMAIL, 'the page shows who signed in');
  expect((await totpEnabled()) === 'false', 'TOTP not enabled yet');
  await shot('signed-in');
  step('sign_in');

  // 3. backup codes need another factor first: 400 backup_codes_not_available
  expectError(
    await click('#create-backup-code', 'backup_codes_without_totp', [400]),
    'user.createBackupCode()',
    400,
    'backup_codes_not_available',
  );
  await shot('backup-codes-without-totp');
  step('backup_codes_without_totp');

  // 4. createTOTP: the secret, the URI and its QR code appear
  let result = await click('#create-totp', 'create_totp');
  expectOk(result, 'user.createTOTP()');
  const { secret, uri } = result.json;
  expect(typeof secret === 'string' && secret.length >= 16, 'createTOTP returns a secret', result.json);
  expect(uri?.startsWith('otpauth://totp/') && uri.includes(`secret=${secret}`), 'createTOTP returns the otpauth URI', result.json);
  expect(result.json.verified === false, 'the new TOTP is unverified', result.json);
  await page.waitForSelector('#enrolment:not([hidden])');
  expect((await page.textContent('#secret')) === secret, 'the secret is shown');
  expect((await page.textContent('#uri')) === uri, 'the URI is shown');
  await page.waitForFunction(() => document.getElementById('qr').naturalWidth > 0);
  summary.totpUri = uri;
  summary.qrNote = await page.textContent('#qr-note');
  await shot('create-totp');
  summary.qrScreenshot = await browser.screenshot('qr-code', page.locator('#qr'));
  step('create_totp');
  const key = base32Decode(secret);

  // 5. a wrong code: 422 form_code_incorrect, still signed in, TOTP still off
  await page.fill('#code', codes.wrongCode(key));
  expectError(await click('#verify-totp', 'verify_wrong_code', [422]), 'user.verifyTOTP({ code })', 422, 'form_code_incorrect');
  expect((await totpEnabled()) === 'false', 'TOTP still not enabled after a wrong code');
  expect(await page.isVisible('#user-section'), 'still signed in after a wrong code');
  await shot('verify-wrong-code');
  step('verify_wrong_code');

  // 6. the right code: verified, and a first set of backup codes
  const fresh = await codes.freshCode(key);
  await page.fill('#code', fresh.code);
  result = await click('#verify-totp', 'verify_totp');
  codes.markUsed(fresh.step);
  expectOk(result, 'user.verifyTOTP({ code })');
  expect(result.json.verified === true, 'verifyTOTP: verified', result.json);
  expect(Array.isArray(result.json.backupCodes) && result.json.backupCodes.length > 0, 'verifyTOTP: first backup codes', result.json);
  expect((await totpEnabled()) === 'true', 'TOTP enabled after verifying');
  expect((await page.textContent('#user-state')).startsWith('TOTP enabled'), 'the page says TOTP is enabled');
  expect(await page.isHidden('#enrolment'), 'the secret is hidden once enrolled');
  await shot('verify-totp');
  step('verify_totp', { backupCodes: result.json.backupCodes.length });

  // 7. createBackupCode now works
  result = await click('#create-backup-code', 'create_backup_code');
  expectOk(result, 'user.createBackupCode()');
  expect(Array.isArray(result.json.codes) && result.json.codes.length > 0, 'createBackupCode returns codes', result.json);
  summary.backupCodes = result.json.codes.length;
  await shot('create-backup-code');
  step('create_backup_code');

  // 8. sign out and in again: now the password needs a second factor, a TOTP code
  expectOk(await click('#sign-out', 'sign_out_enrolled'), 'Clerk.signOut()');
  await page.waitForSelector('#sign-in-section:not([hidden])');
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  result = await click('#sign-in', 'sign_in_needs_second_factor');
  expectOk(result, 'signIn.create({ identifier, password })');
  expect(result.json.status === 'needs_second_factor', 'sign-in needs a second factor', result.json);
  await page.waitForSelector('#second-factor-form:not([hidden])');
  expect(await page.isHidden('#user-section'), 'not signed in before the second factor');
  await shot('sign-in-second-factor');
  const second = await codes.freshCode(key);
  await page.fill('#second-factor-code', second.code);
  result = await click('#second-factor', 'sign_in_second_factor');
  codes.markUsed(second.step);
  expectOk(result, "signIn.attemptSecondFactor({ strategy: 'totp', code })");
  expect(result.json.status === 'complete', 'the second factor completes the sign-in', result.json);
  await page.waitForSelector('#user-section:not([hidden])');
  expect(await page.isHidden('#second-factor-form'), 'the second-factor form is gone');
  expect((await totpEnabled()) === 'true', 'TOTP enabled after signing in with it');
  step('sign_in_second_factor');

  // 9. disableTOTP
  result = await click('#disable-totp', 'disable_totp');
  expectOk(result, 'user.disableTOTP()');
  expect(result.json.deleted === true, 'disableTOTP: deleted', result.json);
  expect((await totpEnabled()) === 'false', 'TOTP disabled');
  expect(await page.isHidden('#enrolment'), 'the secret is no longer shown');
  step('disable_totp');

  // 10. disabling twice: 404 resource_not_found
  expectError(await click('#disable-totp', 'disable_twice', [404]), 'user.disableTOTP()', 404, 'resource_not_found');
  await shot('disable-twice');
  step('disable_twice');

  // 11. sign out: back to the sign-in form
  expectOk(await click('#sign-out', 'sign_out'), 'Clerk.signOut()');
  await page.waitForSelector('#sign-in-section:not([hidden])');
  expect(await page.isHidden('#user-section'), 'no user section after sign-out');
  step('sign_out');

  summary.ok = true;
}

const timer = setTimeout(async () => {
  summary.ok = false;
  summary.error = { kind: 'timeout', message: `the example flow did not finish within ${TIMEOUT_MS} ms` };
  await browser?.close();
  finish(summary);
}, TIMEOUT_MS);

try {
  browser = await openBrowser({ chromiumPath: CHROMIUM_PATH, origin: new URL(PAGE_URL).origin, screenshotDir: SCREENSHOT_DIR });
  page = browser.page;
  await flow();
} catch (err) {
  summary.ok = false;
  summary.error = { kind: err instanceof ExpectationError ? 'expectation' : err?.constructor?.name, message: String(err?.message ?? err) };
  log(`FAILED: ${summary.error.message}`);
  if (page) await shot('failure').catch(() => {});
} finally {
  clearTimeout(timer);
}
if (browser) {
  summary.problems = browser.problems();
  summary.requests = browser.record.requests.map(r => `${r.status} ${r.method} ${r.path}${r._method ? `?_method=${r._method}` : ''} [${r.step}]`);
  await browser.close();
}
if (summary.problems.length) summary.ok = false;
for (const p of summary.problems) log(`PROBLEM ${p}`);
finish(summary);
