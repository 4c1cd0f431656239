"""Handlers of ``/v1/me``: the signed-in user, TOTP enrolment and backup codes."""

from __future__ import annotations

from ..types import BackupCodes, DeletedObject
from . import errors, mfa
from .context import Call, effective_method
from .handlers_session_verify import ensure_recent
from .state import SessionRecord, TOTPRecord, UserRecord, normalise_backup_code
from .views import totp_view, user_view, wrapped

__all__ = ("backup_codes_create", "current_session", "me", "totp_create", "totp_delete", "totp_verify")


def current_session(call: Call) -> tuple[UserRecord, SessionRecord]:
    """The user and session of ``_clerk_session_id`` or the client's last active session; 401 without a live one."""
    client = call.client
    wanted = call.query.get("_clerk_session_id") or (client.last_active_session_id if client else None)
    if client is None or not wanted:
        raise errors.authentication_invalid()
    session = client.session(wanted)
    if session is None or not call.state.is_live(session):
        raise errors.authentication_invalid()
    return call.state.users[session.user_id], session


def _me(call: Call, *, mfa_change: bool = False) -> UserRecord:
    """The user of the current session; with ``mfa_change`` it must also pass the reverification gate."""
    user, session = current_session(call)
    if mfa_change:
        ensure_recent(call.state, user, session)
    return user


def me(call: Call) -> object:
    return wrapped(call, user_view(call.state, _me(call)))


def totp_create(call: Call) -> object:
    """Start enrolment (secret and URI, shown once); replaces a pending TOTP. ``?_method=DELETE``
    disables it; the body is checked either way."""
    method = effective_method(call.request, ("POST", "DELETE"))
    call.params()
    if method == "DELETE":
        return totp_delete(call)
    user = _me(call, mfa_change=True)
    if user.totp_enabled:
        raise errors.totp_already_enabled()
    state = call.state
    now = state.now_ms()
    user.totp = TOTPRecord(state.new_id("totp_"), state.new_secret(), now, now)
    return wrapped(call, totp_view(state, user.totp, reveal_to=user))


def totp_verify(call: Call) -> object:
    """Finish enrolment with ``code``; the first verification also issues backup codes."""
    params = call.params()
    user = _me(call)
    code = params.required_str("code")
    totp, state = user.totp, call.state
    if totp is None:
        raise errors.resource_not_found("No TOTP was found for this user. Create one first.")
    if totp.verified:
        raise errors.totp_already_enabled()
    mfa.ensure_not_locked(state, user)
    step = mfa.match_step(state, totp, code)
    if step is None:
        mfa.register_failure(state, user, warn=True)
        raise errors.form_code_incorrect()
    if step <= totp.last_step:
        raise errors.form_code_incorrect()
    now = state.now_ms()
    new_codes = None if user.backup_codes else state.new_backup_codes()
    totp.verified, totp.last_step, totp.updated_at = True, step, now
    user.mfa_enabled_at = user.updated_at = now
    mfa.reset(user)
    if new_codes is not None:
        user.backup_codes = {normalise_backup_code(c) for c in new_codes}
    return wrapped(call, totp_view(state, totp, backup_codes=new_codes))


def totp_delete(call: Call) -> object:
    """Disable TOTP (and, with it gone, the backup codes); 404 if there is none."""
    user = _me(call, mfa_change=True)
    totp = user.totp
    if totp is None:
        raise errors.resource_not_found("No TOTP was found for this user.")
    user.totp = None
    if totp.verified:
        user.backup_codes.clear()
        user.mfa_disabled_at = user.updated_at = call.state.now_ms()
    return wrapped(call, DeletedObject(object="totp", id=totp.id, deleted=True))


def backup_codes_create(call: Call) -> object:
    """Replace the user's backup codes with a new set (needs a verified TOTP)."""
    call.params()
    user = _me(call, mfa_change=True)
    if not user.totp_enabled:
        raise errors.backup_codes_not_available()
    state = call.state
    now = state.now_ms()
    set_id = state.new_id("bcode_")
    codes = state.new_backup_codes()
    user.backup_codes = {normalise_backup_code(code) for code in codes}
    return wrapped(call, BackupCodes(id=set_id, codes=codes, created_at=now, updated_at=now))
