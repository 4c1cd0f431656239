"""Storage records: what the Store keeps. Never sent on the wire (the API renders wire structs from them).

Secrets never appear here in plaintext: ``TOTPRecord.sealed_secret`` is AES-GCM ciphertext,
``BackupCodeRecord.digest`` a keyed digest (or an imported bcrypt digest), ``ClientRecord.token_hash``
a SHA-256 of the client token, ``UserRecord.password_hash`` an argon2id hash. Times are Unix ms.
"""

from __future__ import annotations

import msgspec

__all__ = (
    "BackupCodeRecord",
    "ClientRecord",
    "SessionRecord",
    "SignInRecord",
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
