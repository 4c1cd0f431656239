"""The plugin's configuration: one documented dataclass, every source of time and randomness injectable."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .core.ids import IdFactory, random_id_factory
from .core.passwords import PasswordHasher
from .core.sealing import KeyRing
from .core.tokens import SigningKey

__all__ = ("TOTPKitConfig",)


def _default_data_dir() -> Path:
    return Path(os.environ.get("TOTPKIT_DATA_DIR", ".totpkit"))


@dataclass
class TOTPKitConfig:
    """Everything the TOTPKit plugin needs; the defaults give a development server on embedded SQLite.

    Keys: when ``key_ring`` / ``signing_keys`` / ``secret_key`` are ``None``, development keys are loaded
    from (or generated into, with mode 0600) ``data_dir``. With ``production=True`` that is refused:
    every key must be given explicitly.
    """

    issuer_name: str = "totpkit"
    """Application name: the TOTP issuer in otpauth URIs and the environment's ``application_name``."""

    path_prefix: str = "/"
    """Where the Frontend/Backend API routes are mounted in the host app (``/v1/...`` is appended)."""

    issuer_url: str | None = None
    """The ``iss`` claim of session tokens. ``None`` uses the request's base URL plus ``path_prefix``."""

    totp_digits: int = 6
    """Digits of a TOTP code. Clerk supports only 6."""

    totp_period: int = 30
    """Seconds per TOTP time step. Clerk supports only 30."""

    totp_algorithm: str = "SHA1"
    """HMAC algorithm of TOTP codes: ``SHA1`` (Clerk's), ``SHA256`` or ``SHA512``."""

    totp_window: int = 1
    """Time steps accepted on either side of the current one (0-2); each step is accepted once."""

    backup_code_count: int = 10
    """How many backup codes a set has."""

    backup_codes_enabled: bool = True
    """Whether backup codes are offered as a second factor."""

    session_token_lifetime: int = 60
    """Seconds a session JWT is valid (Clerk's default: 60)."""

    session_lifetime: int = 7 * 24 * 3600
    """Seconds a session stays active (``expire_at``)."""

    sign_in_lifetime: int = 24 * 3600
    """Seconds before an unfinished sign-in is abandoned (``abandon_at``)."""

    lockout_max_attempts: int = 10
    """Consecutive failed verifications (second factor, enrolment) that lock a user; 0 disables lockout."""

    lockout_duration: int = 3600
    """Seconds a lockout lasts (Clerk's default: one hour)."""

    max_body_bytes: int = 64 * 1024
    """Largest request body accepted; larger bodies get 413 ``request_body_too_large``."""

    data_dir: Path = field(default_factory=_default_data_dir)
    """Directory for the SQLite database and generated development keys."""

    database_url: str | None = None
    """``sqlite:///path/to.db``; ``None`` uses ``<data_dir>/totpkit.db``."""

    key_ring: KeyRing | None = None
    """AES-256-GCM keys that seal TOTP secrets and key backup-code digests."""

    signing_keys: tuple[SigningKey, ...] | None = None
    """RSA keys for session tokens; the first signs, all are published in the JWKS."""

    secret_key: str | None = None
    """Backend API bearer key (``sk_...``)."""

    production: bool = False
    """Refuse to start without explicit keys; set ``instance_environment_type`` to production."""

    allowed_origins: tuple[str, ...] | None = None
    """Browser origins accepted (exact ``scheme://host[:port]``); ``None`` accepts any origin."""

    secure_cookies: bool = False
    """Mark the ``__client`` cookie ``Secure`` (turn on behind HTTPS)."""

    clock: Callable[[], float] = time.time
    """Current time in Unix seconds; every timestamp and TOTP check reads it."""

    random_bytes: Callable[[int], bytes] = os.urandom
    """Source of randomness for secrets, codes, tokens and nonces."""

    id_factory: IdFactory | None = None
    """Makes resource ids from a prefix; ``None`` derives random ids from ``random_bytes``."""

    password_hasher: PasswordHasher = field(default_factory=PasswordHasher)
    """argon2id hasher for passwords."""

    store_dependency_key: str = "totpkit_store"
    """Name under which the Store is provided to route handlers of the host app."""

    set_default_exception_handler: bool = True
    """Register the Clerk error handler at app level (only for types the host app has no handler for)."""

    def __post_init__(self) -> None:
        if not 0 <= self.totp_window <= 2:
            raise ValueError("totp_window must be between 0 and 2")
        if self.totp_digits not in (6, 7, 8):
            raise ValueError("totp_digits must be 6, 7 or 8")
        if self.totp_algorithm not in ("SHA1", "SHA256", "SHA512"):
            raise ValueError("totp_algorithm must be SHA1, SHA256 or SHA512")
        if not 1 <= self.backup_code_count <= 50:
            raise ValueError("backup_code_count must be between 1 and 50")
        if not self.path_prefix.startswith("/"):
            raise ValueError("path_prefix must start with '/'")
        self.data_dir = Path(self.data_dir)
        if self.id_factory is None:
            self.id_factory = random_id_factory(self.random_bytes)

    def make_id(self, prefix: str) -> str:
        """A new id with ``prefix`` from the configured factory."""
        assert self.id_factory is not None  # set in __post_init__  # noqa: S101
        return self.id_factory(prefix)

    @property
    def totp_issuer(self) -> str:
        """The issuer authenticator apps show: ``issuer_name``, plus `` (development)`` outside production
        (as Clerk labels development instances)."""
        return self.issuer_name if self.production else f"{self.issuer_name} (development)"

    def now_ms(self) -> int:
        """The configured clock in Unix milliseconds."""
        return int(self.clock() * 1000)

    @property
    def sqlite_path(self) -> Path:
        """The SQLite database file this configuration uses."""
        if self.database_url is None:
            return self.data_dir / "totpkit.db"
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            raise ValueError("database_url must look like sqlite:///path/to/file.db")
        return Path(self.database_url[len(prefix) :])
