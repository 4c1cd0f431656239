// Drives Clerk's PREBUILT components (@clerk/ui, pinned in package.json, on the unmodified clerk-js
// bundle) in headless Chromium against a totpkit server, the way a person uses them: <SignIn/> with
// email and password, <UserProfile/> → Security → add an authenticator app (QR code, the secret
// behind "Can't scan QR code?", a wrong code, the right code, ten backup codes), Active devices,
// regenerating the backup codes, <UserButton/> → Sign out, signing in with the TOTP screen and with
// "Use a backup code", and removing the authenticator. page/prebuilt.html is served from one
// 127.0.0.1 port and the FAPI from another. A screenshot of every screen goes to SCREENSHOT_DIR.
//
// Environment:
//   FAPI_URL, PAGE_URL, EMAIL, PASSWORD, CLERK_INSTANCE, CHROMIUM_PATH, FLOW_DEBUG: as browser.mjs
//                   (PAGE_URL points at page/prebuilt.html; the user must exist without MFA)
//   SCREENSHOT_DIR  where NN-name.png files are written (required)
//   OTHER_DEVICES   how many other sessions the user has on other devices (default 0); the flow signs
//                   each out from Active devices ("Sign out of device")
//   FLOW_TIMEOUT_MS overall time limit (default 170000)
//
// Output: progress on stderr; the LAST line on stdout is one JSON summary. Exit 0 on success, 1 on any
// failed expectation, any FAPI answer the step did not expect (4xx/5xx), any failed request, any
// request to a host other than the page's and the FAPI's (no CDN) and any browser console error.

import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CodeClock, ExpectationError, base32Decode, expect, reporter, requiredEnv, sleep } from './lib/common.mjs';

const DEV_FAPI_HOST = 'local-dev-1.clerk.accounts.dev';
const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const FAPI_URL = requiredEnv('FAPI_URL').replace(/\/+$/, '');
const PAGE_URL = requiredEnv('PAGE_URL');
const EMAIL = requiredEnv('EMAIL');
const PASSWORD = requiredEnv('PASSWORD');
const SCREENSHOT_DIR = requiredEnv('SCREENSHOT_DIR');
const INSTANCE = process.env.CLERK_INSTANCE || 'production';
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT_MS = Number(process.env.FLOW_TIMEOUT_MS || 170_000);
const DEBUG = process.env.FLOW_DEBUG === '1';
const FAPI_ORIGIN = new URL(FAPI_URL).origin;
const PAGE_ORIGIN = new URL(PAGE_URL).origin;
const OTHER_DEVICES = Number(process.env.OTHER_DEVICES || 0);
const UI_TIMEOUT_MS = 20_000;

const summary = { ok: false, instance: INSTANCE, steps: [], screenshots: [], problems: [] };
const { log, step } = reporter('prebuilt', summary);
const codes = new CodeClock(log);
const requestLog = [];
const consoleLog = [];
const foreignRequests = [];
let currentStep = 'start';
let allowed = new Set(); // non-2xx FAPI statuses the running step expects (a wrong code: 422)
let page;

// ---------------------------------------------------------------- recording

function publishableKey() {
  if (INSTANCE === 'development') return `pk_test_${Buffer.from(`${DEV_FAPI_HOST}$`).toString('base64')}`;
  if (INSTANCE === 'production') return `pk_live_${Buffer.from(`${new URL(FAPI_URL).host}$`).toString('base64')}`;
  throw new ExpectationError(`CLERK_INSTANCE must be "production" or "development", not ${JSON.stringify(INSTANCE)}`);
}

function formatEntry(e) {
  const method = e._method ? `${e.method}(${e._method})` : e.method;
  return `${e.status ?? '---'} ${method} ${e.path}${e.failure ? ` FAILED ${e.failure}` : ''} [${e.step}]`;
}

