"""Backend API MFA administration, as the server's ``bapi/mfa.py`` and ``services/admin.py`` do it.

``verify_totp`` checks a TOTP code (six digits) or a backup code (anything else; consumed) with the
same replay protection and lockout as sign-in; the deletions are idempotent and answer
``{"user_id": ...}``; ``lock`` is a lockout of ``lockout_duration`` seconds (a later-ending
lockout is kept), which ``unlock`` lifts at once like any lockout.
"""

from __future__ import annotations

from ..types import TOTPVerification, UserIdResponse
from . import errors, mfa
from .context import Call
from .handlers_bapi import check_secret_key
from .state import UserRecord
from .views import user_view

__all__ = (
    "user_backup_codes_delete",
    "user_lock",
    "user_mfa_delete",
    "user_totp_delete",
    "user_unlock",
    "user_verify_totp",
)

_DIGITS = 6


def _user(call: Call, user_id: str) -> UserRecord:
    user = call.state.users.get(user_id)
    if user is None:
        raise errors.resource_not_found(f"No user was found with id {user_id[:64]}")
    return user


def _code_type(code: str, user: UserRecord) -> str:
    typed = code.strip()
    if len(typed) == _DIGITS and typed.isascii() and typed.isdigit():
        return "totp"
    if user.backup_codes:
        return "backup_code"
    if len(typed) != _DIGITS:
        raise errors.totp_invalid_length(_DIGITS)
    return "totp"


def user_verify_totp(call: Call, user_id: str) -> object:
    """``code``: a TOTP code or a backup code; failures count towards the lockout."""
    check_secret_key(call)
    code = call.params().required_str("code")
    state, user = call.state, _user(call, user_id)
    if not user.totp_enabled:
        raise errors.totp_disabled()
    mfa.ensure_not_locked(state, user)
    code_type = _code_type(code, user)
    if not mfa.consume_code(state, user, code_type, code):
        mfa.register_failure(state, user)
        raise errors.totp_incorrect_code()
    mfa.reset(user)
    return TOTPVerification(verified=True, code_type=code_type)


def user_totp_delete(call: Call, user_id: str) -> object:
    """Remove the TOTP; with a verified one, the backup codes too and ``mfa_disabled_at`` is set."""
    check_secret_key(call)
    user = _user(call, user_id)
    totp, user.totp = user.totp, None
    if totp is not None and totp.verified:
        user.backup_codes.clear()
        user.mfa_disabled_at = user.updated_at = call.state.now_ms()
    return UserIdResponse(user_id=user.id)


def user_backup_codes_delete(call: Call, user_id: str) -> object:
    """Remove every backup code; the TOTP stays."""
    check_secret_key(call)
    user = _user(call, user_id)
    if user.backup_codes:
        user.backup_codes.clear()
        user.updated_at = call.state.now_ms()
    return UserIdResponse(user_id=user.id)


def user_mfa_delete(call: Call, user_id: str) -> object:
    """Remove the TOTP (verified or pending) and every backup code."""
    check_secret_key(call)
    user = _user(call, user_id)
    now = call.state.now_ms()
    if user.totp_enabled:
        user.mfa_disabled_at = now
    if user.totp is not None or user.backup_codes:
        user.updated_at = now
    user.totp = None
    user.backup_codes.clear()
    return UserIdResponse(user_id=user.id)


def user_lock(call: Call, user_id: str) -> object:
    """Lock the user for ``lockout_duration`` seconds (never shortening a lockout); reset the count."""
    check_secret_key(call)
    user = _user(call, user_id)
    now = call.state.now_ms()
    user.locked_until = max(user.locked_until or 0, now + call.state.lockout_duration * 1000)
    user.failed_attempts = 0
    user.updated_at = now
    return user_view(call.state, user)


def user_unlock(call: Call, user_id: str) -> object:
    """Lift the lock or lockout at once; reset the failure count."""
    check_secret_key(call)
    user = _user(call, user_id)
    mfa.reset(user)
    user.updated_at = call.state.now_ms()
    return user_view(call.state, user)
