"""The fake's in-memory records and the state that owns them (clock, randomness, ids, settings)."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..types import build_environment
from ..types.origins import normalize_origin

__all__ = (
    "ClientRecord",
    "FakeState",
    "SessionRecord",
    "SessionVerificationRecord",
    "SignInRecord",
    "TOTPRecord",
    "UserRecord",
    "normalise_backup_code",
)

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_BACKUP_CODE_COUNT = 10
_DAY_MS = 86_400_000


def normalise_backup_code(code: str) -> str:
    """Lower-case, with whitespace and ``-`` removed (as the server compares backup codes)."""
    return re.sub(r"[\s-]+", "", code).lower()


_SIGN_IN_LIFETIME_MS = 24 * 3600 * 1000
"""How long an unfinished sign-in lives (the server's ``sign_in_lifetime``)."""


@dataclass
class TOTPRecord:
    id: str
    secret: str
    created_at: int
    updated_at: int
    verified: bool = False
    last_step: int = -1


@dataclass
class UserRecord:
    id: str
    email_id: str
    email: str
    password: str | None
    created_at: int
    updated_at: int
    first_name: str | None = None
    last_name: str | None = None
    totp: TOTPRecord | None = None
    backup_codes: set[str] = field(default_factory=set)
    mfa_enabled_at: int | None = None
    mfa_disabled_at: int | None = None
    last_sign_in_at: int | None = None
    last_active_at: int | None = None
    failed_attempts: int = 0
    locked_until: int | None = None

    @property
    def totp_enabled(self) -> bool:
        return self.totp is not None and self.totp.verified

    def second_factors(self) -> list[str]:
        """The strategies this user can present as a second factor (``supported_second_factors``)."""
        return (["totp"] if self.totp_enabled else []) + (["backup_code"] if self.backup_codes else [])


@dataclass
class SessionRecord:
    id: str
    user_id: str
    created_at: int
    expire_at: int
    second_factor_at: int | None
    status: str = "active"

    def __post_init__(self) -> None:
        self.updated_at = self.last_active_at = self.first_factor_at = self.created_at

    @property
    def abandon_at(self) -> int:
        """Creation + 30 days, as on the server."""
        return self.created_at + 30 * _DAY_MS


@dataclass
class SignInRecord:
    id: str
    user_id: str
    identifier: str
    created_at: int
    status: str = "needs_first_factor"
    first_factor_strategy: str | None = None
    first_factor_verified: bool = False
    first_factor_attempts: int = 0
    first_factor_verified_at: int | None = None
    second_factor_strategy: str | None = None
    second_factor_verified: bool = False
    second_factor_attempts: int = 0
    created_session_id: str | None = None


@dataclass
class SessionVerificationRecord:
    """A session's reverification: ``level`` is the effective one, ``status`` what it still needs."""

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


@dataclass
class ClientRecord:
    id: str
    token: str
    created_at: int
    updated_at: int
    sessions: list[SessionRecord] = field(default_factory=list)
    sign_ins: dict[str, SignInRecord] = field(default_factory=dict)
    sign_in_id: str | None = None
    last_active_session_id: str | None = None
    last_authentication_strategy: str | None = None

    def session(self, session_id: str) -> SessionRecord | None:
        return next((session for session in self.sessions if session.id == session_id), None)


class FakeState:
    """Everything the fake remembers, plus its sources of time and randomness and its settings."""

    lockout_max_attempts = 10
    """Consecutive failed verifications that lock a user (the server's default)."""
    lockout_duration = 3600
    """Seconds a lockout lasts."""
    max_body_bytes = 64 * 1024
    """Largest request body read; larger is 413 ``request_body_too_large``."""
    session_lifetime_ms = 7 * _DAY_MS
    token_lifetime = 60

    def __init__(
        self,
        *,
        base_url: str,
        clock: Callable[[], float],
        random_bytes: Callable[[int], bytes],
        secret_key: str,
        application_name: str,
        reverification_max_age: int | None = None,
        allowed_origins: tuple[str, ...] | None = None,
    ) -> None:
        self.base_url = base_url
        self.allowed_origins = (
            tuple(normalize_origin(origin) for origin in allowed_origins) if allowed_origins is not None else None
        )
        """Browser origins accepted (the server's setting); ``None``: loopback origins only."""
        self.clock = clock
        self.random_bytes = random_bytes
        self.secret_key = secret_key
        self.application_name = application_name
        self.reverification_max_age = reverification_max_age
        """Minutes a verification gates MFA changes for (the server's setting); ``None``: off."""
        self.session_verifications: dict[str, SessionVerificationRecord] = {}
        """The reverification of each session (by session id), as the server's ``session_verifications``."""
        self.environment = build_environment(
            application_name=application_name, development=True, reverification=reverification_max_age is not None
        )
        self.users: dict[str, UserRecord] = {}
        self.clients: dict[str, ClientRecord] = {}
        self.dev_browsers: dict[str, str | None] = {}

    # -- time, ids, randomness --------------------------------------------------------------------

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def new_id(self, prefix: str) -> str:
        return prefix + "".join(_BASE62[byte % 62] for byte in self.random_bytes(27))

    def new_secret(self) -> str:
        return base64.b32encode(self.random_bytes(20)).decode("ascii").rstrip("=")

    def new_backup_codes(self) -> list[str]:
        return [
            "".join(_BACKUP_ALPHABET[byte % len(_BACKUP_ALPHABET)] for byte in self.random_bytes(10))
            for _ in range(_BACKUP_CODE_COUNT)
        ]

    # -- records ----------------------------------------------------------------------------------

    def create_user(
        self,
        email: str,
        password: str | None,
        *,
        totp_secret: str | None = None,
        backup_codes: list[str] | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> UserRecord:
        now = self.now_ms()
        user = UserRecord(
            id=self.new_id("user_"),
            email_id=self.new_id("idn_"),
            email=email,
            password=password,
            created_at=now,
            updated_at=now,
            first_name=first_name,
            last_name=last_name,
        )
        if totp_secret is not None:
            secret = totp_secret.replace(" ", "").upper()
            user.totp = TOTPRecord(self.new_id("totp_"), secret, now, now, verified=True)
            user.mfa_enabled_at = now
        user.backup_codes = {normalise_backup_code(code) for code in backup_codes or []}
        self.users[user.id] = user
        return user

    def user_by_email(self, email: str) -> UserRecord | None:
        wanted = email.lower()
        return next((user for user in self.users.values() if user.email.lower() == wanted), None)

    def new_client(self) -> ClientRecord:
        now = self.now_ms()
        token = "".join(_BASE62[byte % 62] for byte in self.random_bytes(40))
        client = ClientRecord(id=self.new_id("client_"), token=token, created_at=now, updated_at=now)
        self.clients[token] = client
        return client

    def new_session(
        self, user: UserRecord, *, second_factor: bool, first_factor_at: int | None = None
    ) -> SessionRecord:
        """A new active session; ``first_factor_at`` is when the password was verified (default: now)."""
        now = self.now_ms()
        expire_at = now + self.session_lifetime_ms
        session = SessionRecord(self.new_id("sess_"), user.id, now, expire_at, now if second_factor else None)
        session.first_factor_at = first_factor_at or now
        return session

    def is_abandoned(self, sign_in: SignInRecord) -> bool:
        """An unfinished sign-in past its ``abandon_at`` (creation + 24 h): gone, as on the server."""
        return sign_in.status != "complete" and sign_in.created_at + _SIGN_IN_LIFETIME_MS <= self.now_ms()

    def is_live(self, session: SessionRecord) -> bool:
        """Active and not expired (what ``/v1/me``, touch and tokens need)."""
        return session.status == "active" and session.expire_at > self.now_ms()
