// Drives Clerk's own, unmodified clerk-js bundle (clerk.browser.js, pinned in package.json) in
// headless Chromium against a totpkit server: the faithful test of the browser modes (CORS with
// credentials, the HttpOnly __client cookie, the dev browser, background token refresh). The page
// (page/index.html) is served from one 127.0.0.1 port and the FAPI from another. See README.md.
//
// Environment:
//   FAPI_URL        base URL of the server, e.g. http://127.0.0.1:8765 (required)
//   PAGE_URL        URL of page/index.html on a static server rooted at clerkjs/ (required),
//                   e.g. http://127.0.0.1:8080/page/index.html
//   EMAIL, PASSWORD credentials of an existing user without MFA (required)
//   CLERK_INSTANCE  "production" (pk_live_ of the FAPI host: __client cookie mode, default) or
//                   "development" (pk_test_ of local-dev-1.clerk.accounts.dev: dev-browser mode)
//   CHROMIUM_PATH   the browser (default /usr/bin/chromium, Debian's package); never downloaded
//   FLOW_TIMEOUT_MS overall time limit (default 150000)
//   IDLE_MS         how long to wait, at most, for clerk-js's own token refresh (default 20000)
//   FLOW_DEBUG=1    log every FAPI request and response status to stderr
//
// Output: progress on stderr; the LAST line on stdout is one JSON summary. Exit 0 on success,
// 1 on any failed expectation, any FAPI answer 404/405/5xx (or another unexpected 4xx), any failed
// request (CORS, network) and any browser console error that the flow did not expect.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import {
  CodeClock,
  ExpectationError,
  base32Decode,
  expect,
  hotp,
  reporter,
  requiredEnv,
  sleep,
  timeStep,
} from './lib/common.mjs';

const DEV_FAPI_HOST = 'local-dev-1.clerk.accounts.dev';
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

const FAPI_URL = requiredEnv('FAPI_URL').replace(/\/+$/, '');
const PAGE_URL = requiredEnv('PAGE_URL');
const EMAIL = requiredEnv('EMAIL');
const PASSWORD = requiredEnv('PASSWORD');
const INSTANCE = process.env.CLERK_INSTANCE || 'production';
const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const TIMEOUT_MS = Number(process.env.FLOW_TIMEOUT_MS || 150_000);
const IDLE_MS = Number(process.env.IDLE_MS ?? 20_000);
const DEBUG = process.env.FLOW_DEBUG === '1';
const FAPI_ORIGIN = new URL(FAPI_URL).origin;

const summary = { ok: false, instance: INSTANCE, steps: [], problems: [] };
const { log, step } = reporter('browser', summary);
const codes = new CodeClock(log);
const requestLog = [];
const consoleLog = [];
const pending = new Set(); // response details still being read
let currentStep = 'start';
let expectedStatuses = new Set(); // statuses the running step expects (a wrong code: 422)

function jwtClaims(token) {
  expect(typeof token === 'string' && token.split('.').length === 3, 'a session JWT (three parts)', token);
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
}

// ---------------------------------------------------------------- the publishable key

function publishableKey() {
  if (INSTANCE === 'development') {
    // A Clerk dev-suffix host makes clerk-js run its dev-browser flow; proxyUrl still sends every
    // request to FAPI_URL.
    return `pk_test_${Buffer.from(`${DEV_FAPI_HOST}$`).toString('base64')}`;
  }
  if (INSTANCE === 'production') {
    return `pk_live_${Buffer.from(`${new URL(FAPI_URL).host}$`).toString('base64')}`;
  }
  throw new ExpectationError(`CLERK_INSTANCE must be "production" or "development", not ${JSON.stringify(INSTANCE)}`);
}

// ---------------------------------------------------------------- request and console recording

function describeUrl(url) {
  const u = new URL(url);
  const method = u.searchParams.get('_method');
  const dbJwtValue = u.searchParams.get('__clerk_db_jwt');
  // the last characters tell dev browsers apart in the log without printing the token
  return { path: u.pathname, _method: method, dbJwt: dbJwtValue !== null, dbJwtTail: dbJwtValue?.slice(-8) ?? null };
}

