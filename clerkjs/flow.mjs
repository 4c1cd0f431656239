// Drives the unmodified @clerk/clerk-js (pinned in package.json) against a totpkit server in
// Node, using clerk-js's native mode (the client token travels in the Authorization header, as
// in Clerk's Expo SDK). This is the project's acceptance test for TOTP MFA; see README.md.
//
// Environment:
//   FAPI_URL        base URL of the server, e.g. http://127.0.0.1:8765 (required)
//   EMAIL, PASSWORD credentials of an existing user without MFA (required)
//   CLERK_INSTANCE  "production" (pk_live_, default) or "development" (pk_test_)
//   FLOW_TIMEOUT_MS overall time limit (default 100000)
//   FLOW_DEBUG=1    log every FAPI request and response status to stderr
//
// Output: progress on stderr; the LAST line on stdout is one JSON summary. Exit 0 on success,
// 1 on any failed expectation or error.

import { Clerk, isClerkAPIResponseError } from '@clerk/clerk-js';
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

// clerk-js's non-browser path (the one Clerk's Expo SDK uses) expects React Native's globals:
// `window` is the global object and has no `location` or `document`. Without it, signOut()
// fails with "window is not defined" while redacting its redirect URL for a log line.
globalThis.window ??= globalThis;

const FAPI_URL = requiredEnv('FAPI_URL').replace(/\/+$/, '');
const EMAIL = requiredEnv('EMAIL');
const PASSWORD = requiredEnv('PASSWORD');
const INSTANCE = process.env.CLERK_INSTANCE || 'production';
const TIMEOUT_MS = Number(process.env.FLOW_TIMEOUT_MS || 100_000);
const DEBUG = process.env.FLOW_DEBUG === '1';

const summary = { ok: false, instance: INSTANCE, steps: [] };
const { log, step } = reporter('flow', summary);
const codes = new CodeClock(log);

// ---------------------------------------------------------------- errors

function describeError(err) {
  if (isClerkAPIResponseError(err)) {
    return {
      kind: 'ClerkAPIResponseError',
      status: err.status,
      message: err.message,
      clerkTraceId: err.clerkTraceId,
      errors: (err.errors || []).map(e => ({ code: e.code, message: e.message, longMessage: e.longMessage, meta: e.meta })),
    };
  }
  return { kind: err?.constructor?.name || typeof err, message: String(err?.message ?? err), stack: err?.stack };
}

async function expectApiError(promise, status, code, what) {
  try {
    await promise;
  } catch (err) {
    expect(isClerkAPIResponseError(err), `${what}: expected a ClerkAPIResponseError`, describeError(err));
    expect(err.status === status, `${what}: expected HTTP ${status}`, describeError(err));
    expect(err.errors?.[0]?.code === code, `${what}: expected error code ${code}`, describeError(err));
    return err;
  }
  throw new ExpectationError(`${what}: expected HTTP ${status} ${code}, but the call succeeded`);
}

// ---------------------------------------------------------------- clerk-js set-up

function publishableKey() {
  const host = new URL(FAPI_URL).host;
  const prefix = INSTANCE === 'development' ? 'pk_test_' : 'pk_live_';
  return prefix + Buffer.from(`${host}$`).toString('base64');
}

const requestLog = [];
let clientToken = null;

function makeClerk() {
  const clerk = new Clerk(publishableKey(), { proxyUrl: FAPI_URL });
  // Native mode, as Clerk's Expo SDK does it: the client token is sent in the Authorization
  // header (empty on the very first request) and the server returns it in the response header.
  clerk.__internal_onBeforeRequest(request => {
    request.url.searchParams.append('_is_native', '1');
    request.headers.set('authorization', clientToken ?? '');
  });
  clerk.__internal_onAfterResponse((request, response) => {
    const token = response?.headers?.get('authorization');
    if (token) clientToken = token;
    const url = new URL(request.url);
    const entry = `${response?.status} ${request.method ?? 'GET'} ${url.pathname}${url.searchParams.get('_method') ? ` _method=${url.searchParams.get('_method')}` : ''}`;
    requestLog.push(entry);
    if (DEBUG) log(`http ${entry}`);
  });
  return clerk;
}

