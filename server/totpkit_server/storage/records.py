"""Storage records: what the Store keeps. Never sent on the wire (the API renders wire structs from them).

Secrets never appear here in plaintext: ``TOTPRecord.sealed_secret`` is AES-GCM ciphertext,
``BackupCodeRecord.digest`` a keyed digest (or an imported bcrypt digest), ``ClientRecord.token_hash``
a SHA-256 of the client token, ``UserRecord.password_hash`` an argon2id hash. Times are Unix ms.
"""

from __future__ import annotations

import msgspec

__all__ = (
    "AuditEventRecord",
    "BackupCodeRecord",
    "ClientRecord",
    "SealingKeyUsage",
    "SessionRecord",
    "SessionVerificationRecord",
    "SignInRecord",
    "SweepCounts",
    "TOTPRecord",
    "UserRecord",
)


class UserRecord(msgspec.Struct, kw_only=True):
    """A user and their MFA bookkeeping."""

    id: str
    email: str
    email_id: str
    password_hash: str | None
    first_name: str | None = None
    last_name: str | None = None
    created_at: int
    updated_at: int
    last_sign_in_at: int | None = None
    last_active_at: int | None = None
    mfa_enabled_at: int | None = None
    mfa_disabled_at: int | None = None
    failed_attempts: int = 0
    locked_until: int | None = None
    """Until when (Unix ms) the user is locked: by failed verifications or through the Backend API."""


class TOTPRecord(msgspec.Struct, kw_only=True):
    """A user's TOTP credential; at most one per user.

    ``last_used_step`` is the highest time step ever accepted (``-1`` before the first); a code is
    accepted only through a compare-and-set that raises it, so each step works once.
    """

    id: str
    user_id: str
    sealed_secret: str
    verified: bool
    last_used_step: int = -1
    created_at: int
    updated_at: int


class BackupCodeRecord(msgspec.Struct, kw_only=True):
    """One backup code of a user's current set (``set_id``)."""

    id: str
    user_id: str
    set_id: str
    digest: str
    used_at: int | None = None
    created_at: int


class ClientRecord(msgspec.Struct, kw_only=True):
    """A browser or device, identified by a token whose SHA-256 is ``token_hash``."""

    id: str
    token_hash: str
    sign_in_id: str | None = None
    last_active_session_id: str | None = None
    last_authentication_strategy: str | None = None
    created_at: int
    updated_at: int


class SessionRecord(msgspec.Struct, kw_only=True):
    """A session of a client; ``first_factor_at`` / ``second_factor_at`` feed ``fva``."""

    id: str
    client_id: str
    user_id: str
    status: str
    created_at: int
    updated_at: int
    last_active_at: int
    expire_at: int
    abandon_at: int
    first_factor_at: int | None = None
    second_factor_at: int | None = None


class SessionVerificationRecord(msgspec.Struct, kw_only=True):
    """The reverification (step-up) in progress for a session; at most one per session.

    ``level`` is the effective level (``second_factor`` falls back to ``first_factor`` for a user
    without a second factor); ``status`` is ``needs_first_factor``, ``needs_second_factor`` or
    ``complete``. A new ``POST .../verify`` replaces the record.
    """

    session_id: str
    user_id: str
    level: str
    status: str
    first_factor_strategy: str | None = None
    first_factor_verified: bool = False
    first_factor_attempts: int = 0
    second_factor_strategy: str | None = None
    second_factor_verified: bool = False
    second_factor_attempts: int = 0
    created_at: int
    updated_at: int


class SignInRecord(msgspec.Struct, kw_only=True):
    """A sign-in attempt of a client."""

    id: str
    client_id: str
    user_id: str | None
    identifier: str | None
    status: str
    first_factor_strategy: str | None = None
    first_factor_verified: bool = False
    first_factor_attempts: int = 0
    first_factor_verified_at: int | None = None
    second_factor_strategy: str | None = None
    second_factor_verified: bool = False
    second_factor_attempts: int = 0
    created_session_id: str | None = None
    created_at: int
    updated_at: int
    abandon_at: int


class SealingKeyUsage(msgspec.Struct, kw_only=True):
    """What one key of the sealing key ring still protects (a count, not a stored row).

    ``totp_secrets`` counts TOTP credentials (verified or pending) whose ``sealed_secret`` names the
    key; ``backup_codes`` counts *unused* backup codes whose keyed digest names it (used codes are
    never checked again; imported bcrypt digests name no key).
    """

    key_id: str
    totp_secrets: int = 0
    backup_codes: int = 0

    @property
    def total(self) -> int:
        """Everything that becomes unusable if the key is lost."""
        return self.totp_secrets + self.backup_codes


class SweepCounts(msgspec.Struct, kw_only=True, frozen=True):
    """How many rows of each kind one :meth:`Store.sweep_expired <totpkit_server.storage.base.Store.sweep_expired>`
    deleted."""

    sign_ins: int = 0
    sessions: int = 0
    clients: int = 0
    dev_browsers: int = 0
    rate_limits: int = 0

    @property
    def total(self) -> int:
        """Rows deleted in all."""
        return self.sign_ins + self.sessions + self.clients + self.dev_browsers + self.rate_limits


class AuditEventRecord(msgspec.Struct, kw_only=True):
    """One entry of the append-only audit log (see :mod:`totpkit_server.core.audit` for ``event``).

    ``seq`` is the append order, given by the store (``None`` before appending); ``at`` the event
    time in Unix ms; ``ip``, ``trace_id``, ``client_id`` and ``session_id`` describe the request that
    caused it (``None`` outside a request, e.g. the CLI). ``detail`` is a flat map of facts that never
    holds a secret, a code, a password, a token or an otpauth URI.
    """

    seq: int | None = None
    id: str
    at: int
    event: str
    outcome: str
    user_id: str | None = None
    client_id: str | None = None
    session_id: str | None = None
    ip: str | None = None
    trace_id: str | None = None
    detail: dict[str, str | int | bool | None] = msgspec.field(default_factory=dict)