function record(context) {
  const entries = new Map();
  context.on('request', request => {
    if (!request.url().startsWith(`${FAPI_ORIGIN}/`)) return;
    const { path, _method, dbJwt, dbJwtTail } = describeUrl(request.url());
    const entry = {
      n: requestLog.length + 1,
      step: currentStep,
      method: request.method(),
      path,
      ...(_method ? { _method } : {}),
      dbJwt,
      dbJwtTail,
      status: null,
      allowed: [...expectedStatuses], // non-2xx statuses the step that sent it expects
      expected: false,
    };
    requestLog.push(entry);
    entries.set(request, entry);
    request
      .allHeaders()
      .then(headers => {
        const cookies = (headers.cookie || '').split(/;\s*/).map(c => c.split('=')[0]).filter(Boolean);
        entry.sentClientCookie = cookies.includes('__client');
        if (headers.origin) entry.origin = headers.origin;
      })
      .catch(() => {});
  });
  context.on('response', response => {
    const entry = entries.get(response.request());
    if (!entry) return;
    entry.status = response.status();
    entry.expected = entry.allowed.includes(entry.status);
    const headers = response.headers(); // without waiting for Chromium's raw headers
    entry.acao = headers['access-control-allow-origin'] ?? null;
    entry.acac = headers['access-control-allow-credentials'] ?? null;
    const details = (async () => {
      if (entry.status >= 400) entry.body = (await response.text()).slice(0, 600);
      if (DEBUG) log(`http ${formatEntry(entry)}`);
      const all = await response.headersArray();
      const setCookies = all.filter(h => h.name.toLowerCase() === 'set-cookie');
      if (setCookies.length) entry.setCookie = setCookies.map(h => h.value.replace(/=[^;]*/, '=…'));
      const issued = all.find(h => h.name.toLowerCase() === 'clerk-db-jwt');
      if (issued) entry.issuedDbJwtTail = issued.value.slice(-8);
    })().catch(() => {}); // the page may already be gone
    pending.add(details);
    details.finally(() => pending.delete(details));
  });
  context.on('requestfailed', request => {
    const entry = entries.get(request);
    if (!entry) return;
    entry.failure = request.failure()?.errorText ?? 'failed';
    if (DEBUG) log(`http FAILED ${formatEntry(entry)}`);
  });
}

function recordConsole(page) {
  page.on('console', message => {
    const type = message.type();
    if (type !== 'error' && type !== 'warning') return;
    const entry = { step: currentStep, type, text: message.text().slice(0, 800), url: message.location()?.url ?? '' };
    consoleLog.push(entry);
    if (DEBUG) log(`console.${type} ${entry.text}`);
  });
  page.on('pageerror', error => {
    consoleLog.push({ step: currentStep, type: 'pageerror', text: String(error?.stack || error).slice(0, 800) });
    log(`pageerror ${error}`);
  });
}

function formatEntry(e) {
  const method = e._method ? `${e.method}(${e._method})` : e.method;
  return `${e.status ?? '---'} ${method} ${e.path}${e.failure ? ` FAILED ${e.failure}` : ''} [${e.step}]`;
}

// Chromium logs "Failed to load resource: … status of 422" for every non-2xx fetch; such a line
// is fine when it belongs to an answer the flow expected (the wrong-code steps).
function isExpectedResourceError(entry) {
  const match = /Failed to load resource: the server responded with a status of (\d+)/.exec(entry.text);
  if (!match || !entry.url.startsWith(`${FAPI_ORIGIN}/`)) return false;
  const status = Number(match[1]);
  const { path } = describeUrl(entry.url);
  return requestLog.some(r => r.path === path && r.status === status && r.expected);
}

// Waits (briefly) for the response bodies and headers still being read.
async function settle() {
  await Promise.race([Promise.allSettled([...pending]), sleep(3000)]);
}

