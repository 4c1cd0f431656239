"""Code checks and lockout, as the server's ``services/mfa.py`` does them.

A TOTP code is accepted for the current time step +-1, each step at most once (replay protection).
Wrong enrolment codes and wrong second-factor codes count towards the user's lockout; when
``lockout_max_attempts`` is reached the user is locked for ``lockout_duration`` seconds (403
``user_locked``). A success resets the count.
"""

from __future__ import annotations

import hmac
import math
import re

from ..otp import decode_secret, hotp, time_step
from . import errors
from .state import FakeState, TOTPRecord, UserRecord, normalise_backup_code

__all__ = ("consume_backup_code", "consume_totp", "ensure_not_locked", "match_step", "register_failure", "reset")

_WINDOW = 1
_MAX_CODE_LENGTH = 64


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
    """Raise ``user_locked`` while the user's lockout lasts."""
    now = state.now_ms()
    if user.locked_until is not None and user.locked_until > now:
        raise errors.user_locked(math.ceil((user.locked_until - now) / 1000))


def register_failure(state: FakeState, user: UserRecord) -> None:
    """Count a failed verification; raises ``user_locked`` if this one locked the user."""
    user.failed_attempts += 1
    if state.lockout_max_attempts > 0 and user.failed_attempts >= state.lockout_max_attempts:
        user.locked_until = state.now_ms() + state.lockout_duration * 1000
    ensure_not_locked(state, user)


def reset(user: UserRecord) -> None:
    """A successful verification clears the failure count and any lockout."""
    user.failed_attempts, user.locked_until = 0, None