function record(context) {
  const entries = new Map();
  context.on('request', request => {
    const url = new URL(request.url());
    if (url.protocol === 'blob:' || url.protocol === 'data:') return;
    if (url.origin !== FAPI_ORIGIN) {
      if (url.origin !== PAGE_ORIGIN) foreignRequests.push(`${request.method()} ${request.url().slice(0, 200)} [${currentStep}]`);
      return;
    }
    const entry = {
      step: currentStep,
      method: request.method(),
      path: url.pathname,
      _method: url.searchParams.get('_method') ?? undefined,
      dbJwt: url.searchParams.has('__clerk_db_jwt'),
      status: null,
      allowed: [...allowed],
    };
    requestLog.push(entry);
    entries.set(request, entry);
  });
  context.on('response', response => {
    const entry = entries.get(response.request());
    if (!entry) return;
    entry.status = response.status();
    if (DEBUG) log(`http ${formatEntry(entry)}`);
    if (entry.status >= 400) response.text().then(t => (entry.body = t.slice(0, 400))).catch(() => {});
  });
  context.on('requestfailed', request => {
    const entry = entries.get(request);
    if (entry) entry.failure = request.failure()?.errorText ?? 'failed';
  });
}

function recordConsole(target) {
  target.on('console', message => {
    if (message.type() !== 'error') return;
    consoleLog.push({ step: currentStep, text: message.text().slice(0, 600), url: message.location()?.url ?? '' });
    if (DEBUG) log(`console.error ${message.text().slice(0, 300)}`);
  });
  target.on('pageerror', error => consoleLog.push({ step: currentStep, text: `pageerror ${String(error?.stack || error).slice(0, 600)}` }));
}

function collectProblems() {
  const problems = [];
  for (const e of requestLog) {
    if (e.failure) problems.push(`request failed: ${formatEntry(e)}`);
    else if (e.status === null) problems.push(`no answer: ${formatEntry(e)}`);
    else if (e.status >= 400 && !e.allowed.includes(e.status)) problems.push(`unexpected status: ${formatEntry(e)} ${e.body ?? ''}`);
  }
  for (const f of foreignRequests) problems.push(`request to another host (no CDN allowed): ${f}`);
  for (const c of consoleLog) {
    // Chromium logs every non-2xx fetch; such a line is fine for an answer the step expected.
    const status = /status of (\d+)/.exec(c.text)?.[1];
    const expected = status && c.url.startsWith(`${FAPI_ORIGIN}/`) && requestLog.some(r => r.status === Number(status) && r.allowed.includes(r.status));
    if (!expected) problems.push(`console error [${c.step}]: ${c.text}`);
  }
  return problems;
}

// ---------------------------------------------------------------- the page

let shots = 0;

async function screenshot(name) {
  shots += 1;
  const path = join(SCREENSHOT_DIR, `${String(shots).padStart(2, '0')}-${name}.png`);
  await page.waitForTimeout(300); // let the card's enter animation finish
  await page.screenshot({ path, fullPage: true });
  summary.screenshots.push(path);
  log(`screenshot ${path}`);
}

const state = () => page.evaluate(() => window.totpkitPrebuilt.state());

async function waitForMounted(which) {
  await page.waitForFunction(w => window.totpkitPrebuilt.state().mounted === w, which, { timeout: UI_TIMEOUT_MS });
}

// Clerk's one-time-code field (input-otp: one input behind six boxes); Clerk submits when it is full.
const otpInput = () => page.locator('input[data-input-otp="true"]');

async function typeCode(code) {
  const input = otpInput().first();
  await input.waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
  for (let attempt = 1; ; attempt += 1) {
    await input.fill('');
    await page.waitForTimeout(300); // the field settles after an error before it takes keys again
    await input.pressSequentially(code, { delay: 60 });
    await page.waitForTimeout(300);
    // A keystroke lost while the field re-rendered leaves fewer digits and submits nothing: type
    // again. (After a successful code the field is gone.)
    const value = await input.inputValue({ timeout: 1000 }).catch(() => code);
    if (value.length >= code.length) return;
    if (attempt === 3) throw new ExpectationError(`the code field took ${JSON.stringify(value)} of ${code}`);
    log(`the code field took ${JSON.stringify(value)}; typing the code again`);
  }
}

async function expectText(text, what) {
  try {
    await page.getByText(text, { exact: false }).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  } catch {
    throw new ExpectationError(`${what}: "${text}" is not shown`);
  }
}

