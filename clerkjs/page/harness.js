// Small helpers that browser.mjs calls through page.evaluate(). They use only clerk-js's public
// API (window.Clerk, created by the unmodified clerk.browser.js) and never touch its internals.
(() => {
  const navigations = [];

  // clerk-js's plain-object view of an error: ClerkAPIResponseError has status and errors[].
  function describeError(err) {
    if (err && Array.isArray(err.errors) && 'status' in err) {
      return {
        kind: 'ClerkAPIResponseError',
        status: err.status,
        message: err.message,
        clerkTraceId: err.clerkTraceId,
        errors: err.errors.map(e => ({ code: e.code, message: e.message, longMessage: e.longMessage, meta: e.meta })),
      };
    }
    return {
      kind: err?.constructor?.name || typeof err,
      code: err?.code,
      message: String(err?.message ?? err),
      stack: err?.stack,
    };
  }

  // Runs fn and returns {ok, value} or {ok: false, error} (page.evaluate cannot carry an Error).
  async function call(fn) {
    try {
      return { ok: true, value: await fn(window.Clerk) };
    } catch (err) {
      return { ok: false, error: describeError(err) };
    }
  }

  function hasCookie(name) {
    return document.cookie.split(/;\s*/).some(part => part.split('=')[0] === name);
  }

  // What the page sees of clerk-js's state right now.
  function state() {
    const clerk = window.Clerk;
    return {
      loaded: Boolean(clerk?.loaded),
      clientId: clerk?.client?.id ?? null,
      userId: clerk?.user?.id ?? null,
      sessionId: clerk?.session?.id ?? null,
      sessionStatus: clerk?.session?.status ?? null,
      totpEnabled: clerk?.user?.totpEnabled ?? null,
      backupCodeEnabled: clerk?.user?.backupCodeEnabled ?? null,
      twoFactorEnabled: clerk?.user?.twoFactorEnabled ?? null,
      signInStatus: clerk?.client?.signIn?.status ?? null,
      documentCookieNames: document.cookie ? document.cookie.split(/;\s*/).map(part => part.split('=')[0]) : [],
      navigations: navigations.slice(),
    };
  }

  // Clerk.load() with a router, as framework SDKs pass one: clerk-js then records same-origin
  // navigations (signOut's redirect to "/") here instead of leaving the page.
  function load() {
    return window.Clerk.load({
      telemetry: false,
      routerPush: to => {
        navigations.push({ to, replace: false });
      },
      routerReplace: to => {
        navigations.push({ to, replace: true });
      },
    });
  }

  function render() {
    const el = document.getElementById('state');
    if (el) el.textContent = JSON.stringify(state(), null, 2);
  }

  window.totpkitHarness = { call, describeError, hasCookie, load, render, state };
})();
