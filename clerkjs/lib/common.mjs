// What the Node (flow.mjs) and Chromium (browser.mjs) drivers share: reading the environment,
// expectations and step reporting, and RFC 6238 codes computed from the real clock that never
// reuse a time step (the server accepts each step at most once per user, window ±1).

import { createHmac } from 'node:crypto';

export const STEP_SECONDS = 30;
export const DIGITS = 6;

export function requiredEnv(name) {
  const value = process.env[name];
  if (!value) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: `missing environment variable ${name}` })}\n`);
    process.exit(1);
  }
  return value;
}

export class ExpectationError extends Error {}

export function expect(condition, message, detail) {
  if (!condition) {
    throw new ExpectationError(detail === undefined ? message : `${message}: ${JSON.stringify(detail)}`);
  }
}

// log(message) to stderr with a prefix, and step(name, extra) that records a passed step in summary.steps.
export function reporter(prefix, summary) {
  const log = message => process.stderr.write(`[${prefix}] ${message}\n`);
  const step = (name, extra = {}) => {
    summary.steps.push(name);
    log(`ok ${name}${Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : ''}`);
  };
  return { log, step };
}

// ---------------------------------------------------------------- RFC 4648 base32 + RFC 6238 TOTP

export function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/=+$/, '').replace(/\s+/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
    const index = alphabet.indexOf(ch);
    if (index < 0) throw new Error(`secret is not base32: ${JSON.stringify(ch)}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

export function hotp(key, counter) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', key).update(message).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const binary = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** DIGITS).padStart(DIGITS, '0');
}

export const timeStep = () => Math.floor(Date.now() / 1000 / STEP_SECONDS);
const secondsIntoStep = () => (Date.now() / 1000) % STEP_SECONDS;
export const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// Hands out codes for time steps above every step used so far, waiting for the next step when
// the window has none left. Call markUsed(step) once the server accepted a code of that step.
export class CodeClock {
  constructor(log) {
    this.log = log;
    this.lastUsedStep = -Infinity;
  }

  markUsed(step) {
    this.lastUsedStep = Math.max(this.lastUsedStep, step);
  }

  async freshCode(key) {
    for (;;) {
      const now = timeStep();
      const candidates = [now - 1, now, now + 1].filter(s => s > this.lastUsedStep);
      // Do not offer now-1 when it is about to leave the window.
      const usable = candidates.filter(s => s >= now || secondsIntoStep() < STEP_SECONDS - 5);
      if (usable.length) {
        const s = usable[0];
        return { step: s, offset: s - now, code: hotp(key, s) };
      }
      const waitMs = Math.ceil((STEP_SECONDS - secondsIntoStep()) * 1000) + 250;
      this.log(`waiting ${waitMs} ms for an unused time step`);
      await sleep(waitMs);
    }
  }

  // A six-digit code that matches none of the steps around now (so it cannot be accepted).
  wrongCode(key) {
    const now = timeStep();
    const taken = new Set([-2, -1, 0, 1, 2].map(d => hotp(key, now + d)));
    let n = Number(hotp(key, now));
    let code;
    do {
      n = (n + 111_111) % 1_000_000;
      code = String(n).padStart(DIGITS, '0');
    } while (taken.has(code));
    return code;
  }
}