async function click(locator, what) {
  try {
    await locator.first().click({ timeout: UI_TIMEOUT_MS });
  } catch (err) {
    throw new ExpectationError(`${what}: could not click (${String(err?.message ?? err).split('\n')[0]})`);
  }
}

async function waitFor(condition, what) {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > UI_TIMEOUT_MS) throw new ExpectationError(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

const primaryButton = () => page.locator('.cl-formButtonPrimary');

// ---------------------------------------------------------------- the steps

async function signInWithPassword(label) {
  await waitForMounted('signed-out');
  const identifier = page.locator('input[name="identifier"]');
  await identifier.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  if (label === 'first') {
    expect((await page.locator('.cl-footerActionLink').count()) === 0, 'the sign-in card offers no "Sign up" link');
    await screenshot('sign-in');
  }
  await identifier.fill(EMAIL);
  await click(primaryButton(), 'Continue after the email');
  const password = page.locator('input[name="password"]');
  await password.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'password', null, { timeout: 5000 }).catch(() => {});
  if (label === 'first') await screenshot('sign-in-password');
  await password.fill(PASSWORD);
  await click(primaryButton(), 'Continue after the password');
}

async function openSecurity() {
  await page.locator('.cl-userProfile-root').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await click(page.locator('.cl-navbarButton__security'), 'UserProfile → Security');
  await page.locator('.cl-profileSection__activeDevices').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
}

async function signOut(name) {
  await click(page.locator('.cl-userButtonTrigger'), 'UserButton');
  await page.locator('.cl-userButtonPopoverCard').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await screenshot(name);
  await click(page.locator('.cl-userButtonPopoverActionButton__signOut'), 'UserButton → Sign out');
  await waitForMounted('signed-out');
  const s = await state();
  expect(!s.userId, 'signed out', s);
}