// ---------------------------------------------------------------- the flow

async function flow() {
  const clerk = makeClerk();

  // 1. load
  await clerk.load({ standardBrowser: false, telemetry: false });
  expect(clerk.loaded, 'clerk.loaded after load()');
  expect(!clerk.user, 'no user before sign-in', clerk.user?.id);
  step('load');

  // 2. first sign-in (user has no MFA yet)
  let signIn = await clerk.client.signIn.create({ identifier: EMAIL, password: PASSWORD });
  expect(signIn.status === 'complete', 'sign-in without MFA is complete', signIn.status);
  expect(signIn.createdSessionId, 'sign-in has createdSessionId');
  expect(clientToken, 'server returned a client token in the Authorization response header');
  await clerk.setActive({ session: signIn.createdSessionId });
  expect(clerk.user, 'clerk.user after setActive');
  expect(clerk.session?.id === signIn.createdSessionId, 'clerk.session is the new session', clerk.session?.id);
  expect(clerk.user.totpEnabled === false, 'totpEnabled false before enrolment', clerk.user.totpEnabled);
  summary.userId = clerk.user.id;
  summary.sessionId = clerk.session.id;
  const firstToken = await clerk.session.getToken();
  expect(typeof firstToken === 'string' && firstToken.split('.').length === 3, 'session JWT', firstToken);
  const claims = JSON.parse(Buffer.from(firstToken.split('.')[1], 'base64url').toString());
  expect(claims.sub === clerk.user.id && claims.sid === clerk.session.id, 'JWT sub/sid', claims);
  step('sign_in_password', { userId: clerk.user.id });

  // 3. createTOTP
  const totp = await clerk.user.createTOTP();
  expect(totp.secret && totp.uri, 'createTOTP returns secret and uri', { secret: totp.secret, uri: totp.uri });
  expect(totp.uri.startsWith('otpauth://totp/'), 'otpauth uri', totp.uri);
  expect(new URL(totp.uri).searchParams.get('secret') === totp.secret, 'uri carries the secret', totp.uri);
  expect(totp.verified === false, 'new TOTP is unverified', totp.verified);
  let key = base32Decode(totp.secret);
  summary.totpUri = totp.uri;
  step('create_totp', { id: totp.id });

  // 4. wrong code: 422 form_code_incorrect, still signed in
  await expectApiError(clerk.user.verifyTOTP({ code: codes.wrongCode(key) }), 422, 'form_code_incorrect', 'verifyTOTP(wrong)');
  expect(clerk.user, 'still signed in (clerk.user) after a wrong code');
  expect(clerk.session?.status === 'active', 'session still active after a wrong code', clerk.session?.status);
  await clerk.user.reload(); // GET /v1/me: the server still authenticates the session
  expect(clerk.user && clerk.user.totpEnabled === false, 'user reloads after a wrong code, TOTP not enabled');
  summary.wrongCodeRejected = true;
  step('verify_totp_wrong_code');

  // 5. right code (current time step)
  const verifyStep = timeStep();
  const verified = await clerk.user.verifyTOTP({ code: hotp(key, verifyStep) });
  codes.markUsed(verifyStep);
  expect(verified.verified === true, 'verifyTOTP verified', verified.verified);
  expect(Array.isArray(verified.backupCodes) && verified.backupCodes.length > 0, 'verifyTOTP returns backup codes', verified.backupCodes);
  expect(clerk.user.totpEnabled === true, 'clerk.user.totpEnabled after verify (piggy-backed client)', clerk.user.totpEnabled);
  expect(clerk.user.twoFactorEnabled === true, 'clerk.user.twoFactorEnabled after verify', clerk.user.twoFactorEnabled);
  expect(clerk.session?.status === 'active', 'session active after verify', clerk.session?.status);
  summary.totpEnabledAfterVerify = clerk.user.totpEnabled;
  summary.backupCodesFromVerify = verified.backupCodes.length;
  step('verify_totp', { backupCodes: verified.backupCodes.length });

  // 6. createBackupCode
  const bc = await clerk.user.createBackupCode();
  expect(Array.isArray(bc.codes) && bc.codes.length > 0, 'createBackupCode returns codes', bc.codes);
  expect(clerk.user.backupCodeEnabled === true, 'clerk.user.backupCodeEnabled after createBackupCode', clerk.user.backupCodeEnabled);
  summary.backupCodes = bc.codes.length;
  summary.backupCodeEnabled = clerk.user.backupCodeEnabled;
  step('create_backup_code', { codes: bc.codes.length });

  // 7. disableTOTP
  const deleted = await clerk.user.disableTOTP();
  expect(deleted?.deleted === true, 'disableTOTP returns a deleted object', deleted);
  expect(clerk.user.totpEnabled === false, 'clerk.user.totpEnabled false after disableTOTP', clerk.user.totpEnabled);
  expect(clerk.session?.status === 'active', 'session active after disableTOTP', clerk.session?.status);
  summary.totpEnabledAfterDisable = clerk.user.totpEnabled;
  summary.twoFactorEnabledAfterDisable = clerk.user.twoFactorEnabled;
  step('disable_totp');

  // 8a. re-enrol with a new secret and an unused time step
  const totp2 = await clerk.user.createTOTP();
  expect(totp2.secret && totp2.secret !== totp.secret, 'createTOTP after disable gives a new secret', totp2.secret);
  key = base32Decode(totp2.secret);
  const reenrol = await codes.freshCode(key);
  const verified2 = await clerk.user.verifyTOTP({ code: reenrol.code });
  codes.markUsed(reenrol.step);
  expect(verified2.verified === true, 're-enrol verified', verified2.verified);
  expect(clerk.user.totpEnabled === true, 'totpEnabled after re-enrol', clerk.user.totpEnabled);
  step('reenrol_totp', { stepOffset: reenrol.offset });

  // 8b. sign out
  await clerk.signOut();
  expect(!clerk.user && !clerk.session, 'signed out', { user: clerk.user?.id, session: clerk.session?.id });
  step('sign_out');

  // 8c. sign in again: the password is no longer enough
  signIn = await clerk.client.signIn.create({ identifier: EMAIL, password: PASSWORD });
  expect(signIn.status === 'needs_second_factor', 'sign-in with TOTP needs a second factor', signIn.status);
  const strategies = (signIn.supportedSecondFactors || []).map(f => f.strategy);
  expect(strategies.includes('totp'), 'supported second factors include totp', strategies);
  expect(!clerk.user, 'no user while the second factor is pending');
  summary.supportedSecondFactors = strategies;
  step('sign_in_needs_second_factor', { strategies });

  // 8d. wrong and replayed codes are refused and leave the sign-in pending
  await expectApiError(
    clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code: codes.wrongCode(key) }),
    422, 'form_code_incorrect', 'attemptSecondFactor(wrong)');
  await expectApiError(
    clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code: reenrol.code }),
    422, 'form_code_incorrect', 'attemptSecondFactor(replayed code)');
  expect(clerk.client.signIn.status === 'needs_second_factor', 'sign-in still pending after wrong codes', clerk.client.signIn.status);
  summary.replayRejected = true;
  step('second_factor_wrong_and_replayed');

  // 8e. the right code
  const second = await codes.freshCode(key);
  const tokenBeforeSecondFactor = clientToken;
  signIn = await clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code: second.code });
  codes.markUsed(second.step);
  expect(signIn.status === 'complete', 'attemptSecondFactor complete', signIn.status);
  // session fixation: the completed sign-in re-issues the client token (Authorization answer header)
  expect(clientToken && clientToken !== tokenBeforeSecondFactor, 'a completed sign-in re-issues the client token');
  summary.clientTokenRotated = true;
  expect(signIn.createdSessionId, 'second-factor sign-in has createdSessionId');
  await clerk.setActive({ session: signIn.createdSessionId });
  expect(clerk.user, 'clerk.user after second-factor sign-in');
  expect(clerk.user.id === summary.userId, 'same user after second-factor sign-in', clerk.user.id);
  expect(clerk.user.totpEnabled === true, 'totpEnabled after second-factor sign-in', clerk.user.totpEnabled);
  const token = await clerk.session.getToken({ skipCache: true });
  const claims2 = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
  expect(claims2.sid === signIn.createdSessionId, 'JWT sid is the new session', claims2);
  summary.fva = claims2.fva ?? null;
  summary.totpEnabledAfterSecondFactor = clerk.user.totpEnabled;
  step('sign_in_second_factor', { stepOffset: second.offset });

  // 9. a backup code (from the re-enrolment) also completes the second factor
  expect(Array.isArray(verified2.backupCodes) && verified2.backupCodes.length > 0,
    're-enrol after disable returns fresh backup codes', verified2.backupCodes);
  await clerk.signOut();
  expect(!clerk.user, 'signed out again');
  signIn = await clerk.client.signIn.create({ identifier: EMAIL, password: PASSWORD });
  expect(signIn.status === 'needs_second_factor', 'second sign-in needs a second factor', signIn.status);
  expect((signIn.supportedSecondFactors || []).some(f => f.strategy === 'backup_code'),
    'backup_code offered while unused codes remain', signIn.supportedSecondFactors);
  signIn = await clerk.client.signIn.attemptSecondFactor({ strategy: 'backup_code', code: verified2.backupCodes[0] });
  expect(signIn.status === 'complete', 'backup-code second factor complete', signIn.status);
  await clerk.setActive({ session: signIn.createdSessionId });
  expect(clerk.user?.id === summary.userId, 'same user after backup-code sign-in', clerk.user?.id);
  summary.backupCodeSignIn = true;
  step('sign_in_backup_code');

  // 10. reverification (step-up): the session proves its second factor again; a used code is refused
  let verification = await clerk.session.startVerification({ level: 'second_factor' });
  expect(verification.status === 'needs_second_factor', 'startVerification needs a second factor', verification.status);
  expect((verification.supportedSecondFactors || []).some(f => f.strategy === 'backup_code'),
    'reverification offers backup codes', verification.supportedSecondFactors);
  await expectApiError(
    clerk.session.attemptSecondFactorVerification({ strategy: 'backup_code', code: verified2.backupCodes[0] }),
    422, 'form_code_incorrect', 'attemptSecondFactorVerification(used backup code)');
  expect(clerk.user, 'still signed in after a refused reverification code');
  verification = await clerk.session.attemptSecondFactorVerification({ strategy: 'backup_code', code: verified2.backupCodes[1] });
  expect(verification.status === 'complete', 'reverification complete', verification.status);
  expect(verification.secondFactorVerification?.status === 'verified', 'reverification second factor verified',
    verification.secondFactorVerification?.status);
  expect(verification.session?.factorVerificationAge?.[1] === 0, 'reverified session: second factor 0 minutes ago',
    verification.session?.factorVerificationAge);
  summary.reverified = true;
  step('reverify_backup_code');

  summary.requests = requestLog.length;
  summary.ok = true;
}

// ---------------------------------------------------------------- main

const timer = setTimeout(() => {
  summary.error = { kind: 'timeout', message: `flow did not finish within ${TIMEOUT_MS} ms` };
  summary.lastRequests = requestLog.slice(-10);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(1);
}, TIMEOUT_MS);

try {
  await flow();
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(0);
} catch (err) {
  clearTimeout(timer);
  summary.error = describeError(err);
  summary.lastRequests = requestLog.slice(-10);
  log(`FAILED: ${JSON.stringify(summary.error)}`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  process.exit(1);
}