function collectProblems() {
  const problems = [];
  for (const e of requestLog) {
    if (e.failure) problems.push(`request failed: ${formatEntry(e)}`);
    else if (e.status === null) problems.push(`no answer: ${formatEntry(e)}`);
    else if (e.status === 404 || e.status === 405 || e.status >= 500) problems.push(`bad status: ${formatEntry(e)} ${e.body ?? ''}`);
    else if (e.status >= 400 && !e.expected) problems.push(`unexpected status: ${formatEntry(e)} ${e.body ?? ''}`);
    else if (e.origin && e.acao !== e.origin) problems.push(`CORS: Access-Control-Allow-Origin ${e.acao} for ${e.origin}: ${formatEntry(e)}`);
  }
  for (const c of consoleLog) {
    if (c.type === 'warning') continue;
    if (c.type === 'error' && isExpectedResourceError(c)) continue;
    problems.push(`console ${c.type} [${c.step}]: ${c.text}${c.url ? ` (${c.url})` : ''}`);
  }
  return problems;
}

// ---------------------------------------------------------------- page calls

let page;

// Runs fn(Clerk, arg) in the page; returns its value or throws the described clerk-js error.
async function inPage(fn, arg) {
  const result = await page.evaluate(
    async ([source, a]) => {
      // The function's source travels as text into the page.
      const f = new Function(`return (${source})`)();
      return window.totpkitHarness.call(clerk => f(clerk, a));
    },
    [fn.toString(), arg ?? null],
  );
  if (!result.ok) {
    const err = new ExpectationError(`page call failed: ${JSON.stringify(result.error)}`);
    err.described = result.error;
    throw err;
  }
  return result.value;
}

async function expectPageError(fn, arg, status, code, what) {
  expectedStatuses = new Set([status]);
  try {
    await inPage(fn, arg);
  } catch (err) {
    const d = err.described;
    expect(d, `${what}: ${err.message}`);
    expect(d.kind === 'ClerkAPIResponseError', `${what}: expected a ClerkAPIResponseError`, d);
    expect(d.status === status, `${what}: expected HTTP ${status}`, d);
    expect(d.errors?.[0]?.code === code, `${what}: expected error code ${code}`, d);
    return d;
  } finally {
    expectedStatuses = new Set();
  }
  throw new ExpectationError(`${what}: expected HTTP ${status} ${code}, but the call succeeded`);
}

const state = () => page.evaluate(() => window.totpkitHarness.state());

async function getToken(skipCache) {
  return inPage(async (clerk, skip) => clerk.session.getToken(skip ? { skipCache: true } : undefined), skipCache);
}

// ---------------------------------------------------------------- the flow