async function flow() {
  const url = new URL(PAGE_URL);
  url.searchParams.set('pk', publishableKey());
  url.searchParams.set('proxy', FAPI_URL);
  expect(url.origin !== FAPI_ORIGIN, 'the page and the FAPI have different origins', url.origin);

  currentStep = 'load';
  await page.goto(url.href, { waitUntil: 'load' });
  await page.waitForFunction(() => Boolean(window.Clerk && window.__internal_ClerkUICtor && window.totpkitPrebuilt), null, { timeout: 15_000 });
  await page.evaluate(() => window.totpkitPrebuilt.load());
  const devBrowser = requestLog.filter(r => r.path === '/v1/dev_browser').length;
  expect(INSTANCE === 'development' ? devBrowser >= 1 : devBrowser === 0, `${INSTANCE}: dev browser calls`, requestLog.map(formatEntry));
  step('load');

  // 1. <SignIn/>: email, then password
  currentStep = 'sign_in';
  await signInWithPassword('first');
  await waitForMounted('signed-in');
  let s = await state();
  expect(s.userId && s.totpEnabled === false, 'signed in, no TOTP yet', s);
  summary.userId = s.userId;
  summary.firstSessionId = s.sessionId;
  step('sign_in');

  // 2. <UserProfile/> → Security: Active devices lists this session
  currentStep = 'security';
  await page.locator('.cl-userProfile-root').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await expectText(EMAIL, 'the Profile page lists the email address');
  expect((await page.getByText(/add email address/i).count()) === 0, 'the Profile page offers no "Add email address"');
  await screenshot('user-profile');
  await openSecurity();
  const devices = page.locator('.cl-activeDeviceListItem');
  await devices.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await page.waitForFunction(n => document.querySelectorAll('.cl-activeDeviceListItem').length === n, OTHER_DEVICES + 1, { timeout: UI_TIMEOUT_MS }).catch(() => {});
  summary.activeDevices = await devices.count();
  expect(summary.activeDevices === OTHER_DEVICES + 1, `Active devices lists this device and ${OTHER_DEVICES} other(s)`, summary.activeDevices);
  await expectText('This device', 'Active devices marks the current session');
  expect((await page.getByText(/delete account/i).count()) === 0, 'the Security page offers no "Delete account"');
  expect(requestLog.some(r => r.path === '/v1/me/sessions/active' && r.status === 200), 'GET /v1/me/sessions/active answered 200', requestLog.map(formatEntry));
  await screenshot('security');
  step('security', { activeDevices: summary.activeDevices });

  // 2b. sign the other devices out ("Sign out of device": POST /v1/me/sessions/{id}/revoke)
  currentStep = 'revoke_other_devices';
  for (let left = OTHER_DEVICES; left > 0; left -= 1) {
    const other = devices.filter({ hasNotText: 'This device' }).first();
    await click(other.locator('.cl-menuButton, button'), 'the menu of another device');
    const revokes = requestLog.filter(r => r.path.endsWith('/revoke')).length;
    await click(page.getByRole('menuitem', { name: /sign out of device/i }), 'Sign out of device');
    await page.waitForFunction(n => document.querySelectorAll('.cl-activeDeviceListItem').length === n, left, { timeout: 3000 }).catch(async () => {
      // Clerk's list hides a revoked session when the section renders again; open it anew.
      await waitFor(() => requestLog.filter(r => r.path.endsWith('/revoke') && r.status).length > revokes, 'the revoke answer');
      await click(page.locator('.cl-navbarButton__account'), 'UserProfile → Profile');
      await openSecurity();
    });
    await page.waitForFunction(n => document.querySelectorAll('.cl-activeDeviceListItem').length === n, left, { timeout: UI_TIMEOUT_MS });
  }
  summary.revoked = requestLog.filter(r => /^\/v1\/me\/sessions\/[^/]+\/revoke$/.test(r.path) && r.status === 200).length;
  expect(summary.revoked === OTHER_DEVICES, 'one POST /v1/me/sessions/{id}/revoke per other device', requestLog.map(formatEntry));
  if (OTHER_DEVICES) await screenshot('security-other-devices-signed-out');
  step('revoke_other_devices', { revoked: summary.revoked });

  // 3. add an authenticator app: QR code, then the secret behind "Can't scan QR code?"
  currentStep = 'add_totp';
  await click(page.getByRole('button', { name: /add two-step verification/i }), 'Add two-step verification');
  await screenshot('add-two-step-menu');
  await click(page.getByText('Authenticator application', { exact: false }), 'Authenticator application');
  const qr = page.locator('.cl-qrCodeContainer svg, .cl-qrCodeContainer canvas, .cl-qrCodeRow svg, .cl-qrCodeRow canvas');
  await qr.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await screenshot('authenticator-qr-code');
  await click(page.getByText(/can.t scan qr code/i), "Can't scan QR code?");
  // The key and the otpauth URI are shown in read-only fields with copy buttons.
  await page.waitForFunction(() => [...document.querySelectorAll('input')].some(i => i.value.startsWith('otpauth://totp/')), null, { timeout: UI_TIMEOUT_MS });
  const shown = await page.locator('input').evaluateAll(inputs => inputs.filter(i => i.offsetParent !== null).map(i => i.value));
  const secret = shown.find(v => /^[A-Z2-7]{16,}$/.test(v));
  const uri = shown.find(v => v.startsWith('otpauth://totp/'));
  expect(secret, 'the secret is shown as base32', shown);
  expect(new URL(uri).searchParams.get('secret') === secret, 'the otpauth URI carries the same secret', uri);
  summary.totpUri = uri.replace(/secret=[A-Z2-7]+/, 'secret=…');
  await screenshot('authenticator-secret');
  const key = base32Decode(secret);
  step('add_totp');

  // 4. a wrong code: "Incorrect code" (HTTP 422), then the right one: ten backup codes
  currentStep = 'verify_totp_wrong_code';
  await click(primaryButton(), 'Continue to the code');
  await otpInput().first().waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
  await screenshot('authenticator-verify');
  allowed = new Set([422]);
  await typeCode(codes.wrongCode(key));
  await expectText('Incorrect code', 'a wrong code');
  await screenshot('authenticator-incorrect-code');
  allowed = new Set();
  expect(requestLog.some(r => r.path === '/v1/me/totp/attempt_verification' && r.status === 422), 'the wrong code was answered 422', requestLog.map(formatEntry));
  step('verify_totp_wrong_code');

  currentStep = 'verify_totp';
  const right = await codes.freshCode(key);
  await typeCode(right.code);
  codes.markUsed(right.step);
  await expectText('backup codes', 'the backup codes after verification');
  const backupCodes = await readBackupCodes();
  expect(backupCodes.length === 10, 'ten backup codes are shown', backupCodes);
  summary.backupCodes = backupCodes.length;
  await screenshot('backup-codes');
  await click(page.getByRole('button', { name: /finish/i }), 'Finish');
  s = await state();
  expect(s.totpEnabled === true, 'totpEnabled after the UI enrolment', s);
  step('verify_totp');

  // 5. regenerate the backup codes (the backup-code screen of the Security page)
  currentStep = 'regenerate_backup_codes';
  await page.locator('.cl-profileSection__mfa').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await screenshot('security-with-authenticator');
  await openItemMenu(/backup codes/i);
  await click(page.getByRole('menuitem', { name: /regenerate/i }), 'Regenerate');
  await expectText('backup codes', 'the regenerated backup codes');
  await page.waitForTimeout(500);
  const regenerated = await readBackupCodes();
  expect(regenerated.length === 10, 'ten regenerated backup codes', regenerated);
  expect(regenerated.every(c => !backupCodes.includes(c)), 'the regenerated codes are new', { backupCodes, regenerated });
  await screenshot('backup-codes-regenerated');
  await click(page.getByRole('button', { name: /finish/i }), 'Finish');
  step('regenerate_backup_codes');

  // 6. sign out through <UserButton/>
  currentStep = 'sign_out';
  await signOut('user-button-menu');
  step('sign_out');

  // 7. sign in again: the TOTP screen
  currentStep = 'sign_in_totp';
  await signInWithPassword('again');
  await otpInput().first().waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
  await screenshot('sign-in-totp');
  const second = await codes.freshCode(key);
  await typeCode(second.code);
  codes.markUsed(second.step);
  await waitForMounted('signed-in');
  s = await state();
  expect(s.userId === summary.userId && s.totpEnabled === true, 'signed in with the TOTP screen', s);
  step('sign_in_totp', { stepOffset: second.offset });

  currentStep = 'sign_out_again';
  await signOut('user-button-menu-2fa');
  step('sign_out_again');

  // 8. sign in with "Use a backup code"
  currentStep = 'sign_in_backup_code';
  await signInWithPassword('backup');
  await otpInput().first().waitFor({ state: 'attached', timeout: UI_TIMEOUT_MS });
  await click(page.getByText(/use another method/i), 'Use another method');
  await screenshot('sign-in-other-methods');
  await click(page.getByText(/backup code/i), 'Use a backup code');
  const backupInput = page.locator('input[name="code"]');
  await backupInput.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await screenshot('sign-in-backup-code');
  await backupInput.fill(regenerated[0]);
  await click(primaryButton(), 'Continue with the backup code');
  await waitForMounted('signed-in');
  s = await state();
  expect(s.userId === summary.userId, 'signed in with a backup code', s);
  step('sign_in_backup_code');

  // 9. reload the page: clerk-js finds the session again (cookie or dev browser); Clerk's UI caches
  // the device list per page, so only a fresh page shows the backup-code session as "This device"
  currentStep = 'reload';
  await page.reload({ waitUntil: 'load' });
  await page.waitForFunction(() => Boolean(window.Clerk && window.__internal_ClerkUICtor && window.totpkitPrebuilt), null, { timeout: 15_000 });
  await page.evaluate(() => window.totpkitPrebuilt.load());
  await waitForMounted('signed-in');
  s = await state();
  expect(s.userId === summary.userId && s.totpEnabled === true, 'still signed in after a reload', s);
  step('reload');

  // 10. remove the authenticator
  currentStep = 'remove_totp';
  await openSecurity();
  await page.locator('.cl-activeDeviceListItem__current').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  expect((await page.locator('.cl-activeDeviceListItem').count()) === 1, 'one active device after the reload');
  await page.locator('.cl-profileSection__mfa').waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await openItemMenu(/authenticator application/i);
  await click(page.getByRole('menuitem', { name: /remove/i }), 'Remove (menu)');
  await screenshot('remove-authenticator');
  await click(page.locator('.cl-formButtonPrimary'), 'Remove (confirm)');
  await page.waitForFunction(() => window.totpkitPrebuilt.state().totpEnabled === false, null, { timeout: UI_TIMEOUT_MS });
  await page.waitForTimeout(500);
  await screenshot('authenticator-removed');
  step('remove_totp');

  summary.ok = true;
}

