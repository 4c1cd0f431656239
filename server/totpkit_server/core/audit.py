"""The audit log's vocabulary: which security events exist, their outcomes, and what a detail may hold.

One place names every event so that services, the CLI and host apps agree on the strings stored in
``audit_events.event``. Details are small flat maps of facts (a factor, a purpose, a count); the
:func:`check_detail` guard refuses keys that would hold a secret (a code, a password, a token, a TOTP
secret or otpauth URI) and values that are not short scalars, so no caller can leak one by mistake.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

__all__ = ("AuditDetail", "AuditEvent", "AuditOutcome", "DetailValue", "check_detail")


class AuditEvent(enum.StrEnum):
    """Security events recorded in the audit log (the stored string is the value)."""

    USER_CREATED = "user.created"
    """A user was created (Backend API or ``totpkit create-user``)."""
    MFA_IMPORTED = "mfa.imported"
    """A TOTP secret and/or backup codes were imported for a user (detail: ``totp``, ``backup_codes``)."""
    TOTP_ENROLMENT_STARTED = "totp.enrolment_started"
    """A new TOTP secret was handed out, not yet verified."""
    TOTP_ENROLLED = "totp.enrolled"
    """A pending TOTP was verified with a code from the app: MFA is on."""
    TOTP_VERIFIED = "totp.verified"
    """A TOTP code was accepted as a second factor (detail ``purpose``)."""
    TOTP_DISABLED = "totp.disabled"
    """The user's TOTP was removed (with it gone, their backup codes too)."""
    BACKUP_CODES_GENERATED = "backup_codes.generated"
    """A new set of backup codes replaced the previous one (detail ``count``, ``reason``)."""
    BACKUP_CODES_DELETED = "backup_codes.deleted"
    """The user's backup codes were removed (Backend API)."""
    BACKUP_CODE_USED = "backup_code.used"
    """A backup code was accepted and consumed (detail ``purpose``, ``remaining``)."""
    VERIFICATION_FAILED = "verification.failed"
    """A code was refused (outcome ``failure``) or not even checked because the user is locked (``denied``)."""
    USER_LOCKED = "user.locked"
    """Failed verifications (or an administrator) locked the user."""
    USER_UNLOCKED = "user.unlocked"
    """An administrator lifted the user's lockout."""
    SIGN_IN_FIRST_FACTOR = "sign_in.first_factor"
    """A first factor (password) was attempted: ``success``, ``failure`` or ``denied`` (locked)."""
    SIGN_IN_COMPLETED = "sign_in.completed"
    """A sign-in created a session (detail ``second_factor``: the strategy used, or none)."""
    SESSION_REVERIFIED = "session.reverified"
    """A session's user re-verified a factor (step-up) for a sensitive action."""
    SESSION_ENDED = "session.ended"
    """A session was signed out (detail ``status``: ``ended`` or ``removed``)."""


class AuditOutcome(enum.StrEnum):
    """How the attempt ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    """The caller presented something wrong (a wrong code or password)."""
    DENIED = "denied"
    """Refused before checking anything (the user is locked)."""


DetailValue = str | int | bool | None
AuditDetail = Mapping[str, DetailValue]
"""What an event's ``detail`` holds: a flat map of short scalars."""

MAX_DETAIL_KEYS = 16
MAX_DETAIL_TEXT = 200
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_SECRET_WORDS = ("code", "secret", "password", "token", "uri", "digest", "key")
# ``codes`` as a word would block "backup_codes" counts; only these exact keys name a count, not a code.
_ALLOWED_KEYS = frozenset({"backup_codes", "backup_codes_remaining"})


def check_detail(detail: AuditDetail | None) -> dict[str, DetailValue]:
    """Validate an event's detail and return it as a plain dict (empty for ``None``).

    Raises ValueError for more than 16 keys, a key that is not ``[a-z][a-z0-9_]*`` (at most 40
    characters), a key containing a word that names a secret (``code``, ``secret``, ``password``,
    ``token``, ``uri``, ``digest``, ``key``; except the counts ``backup_codes[_remaining]``), a value
    that is not ``str | int | bool | None``, or text longer than 200 characters.
    """
    if detail is None:
        return {}
    if len(detail) > MAX_DETAIL_KEYS:
        raise ValueError(f"an audit detail has at most {MAX_DETAIL_KEYS} keys")
    checked: dict[str, DetailValue] = {}
    for key, value in detail.items():
        if not _KEY.fullmatch(key):
            raise ValueError(f"invalid audit detail key {key!r}")
        if key not in _ALLOWED_KEYS and any(word in key for word in _SECRET_WORDS):
            raise ValueError(f"audit detail key {key!r} looks like it would hold a secret")
        if value is not None and not isinstance(value, str | int | bool):
            raise ValueError(f"audit detail {key!r} must be a string, number, boolean or null")
        if isinstance(value, str) and len(value) > MAX_DETAIL_TEXT:
            raise ValueError(f"audit detail {key!r} is longer than {MAX_DETAIL_TEXT} characters")
        checked[key] = value
    return checked
