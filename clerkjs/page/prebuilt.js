// Mounts Clerk's prebuilt components for prebuilt.mjs through clerk-js's public API only:
// <SignIn/> while signed out; <UserButton/> and <UserProfile/> while signed in. Clerk.load() gets a
// router, as framework SDKs pass one, so Clerk's redirects (after sign-in and sign-out) are recorded
// here instead of leaving the page; the components use hash routing.
(() => {
  const navigations = [];
  let mounted = null; // 'signed-in' or 'signed-out'

  function show(state) {
    const clerk = window.Clerk;
    if (state === mounted) return;
    const signIn = document.getElementById('sign-in');
    const profile = document.getElementById('user-profile');
    const button = document.getElementById('user-button');
    if (mounted === 'signed-out') clerk.unmountSignIn(signIn);
    if (mounted === 'signed-in') {
      clerk.unmountUserProfile(profile);
      clerk.unmountUserButton(button);
    }
    window.location.hash = '';
    if (state === 'signed-in') {
      clerk.mountUserButton(button);
      clerk.mountUserProfile(profile, { routing: 'hash' });
    } else {
      clerk.mountSignIn(signIn, { routing: 'hash' });
    }
    mounted = state;
  }

  async function load() {
    const clerk = window.Clerk;
    await clerk.load({
      telemetry: false,
      ui: { ClerkUI: window.__internal_ClerkUICtor },
      routerPush: to => {
        navigations.push({ to, replace: false });
      },
      routerReplace: to => {
        navigations.push({ to, replace: true });
      },
    });
    show(clerk.user ? 'signed-in' : 'signed-out');
    clerk.addListener(({ user }) => show(user ? 'signed-in' : 'signed-out'));
  }

  // What the page sees of clerk-js's state right now.
  function state() {
    const clerk = window.Clerk;
    return {
      loaded: Boolean(clerk?.loaded),
      mounted,
      userId: clerk?.user?.id ?? null,
      sessionId: clerk?.session?.id ?? null,
      totpEnabled: clerk?.user?.totpEnabled ?? null,
      backupCodeEnabled: clerk?.user?.backupCodeEnabled ?? null,
      navigations: navigations.slice(),
    };
  }

  window.totpkitPrebuilt = { load, state };
})();