// The MFA section lists an item per factor with a "…" menu; opens the menu of the item matching name.
async function openItemMenu(name) {
  const item = page.locator('.cl-profileSectionItem__mfa').filter({ hasText: name });
  await item.first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  await click(item.first().locator('.cl-menuButton, button'), `the menu of ${name}`);
}

// The backup codes on the screen (Clerk shows them as a list of short codes).
async function readBackupCodes() {
  await page.getByRole('button', { name: /finish/i }).first().waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  return page.evaluate(() => {
    const leaves = [...document.querySelectorAll('.cl-userProfile-root *')].filter(e => e.children.length === 0 && e.offsetParent !== null);
    return [...new Set(leaves.map(e => e.textContent.trim()).filter(t => /^[a-z0-9]{8,16}$/.test(t)))];
  });
}

// ---------------------------------------------------------------- main

function finish(code) {
  summary.requests = requestLog.length;
  summary.requestLog = requestLog.map(formatEntry);
  summary.foreignRequests = foreignRequests;
  summary.consoleLog = consoleLog;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(code);
}

let browserContext;
let userDataDir;

async function cleanup() {
  try {
    await browserContext?.close();
  } catch {
    // already closed
  }
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
}

async function debugDump() {
  try {
    await page.screenshot({ path: join(SCREENSHOT_DIR, `failed-${currentStep}.png`), fullPage: true });
    summary.failedDom = await page.evaluate(() => document.body.innerText.slice(0, 2000));
    if (DEBUG) {
      await page.waitForTimeout(2000);
      summary.failedClasses = await page.evaluate(() =>
        [...document.querySelectorAll('[class*="cl-"]')].map(e => [...e.classList].filter(c => c.startsWith('cl-') && !c.startsWith('cl-internal')).join('.') + (e.children.length ? '' : ` ${e.textContent.slice(0, 30)}`)),
      );
    }
  } catch {
    // the page is gone
  }
}