async function flow() {
  const pk = publishableKey();
  const url = new URL(PAGE_URL);
  url.searchParams.set('pk', pk);
  url.searchParams.set('proxy', FAPI_URL);
  summary.pageOrigin = url.origin;
  summary.fapiOrigin = FAPI_ORIGIN;
  expect(url.origin !== FAPI_ORIGIN, 'the page and the FAPI have different origins (CORS is exercised)', url.origin);

  // 1. load
  currentStep = 'load';
  await page.goto(url.href, { waitUntil: 'load' });
  await page.waitForFunction(() => Boolean(window.Clerk && window.totpkitHarness), null, { timeout: 15_000 });
  await page.evaluate(() => window.totpkitHarness.load());
  let s = await state();
  expect(s.loaded, 'Clerk.loaded after load()', s);
  expect(!s.userId, 'no user before sign-in', s);
  const devBrowserCalls = requestLog.filter(r => r.path === '/v1/dev_browser');
  if (INSTANCE === 'development') {
    expect(devBrowserCalls.length >= 1, 'development key: clerk-js created a dev browser (POST /v1/dev_browser)');
    expect(
      requestLog.some(r => r.path === '/v1/environment' && r._method === 'PATCH'),
      'development key: POST /v1/environment?_method=PATCH',
      requestLog.map(formatEntry),
    );
  } else {
    expect(devBrowserCalls.length === 0, 'production key: no dev browser', requestLog.map(formatEntry));
  }
  step('load');

  // 2. first sign-in (the user has no MFA yet)
  currentStep = 'sign_in_password';
  let signIn = await inPage(
    async (clerk, cred) => {
      const r = await clerk.client.signIn.create(cred);
      return { status: r.status, createdSessionId: r.createdSessionId };
    },
    { identifier: EMAIL, password: PASSWORD },
  );
  expect(signIn.status === 'complete', 'sign-in without MFA is complete', signIn);
  expect(signIn.createdSessionId, 'sign-in has createdSessionId');
  await inPage(async (clerk, sid) => clerk.setActive({ session: sid }), signIn.createdSessionId);
  s = await state();
  expect(s.userId && s.sessionId === signIn.createdSessionId, 'clerk.user and clerk.session after setActive', s);
  expect(s.totpEnabled === false, 'totpEnabled false before enrolment', s);
  summary.userId = s.userId;
  summary.sessionId = s.sessionId;
  const claims1 = jwtClaims(await getToken(false));
  expect(claims1.sub === s.userId && claims1.sid === s.sessionId, 'JWT sub/sid', claims1);
  step('sign_in_password', { userId: s.userId });

  // 3. createTOTP
  currentStep = 'create_totp';
  const totp = await inPage(async clerk => {
    const t = await clerk.user.createTOTP();
    return { id: t.id, secret: t.secret, uri: t.uri, verified: t.verified };
  });
  expect(totp.secret && totp.uri?.startsWith('otpauth://totp/'), 'createTOTP returns secret and uri', totp);
  expect(totp.verified === false, 'new TOTP is unverified', totp);
  let key = base32Decode(totp.secret);
  summary.totpUri = totp.uri;
  step('create_totp', { id: totp.id });

  // 4. wrong code: 422 form_code_incorrect, still signed in
  currentStep = 'verify_totp_wrong_code';
  await expectPageError(
    async (clerk, code) => clerk.user.verifyTOTP({ code }),
    codes.wrongCode(key),
    422,
    'form_code_incorrect',
    'verifyTOTP(wrong)',
  );
  s = await state();
  expect(s.userId && s.sessionStatus === 'active', 'still signed in after a wrong code', s);
  await inPage(async clerk => clerk.user.reload()); // GET /v1/me: the session still authenticates
  s = await state();
  expect(s.userId && s.totpEnabled === false, 'user reloads after a wrong code, TOTP not enabled', s);
  summary.wrongCodeRejected = true;
  step('verify_totp_wrong_code');

  // 5. right code (current time step)
  currentStep = 'verify_totp';
  const verifyStep = timeStep();
  const verified = await inPage(
    async (clerk, code) => {
      const t = await clerk.user.verifyTOTP({ code });
      return { verified: t.verified, backupCodes: t.backupCodes ?? null };
    },
    hotp(key, verifyStep),
  );
  codes.markUsed(verifyStep);
  expect(verified.verified === true, 'verifyTOTP verified', verified);
  s = await state();
  expect(s.totpEnabled === true && s.twoFactorEnabled === true, 'totpEnabled after verify', s);
  expect(s.sessionStatus === 'active', 'session active after verify', s);
  summary.totpEnabledAfterVerify = s.totpEnabled;
  step('verify_totp', { backupCodes: verified.backupCodes?.length ?? 0 });

  // 6. createBackupCode
  currentStep = 'create_backup_code';
  const bc = await inPage(async clerk => {
    const b = await clerk.user.createBackupCode();
    return { codes: b.codes };
  });
  expect(Array.isArray(bc.codes) && bc.codes.length > 0, 'createBackupCode returns codes', bc);
  s = await state();
  expect(s.backupCodeEnabled === true, 'backupCodeEnabled after createBackupCode', s);
  summary.backupCodes = bc.codes.length;
  step('create_backup_code', { codes: bc.codes.length });

  // 7. disableTOTP
  currentStep = 'disable_totp';
  const deleted = await inPage(async clerk => {
    const d = await clerk.user.disableTOTP();
    return { deleted: d?.deleted ?? null };
  });
  expect(deleted.deleted === true, 'disableTOTP returns a deleted object', deleted);
  s = await state();
  expect(s.totpEnabled === false && s.sessionStatus === 'active', 'totpEnabled false after disableTOTP', s);
  summary.totpEnabledAfterDisable = s.totpEnabled;
  step('disable_totp');

  // 8. re-enrol with a new secret and an unused time step
  currentStep = 'reenrol_totp';
  const totp2 = await inPage(async clerk => {
    const t = await clerk.user.createTOTP();
    return { secret: t.secret };
  });
  expect(totp2.secret && totp2.secret !== totp.secret, 'createTOTP after disable gives a new secret', totp2);
  key = base32Decode(totp2.secret);
  const reenrol = await codes.freshCode(key);
  const verified2 = await inPage(
    async (clerk, code) => {
      const t = await clerk.user.verifyTOTP({ code });
      return { verified: t.verified };
    },
    reenrol.code,
  );
  codes.markUsed(reenrol.step);
  expect(verified2.verified === true, 're-enrol verified', verified2);
  s = await state();
  expect(s.totpEnabled === true, 'totpEnabled after re-enrol', s);
  step('reenrol_totp', { stepOffset: reenrol.offset });

  // 9. sign out (clerk-js hands its redirect to the page's router; the page stays)
  currentStep = 'sign_out';
  await inPage(async clerk => clerk.signOut());
  s = await state();
  expect(!s.userId && !s.sessionId, 'signed out', s);
  summary.signOutNavigations = s.navigations;
  step('sign_out');

  // 10. sign in again: the password is no longer enough
  currentStep = 'sign_in_needs_second_factor';
  signIn = await inPage(
    async (clerk, cred) => {
      const r = await clerk.client.signIn.create(cred);
      return { status: r.status, strategies: (r.supportedSecondFactors || []).map(f => f.strategy) };
    },
    { identifier: EMAIL, password: PASSWORD },
  );
  expect(signIn.status === 'needs_second_factor', 'sign-in with TOTP needs a second factor', signIn);
  expect(signIn.strategies.includes('totp'), 'supported second factors include totp', signIn);
  s = await state();
  expect(!s.userId, 'no user while the second factor is pending', s);
  summary.supportedSecondFactors = signIn.strategies;
  step('sign_in_needs_second_factor', { strategies: signIn.strategies });

  currentStep = 'second_factor_wrong_code';
  await expectPageError(
    async (clerk, code) => clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code }),
    codes.wrongCode(key),
    422,
    'form_code_incorrect',
    'attemptSecondFactor(wrong)',
  );
  s = await state();
  expect(s.signInStatus === 'needs_second_factor', 'sign-in still pending after a wrong code', s);
  step('second_factor_wrong_code');

  // 11. the right code
  currentStep = 'sign_in_second_factor';
  const second = await codes.freshCode(key);
  signIn = await inPage(
    async (clerk, code) => {
      const r = await clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code });
      return { status: r.status, createdSessionId: r.createdSessionId };
    },
    second.code,
  );
  codes.markUsed(second.step);
  expect(signIn.status === 'complete', 'attemptSecondFactor complete', signIn);
  await inPage(async (clerk, sid) => clerk.setActive({ session: sid }), signIn.createdSessionId);
  s = await state();
  expect(s.userId === summary.userId, 'same user after second-factor sign-in', s);
  expect(s.sessionId === signIn.createdSessionId, 'the new session is active', s);
  expect(s.totpEnabled === true, 'totpEnabled after second-factor sign-in', s);
  const claims2 = jwtClaims(await getToken(false));
  expect(claims2.sub === summary.userId, 'session.getToken(): JWT sub is the user', claims2);
  expect(claims2.sid === signIn.createdSessionId, 'JWT sid is the new session', claims2);
  summary.jwtSub = claims2.sub;
  summary.fva = claims2.fva ?? null;
  // session fixation: the completed sign-in handed out a new client token, which clerk-js uses from then on
  await settle();
  const completion = requestLog.find(
    r => r.step === 'sign_in_second_factor' && r.path.endsWith('/attempt_second_factor') && r.status === 200,
  );
  if (INSTANCE === 'production') {
    expect((completion?.setCookie ?? []).some(c => c.startsWith('__client=')),
      'production: the completed sign-in set a new __client cookie', completion && formatEntry(completion));
  } else {
    expect(completion?.issuedDbJwtTail, 'development: the completed sign-in re-issued the dev browser (Clerk-Db-Jwt)',
      completion && formatEntry(completion));
    const later = requestLog.filter(r => r.n > completion.n && r.dbJwt);
    const adopted = r => r.dbJwtTail === completion.issuedDbJwtTail;
    expect(later.some(adopted) && adopted(later.at(-1)),
      'development: clerk-js sends the re-issued dev browser after the sign-in', later.map(formatEntry));
  }
  summary.clientTokenRotated = true;
  step('sign_in_second_factor', { stepOffset: second.offset });

  // 12. idle: does clerk-js refresh the session token by itself?
  currentStep = 'idle';
  const idleStart = Date.now();
  const refreshes = () =>
    requestLog.filter(r => r.step === 'idle' && r.method === 'POST' && /^\/v1\/client\/sessions\/[^/]+\/tokens$/.test(r.path));
  while (Date.now() - idleStart < IDLE_MS && refreshes().length === 0) await sleep(250);
  const tokenCalls = requestLog.filter(r => /\/tokens$/.test(r.path));
  summary.backgroundTokenRefresh = {
    idleMs: Date.now() - idleStart,
    duringIdle: refreshes().map(formatEntry),
    allTokenRequests: tokenCalls.map(formatEntry),
  };
  // the token clerk-js holds now (refreshed or not) is still this user's
  const claims3 = jwtClaims(await getToken(false));
  expect(claims3.sub === summary.userId, 'session.getToken() after idling: JWT sub is the user', claims3);
  step('idle', { refreshes: refreshes().length, idleMs: summary.backgroundTokenRefresh.idleMs });

  // 13. cookies: how the browser identified the client
  currentStep = 'cookies';
  s = await state();
  const cookies = await page.context().cookies(FAPI_URL);
  summary.cookies = cookies.map(c => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure }));
  summary.documentCookieNames = s.documentCookieNames;
  const clientCookie = cookies.find(c => c.name === '__client');
  if (INSTANCE === 'production') {
    expect(clientCookie, 'production: the server set the __client cookie', summary.cookies);
    expect(clientCookie.httpOnly, 'production: __client is HttpOnly', clientCookie);
    expect(!s.documentCookieNames.includes('__client'), 'production: the page cannot read __client', s.documentCookieNames);
    expect(
      requestLog.some(r => r.sentClientCookie),
      'production: the browser sent __client back to the FAPI (credentials: include)',
      requestLog.map(formatEntry),
    );
  } else {
    const afterDevBrowser = requestLog.filter(r => r.n > (devBrowserCalls[0]?.n ?? 0));
    const missing = afterDevBrowser.filter(r => !r.dbJwt);
    expect(missing.length === 0, 'development: every request after POST /v1/dev_browser carries __clerk_db_jwt', missing.map(formatEntry));
  }
  step('cookies');

  summary.ok = true;
}

