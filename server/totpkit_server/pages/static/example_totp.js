// Clerk's TOTP example, live. Uses only clerk-js's public API (window.Clerk from the unmodified
// clerk.browser.js that the server serves) and shows every call's response or Clerk error.
//
//   sign in:        Clerk.client.signIn.create({ identifier, password }), then Clerk.setActive()
//                   (a user who already has TOTP: signIn.attemptSecondFactor({ strategy: 'totp', code }))
//   the four calls: user.createTOTP(), user.verifyTOTP({ code }), user.disableTOTP(), user.createBackupCode()
//
// The result panel (#result) holds the JSON of the last response or error; #result-summary says which
// call it was and whether it failed, and carries data-call / data-outcome for tests; <body> counts the
// results shown (data-results) and carries data-busy while a call runs.
(() => {
  const config = JSON.parse(document.getElementById('totpkit-example-config').textContent);
  const $ = id => document.getElementById(id);
  let busy = false;

  // ------------------------------------------------------------ showing results

  // A clerk-js resource as plain JSON: its own data fields, without methods and internals, and its
  // status first (a getter on sign-ins, so not an own field).
  function plain(resource) {
    if (resource === null || typeof resource !== 'object') return resource;
    const fields = Object.entries(resource).filter(
      ([key, value]) => typeof value !== 'function' && !key.startsWith('_') && key !== 'pathRoot',
    );
    const status = 'status' in resource && typeof resource.status === 'string' ? { status: resource.status } : {};
    return { ...status, ...Object.fromEntries(fields) };
  }

  // ClerkAPIResponseError carries the HTTP status and Clerk's errors[]; anything else is a plain error.
  function describeError(err) {
    if (err && Array.isArray(err.errors) && 'status' in err) {
      return {
        status: err.status,
        clerkTraceId: err.clerkTraceId,
        errors: err.errors.map(e => ({ code: e.code, message: e.message, longMessage: e.longMessage, meta: e.meta })),
      };
    }
    return { name: err?.name ?? typeof err, message: String(err?.message ?? err) };
  }

  function summarise(call, ok, value) {
    if (ok) return `${call} → ok`;
    const first = value.errors?.[0];
    return first
      ? `${call} → HTTP ${value.status} ${first.code}: ${first.longMessage || first.message}`
      : `${call} → failed: ${value.message}`;
  }

  function show(call, ok, value) {
    const summary = $('result-summary');
    summary.textContent = summarise(call, ok, value);
    summary.className = ok ? 'ok' : 'error';
    summary.dataset.call = call;
    summary.dataset.outcome = ok ? 'ok' : 'error';
    $('result').textContent = JSON.stringify(value, null, 2);
    document.body.dataset.results = String(Number(document.body.dataset.results || 0) + 1);
  }

  // Runs one call: the buttons are disabled meanwhile; the result (or error) goes to the panel, then
  // then(value) updates the page (still busy, so a test that waits for the page sees its final state).
  async function run(call, fn, then = async () => {}) {
    if (busy) return undefined;
    busy = true;
    document.body.dataset.busy = 'true';
    for (const button of document.querySelectorAll('button')) button.disabled = true;
    try {
      const value = await fn();
      show(call, true, plain(value));
      await then(value);
      return value;
    } catch (err) {
      show(call, false, describeError(err));
      return undefined;
    } finally {
      busy = false;
      for (const button of document.querySelectorAll('button')) button.disabled = false;
      render();
      delete document.body.dataset.busy;
    }
  }

  // ------------------------------------------------------------ page state

  function setStatus(text, problem = false) {
    $('status').textContent = text;
    $('status').className = problem ? 'problem' : '';
  }

  function render() {
    const clerk = window.Clerk;
    const user = clerk?.user;
    $('sign-in-section').hidden = Boolean(user) || !clerk?.loaded;
    $('user-section').hidden = !user;
    if (user) {
      $('user-email').textContent = user.primaryEmailAddress?.emailAddress ?? user.id;
      $('user-state').textContent =
        `TOTP ${user.totpEnabled ? 'enabled' : 'not enabled'} · backup codes ${user.backupCodeEnabled ? 'enabled' : 'not enabled'}`;
      document.body.dataset.totpEnabled = String(user.totpEnabled);
      setStatus(`Signed in (${user.id}, session ${clerk.session?.id}).`);
    } else {
      hideEnrolment();
      delete document.body.dataset.totpEnabled;
      if (clerk?.loaded) setStatus('clerk-js loaded: sign in with an existing user (totpkit create-user).');
    }
  }

  function hideEnrolment() {
    $('enrolment').hidden = true;
    $('secret').textContent = '';
    $('uri').textContent = '';
    const img = $('qr');
    if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
    img.removeAttribute('src');
  }

  // The QR code of the otpauth URI, rendered by the server as SVG (POST: the URI holds the secret).
  async function showEnrolment(totp) {
    $('secret').textContent = totp.secret ?? '';
    $('uri').textContent = totp.uri ?? '';
    $('enrolment').hidden = false;
    const note = $('qr-note');
    note.textContent = 'Scan with your authenticator app';
    const response = await fetch(config.qrUrl, {
      method: 'POST',
      body: new URLSearchParams({ uri: totp.uri ?? '' }),
      credentials: 'same-origin',
    });
    if (!response.ok) {
      note.textContent = `No QR code: ${await response.text()}`;
      return;
    }
    const img = $('qr');
    const loaded = new Promise(resolve => {
      img.onload = resolve;
      img.onerror = resolve;
    });
    img.src = URL.createObjectURL(await response.blob());
    await loaded;
  }

  // ------------------------------------------------------------ the calls

  async function signIn(event) {
    event.preventDefault();
    await run(
      'signIn.create({ identifier, password })',
      () => window.Clerk.client.signIn.create({ identifier: $('email').value, password: $('password').value }),
      async attempt => {
        if (attempt.status === 'complete') {
          await window.Clerk.setActive({ session: attempt.createdSessionId });
        } else if (attempt.status === 'needs_second_factor') {
          $('second-factor-form').hidden = false;
          $('second-factor-code').focus();
        }
      },
    );
  }

  async function secondFactor(event) {
    event.preventDefault();
    const code = $('second-factor-code').value.trim();
    await run(
      "signIn.attemptSecondFactor({ strategy: 'totp', code })",
      () => window.Clerk.client.signIn.attemptSecondFactor({ strategy: 'totp', code }),
      async attempt => {
        if (attempt.status !== 'complete') return;
        $('second-factor-form').hidden = true;
        $('second-factor-code').value = '';
        await window.Clerk.setActive({ session: attempt.createdSessionId });
      },
    );
  }

  async function createTOTP() {
    hideEnrolment();
    await run('user.createTOTP()', () => window.Clerk.user.createTOTP(), showEnrolment);
  }

  async function verifyTOTP() {
    const code = $('code').value.trim();
    await run('user.verifyTOTP({ code })', () => window.Clerk.user.verifyTOTP({ code }), async totp => {
      if (!totp.verified) return;
      $('code').value = ''; // enrolled: the secret is not shown any longer
      hideEnrolment();
    });
  }

  async function disableTOTP() {
    await run('user.disableTOTP()', () => window.Clerk.user.disableTOTP(), async () => hideEnrolment());
  }

  async function createBackupCode() {
    await run('user.createBackupCode()', () => window.Clerk.user.createBackupCode());
  }

  async function signOut() {
    await run(
      'Clerk.signOut()',
      async () => {
        await window.Clerk.signOut();
        return { signedOut: true };
      },
      async () => {
        $('second-factor-form').hidden = true;
      },
    );
  }

  // ------------------------------------------------------------ loading clerk-js

  function loadClerk() {
    if (!config.clerkJsUrl) {
      setStatus(config.missingBundle, true);
      return;
    }
    // clerk.browser.js reads these globals when it runs, then creates window.Clerk.
    window.__clerk_publishable_key = config.publishableKey;
    window.__clerk_proxy_url = config.proxyUrl;
    const script = document.createElement('script');
    script.src = config.clerkJsUrl;
    script.onerror = () => setStatus(`Could not load ${config.clerkJsUrl}.`, true);
    script.onload = async () => {
      try {
        // A router that stays on this page: signOut() would otherwise navigate to "/".
        await window.Clerk.load({ telemetry: false, routerPush: () => render(), routerReplace: () => render() });
      } catch (err) {
        setStatus(`Clerk.load() failed: ${JSON.stringify(describeError(err))}`, true);
        return;
      }
      window.Clerk.addListener(() => render());
      document.body.dataset.clerk = 'loaded';
      render();
    };
    document.head.append(script);
  }

  $('sign-in-form').addEventListener('submit', signIn);
  $('second-factor-form').addEventListener('submit', secondFactor);
  $('create-totp').addEventListener('click', createTOTP);
  $('verify-totp').addEventListener('click', verifyTOTP);
  $('disable-totp').addEventListener('click', disableTOTP);
  $('create-backup-code').addEventListener('click', createBackupCode);
  $('sign-out').addEventListener('click', signOut);
  loadClerk();
})();