const timer = setTimeout(async () => {
  summary.error = { kind: 'timeout', message: `flow did not finish within ${TIMEOUT_MS} ms (step ${currentStep})` };
  await Promise.race([debugDump(), sleep(5000)]);
  summary.problems = collectProblems();
  await Promise.race([cleanup(), sleep(5000)]);
  finish(1);
}, TIMEOUT_MS);

let exitCode = 1;
try {
  expect(existsSync(CHROMIUM_PATH), `no Chromium at ${CHROMIUM_PATH}: install Debian's chromium or set CHROMIUM_PATH`);
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  userDataDir = mkdtempSync(join(tmpdir(), 'totpkit-chromium-'));
  browserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 30_000,
    viewport: { width: 1280, height: 900 },
  });
  record(browserContext);
  page = browserContext.pages()[0] ?? (await browserContext.newPage());
  page.setDefaultTimeout(30_000);
  recordConsole(page);
  summary.browserVersion = browserContext.browser()?.version() ?? null;
  await flow();
  await sleep(500);
  summary.problems = collectProblems();
  if (summary.problems.length) {
    summary.ok = false;
    summary.error = { kind: 'problems', message: `${summary.problems.length} problem(s) with the FAPI answers, hosts or console` };
    for (const p of summary.problems) log(`PROBLEM ${p}`);
  } else {
    exitCode = 0;
  }
} catch (err) {
  summary.ok = false;
  summary.error = { kind: err?.constructor?.name, message: String(err?.message ?? err), stack: err?.stack };
  await Promise.race([debugDump(), sleep(5000)]);
  summary.problems = collectProblems();
  log(`FAILED in step ${currentStep}: ${summary.error.message}`);
  for (const p of summary.problems) log(`PROBLEM ${p}`);
} finally {
  clearTimeout(timer);
  await Promise.race([cleanup(), sleep(5000)]);
}
finish(exitCode);
