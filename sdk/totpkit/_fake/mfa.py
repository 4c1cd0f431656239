"""Code checks and lockout, as the server's ``services/mfa.py`` does them.

A TOTP code is accepted for the current time step +-1, each step at most once (replay protection).
Wrong enrolment codes and wrong second-factor codes count towards the user's lockout; when
``lockout_max_attempts`` is reached the user is locked for ``lockout_duration`` seconds (403
``user_locked``); a wrong code that leaves 1 or 2 attempts answers 422 ``account_lockout_warning``
instead of ``form_code_incorrect``. A success resets the count, and so does the end of a lockout.
The server's request-rate limits (429 ``too_many_requests``) are not modelled: the fake never
throttles.
"""

from __future__ import annotations

import hmac
import math
import re

from ..otp import decode_secret, hotp, time_step
from . import errors
from .state import FakeState, TOTPRecord, UserRecord, normalise_backup_code

__all__ = (
    "check_code_form",
    "consume_backup_code",
    "consume_code",
    "consume_totp",
    "ensure_not_locked",
    "match_step",
    "register_failure",
    "reset",
)

_WINDOW = 1
_MAX_CODE_LENGTH = 64
_LOCKOUT_WARNING_ATTEMPTS = 2


def match_step(state: FakeState, totp: TOTPRecord, code: str) -> int | None:
    """The highest time step in the window whose code is ``code`` (used or not), or ``None``."""
    typed = code.strip()
    if len(code) > _MAX_CODE_LENGTH or re.fullmatch(r"[0-9]{6}", typed) is None:
        return None
    key = decode_secret(totp.secret)
    current = time_step(state.clock())
    matched = None
    for step in range(max(0, current - _WINDOW), current + _WINDOW + 1):
        if hmac.compare_digest(hotp(key, step), typed):
            matched = step
    return matched


def consume_totp(state: FakeState, user: UserRecord, code: str) -> bool:
    """Accept a code of the user's verified TOTP once, raising its last used step."""
    totp = user.totp
    if totp is None or not totp.verified:
        return False
    step = match_step(state, totp, code)
    if step is None or step <= totp.last_step:
        return False
    totp.last_step = step
    return True


def consume_backup_code(user: UserRecord, code: str) -> bool:
    """Accept an unused backup code once (case, spaces and dashes are ignored)."""
    if not code or len(code) > _MAX_CODE_LENGTH:
        return False
    normalised = normalise_backup_code(code)
    if normalised not in user.backup_codes:
        return False
    user.backup_codes.discard(normalised)
    return True


def ensure_not_locked(state: FakeState, user: UserRecord) -> None:
    """Raise ``user_locked`` (with the seconds left) while the user's lockout or Backend API lock lasts."""
    now = state.now_ms()
    if user.locked_until is not None and user.locked_until > now:
        raise errors.user_locked(math.ceil((user.locked_until - now) / 1000))


def register_failure(state: FakeState, user: UserRecord, *, warn: bool = False) -> None:
    """Count a failed verification; raises ``user_locked`` if this one locked the user.

    An ended lockout starts a fresh count. With ``warn`` (the Frontend API's code forms), a failure
    that leaves 1 or 2 attempts raises 422 ``account_lockout_warning``.
    """
    now = state.now_ms()
    if user.locked_until is not None and user.locked_until <= now:
        user.failed_attempts, user.locked_until = 0, None
    user.failed_attempts += 1
    limit = state.lockout_max_attempts
    if limit > 0 and user.failed_attempts >= limit:
        user.locked_until = now + state.lockout_duration * 1000
    ensure_not_locked(state, user)
    remaining = limit - user.failed_attempts
    if warn and limit > 0 and 0 < remaining <= _LOCKOUT_WARNING_ATTEMPTS:
        raise errors.account_lockout_warning(remaining)


def reset(user: UserRecord) -> None:
    """A successful verification clears the failure count and any lockout."""
    user.failed_attempts, user.locked_until = 0, None


def consume_code(state: FakeState, user: UserRecord, strategy: str, code: str) -> bool:
    """Accept ``code`` once as the user's TOTP code (``strategy == "totp"``) or as a backup code."""
    return consume_totp(state, user, code) if strategy == "totp" else consume_backup_code(user, code)


def check_code_form(state: FakeState, user: UserRecord, strategy: str, code: str) -> None:
    """The Frontend API's code form (sign-in or reverification): accept the code, or count the failure.

    A wrong code counts towards the lockout and answers 422 (``account_lockout_warning`` when 1 or
    2 attempts are left, else ``form_code_incorrect``), or 403 ``user_locked`` if it locked the
    user; a right one resets the count.
    """
    if not consume_code(state, user, strategy, code):
        register_failure(state, user, warn=True)
        raise errors.form_code_incorrect()
    reset(user)