// ---------------------------------------------------------------- main

function finish(code) {
  summary.requests = requestLog.length;
  summary.requestLog = requestLog.map(formatEntry);
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

const timer = setTimeout(async () => {
  summary.error = { kind: 'timeout', message: `flow did not finish within ${TIMEOUT_MS} ms (step ${currentStep})` };
  await settle();
  summary.problems = collectProblems();
  await Promise.race([cleanup(), sleep(5000)]);
  finish(1);
}, TIMEOUT_MS);

let exitCode = 1;
try {
  expect(existsSync(CHROMIUM_PATH), `no Chromium at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install -y chromium) or set CHROMIUM_PATH`);
  userDataDir = mkdtempSync(join(tmpdir(), 'totpkit-chromium-'));
  browserContext = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    timeout: 30_000,
  });
  record(browserContext);
  page = browserContext.pages()[0] ?? (await browserContext.newPage());
  page.setDefaultTimeout(30_000);
  recordConsole(page);
  summary.browserVersion = browserContext.browser()?.version() ?? null;
  await flow();
  await settle();
  summary.problems = collectProblems();
  if (summary.problems.length) {
    summary.ok = false;
    summary.error = { kind: 'problems', message: `${summary.problems.length} problem(s) with the FAPI answers or the console` };
    for (const p of summary.problems) log(`PROBLEM ${p}`);
  } else {
    exitCode = 0;
  }
} catch (err) {
  summary.ok = false;
  await settle();
  summary.error = {
    kind: err?.constructor?.name,
    message: String(err?.message ?? err),
    ...(err?.described ? { described: err.described } : { stack: err?.stack }),
  };
  summary.problems = collectProblems();
  log(`FAILED in step ${currentStep}: ${JSON.stringify(summary.error)}`);
  for (const p of summary.problems) log(`PROBLEM ${p}`);
} finally {
  clearTimeout(timer);
  await Promise.race([cleanup(), sleep(5000)]);
}
finish(exitCode);
