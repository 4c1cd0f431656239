"""The plugin's configuration: one documented dataclass, every source of time and randomness injectable."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .core.ids import IdFactory, random_id_factory
from .core.origins import normalize_origin
from .core.passwords import PasswordHasher
from .core.request_context import random_trace_id
from .core.sealing import KeyRing
from .core.tokens import SigningKey

__all__ = ("POSTGRES_URL_SCHEMES", "PRODUCTION_REVERIFICATION_MAX_AGE", "TOTPKitConfig")

POSTGRES_URL_SCHEMES = ("postgresql://", "postgres://")
"""How a ``database_url`` naming a PostgreSQL database begins."""

PRODUCTION_REVERIFICATION_MAX_AGE = 10
"""Minutes of Clerk's "strict" reverification, the default for MFA changes in production."""


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
    """The ``iss`` claim of session tokens (and what the guards check). Required with ``production``.

    ``None`` (development only): the address the server socket accepted the request on (the ASGI
    ``server``, e.g. ``http://127.0.0.1:8000``) plus ``path_prefix``, never the request's ``Host``
    header, so a caller cannot choose the issuer; ``totpkit serve`` passes its bound address.
    """

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

    rate_limit_window: int = 60
    """Seconds of one rate-limit window (fixed windows aligned to the Unix epoch)."""

    rate_limit_per_client: int = 30
    """Requests one client may send per window to the sign-in and verification endpoints (sign-in
    create, ``attempt_first_factor``, ``attempt_second_factor``, TOTP enrolment verification); more get
    429 ``too_many_requests`` with ``Retry-After``. 0 turns the per-client limit off."""

    rate_limit_per_ip: int = 300
    """The same limit per caller IP address (IPv6: per /64 network); 0 turns it off. Every process
    sharing a database must use the same limits and window."""

    rate_limit_creations_per_ip: int = 100
    """Clients and dev browsers one IP address (IPv6: /64 network) may create per window: ``PUT`` /
    ``POST /v1/client``, ``POST /v1/dev_browser`` and the client a first sign-in makes. More get 429
    ``too_many_requests`` with ``Retry-After`` and create nothing; 0 turns the limit off."""

    idle_lifetime: int = 24 * 3600
    """Seconds after which the expiry sweep deletes leftovers nobody uses: clients without sessions or
    sign-ins unchanged that long, dev browsers bound to no client created that long ago, and sessions
    ended (or expired) that long ago. Sign-ins go at their ``abandon_at``; the audit log is kept."""

    sweep_interval: float = 600
    """Seconds between expiry sweeps run by the plugin in the background (the first one this long
    after start-up); 0 turns them off (then run ``totpkit gc`` from time to time)."""

    trusted_proxy_header: str | None = None
    """Where the caller's IP address comes from. ``None`` (the default): the connection's direct peer,
    and every proxy header is ignored, so a client cannot pick its own rate-limit bucket. Set it only
    behind a reverse proxy that always sets the header: ``"x-forwarded-for"`` (see
    ``trusted_proxy_hops``) or a one-address header such as ``"x-real-ip"``. A request without the
    header is counted by its direct peer."""

    trusted_proxy_hops: int = 1
    """With ``x-forwarded-for``: how many trusted proxies append to it. The caller is the entry this
    many places from the right; entries further left were written by the client and are ignored."""

    reverification_max_age: int | None = None
    """Minutes a verification stays recent enough to change MFA; ``0`` turns reverification off.

    ``None`` (the default) means off in development and Clerk's strict 10 minutes with
    ``production`` (see :attr:`step_up_max_age`, the value in effect).

    When set, ``POST /v1/me/totp``, ``DELETE /v1/me/totp`` and ``POST /v1/me/backup_codes`` answer 403
    ``session_reverification_required`` unless the session verified, within this many minutes, its
    second factor (users with a verified TOTP) or its password (users without one, so a first
    enrolment needs only a recent sign-in). ``POST /v1/client/sessions/{id}/verify`` refreshes them.
    Clerk's "strict" setting for MFA changes is 10 minutes.
    """

    max_body_bytes: int = 64 * 1024
    """Largest request body accepted; larger bodies get 413 ``request_body_too_large``."""

    request_body_timeout: float = 10.0
    """Seconds a request body may take to arrive, counted from when totpkit starts reading it; a
    slower body gets 408 ``request_timeout`` with ``Connection: close`` and the connection is freed."""

    openapi_path: str | None = "/openapi.json"
    """Where the plugin serves its OpenAPI 3.1 document, under ``path_prefix``; ``None`` serves none.

    The document describes every totpkit route; they are kept out of the host app's own
    Litestar-generated schema, which cannot describe their hand-read bodies.
    """

    docs_path: str | None = "/docs"
    """Where the plugin serves an interactive viewer (Swagger UI) of its OpenAPI document, under
    ``path_prefix``; ``None`` (or ``openapi_path=None``) serves none. Swagger UI's files come from the
    ``docs`` extra (``swagger-ui-py``) and are served by the plugin itself, never from a CDN; without
    the extra the page says how to install it. A host app that mounts the plugin at ``/`` and has its
    own ``GET /docs`` gets Litestar's "Handler already registered" at start: move it or set ``None``."""

    clerk_js_dir: Path | None = None
    """Directory of Clerk's unmodified browser bundle ``clerk.browser.js`` (the ``dist`` folder of
    ``@clerk/clerk-js``, e.g. ``clerkjs/node_modules/@clerk/clerk-js/dist`` after
    ``npm ci --prefix clerkjs``), which the development example page ``/examples/totp`` (under
    ``path_prefix``) loads from this server. ``None``, or a directory without the bundle: the page
    says how to set it. Read when the app is created. The example page is never served with
    ``production=True``."""

    data_dir: Path = field(default_factory=_default_data_dir)
    """Directory for the SQLite database and generated development keys."""

    database_url: str | None = None
    """``sqlite:///path/to.db``, or ``postgresql://user@host:5432/db`` (also ``postgres://``) for a
    PostgreSQL database that several processes and hosts share; ``None`` uses ``<data_dir>/totpkit.db``."""

    database_pool_min_size: int = 1
    """PostgreSQL only: connections each process keeps open."""

    database_pool_max_size: int = 10
    """PostgreSQL only: most connections one process opens (requests beyond it wait for one)."""

    keys_file: Path | None = None
    """A keys file (``totpkit keys generate``) the keys were read from; every process re-reads it when
    it changes, so a key rotation needs no restart. The CLI sets it from ``--keys-file``."""

    key_ring: KeyRing | None = None
    """AES-256-GCM keys that seal TOTP secrets and key backup-code digests."""

    signing_keys: tuple[SigningKey, ...] | None = None
    """RSA keys for session tokens; the first signs, all are published in the JWKS."""

    secret_key: str | None = None
    """Backend API bearer key (``sk_...``)."""

    production: bool = False
    """Production mode: refuse to start without explicit keys, ``issuer_url`` and ``allowed_origins``;
    ``Secure`` cookies, no dev browser, reverification on by default; ``instance_environment_type``
    is ``production``."""

    allowed_origins: tuple[str, ...] | None = None
    """Browser origins accepted, each an exact ``scheme://host[:port]`` (CORS with credentials).

    ``None``: only loopback origins (``http``/``https`` on ``localhost``, ``127.0.0.0/8``, ``[::1]``,
    any port), and refused with ``production``; ``()`` accepts no browser at all (native apps and
    servers send no ``Origin``). A refused origin (``null`` included) gets no CORS headers, and its
    state-changing requests answer 400 ``origin_invalid``.
    """

    secure_cookies: bool = False
    """Mark the ``__client`` cookie ``Secure`` (turn on behind HTTPS); always on with ``production``."""

    clock: Callable[[], float] = time.time
    """Current time in Unix seconds; every timestamp and TOTP check reads it."""

    random_bytes: Callable[[int], bytes] = os.urandom
    """Source of randomness for secrets, codes, tokens and nonces."""

    id_factory: IdFactory | None = None
    """Makes resource ids from a prefix; ``None`` derives random ids from ``random_bytes``."""

    trace_id_factory: Callable[[], str] = random_trace_id
    """Makes the ``clerk_trace_id`` of each request (32 hex characters by default).

    Kept apart from ``random_bytes`` so that tracing every request does not change the secrets and
    ids a seeded configuration produces; tests pass ``sequential_trace_ids()`` for stable answers.
    """

    password_hasher: PasswordHasher = field(default_factory=PasswordHasher)
    """argon2id hasher for passwords."""

    hashing_threads: int | None = None
    """Worker threads that check and hash passwords (argon2id) and imported bcrypt backup codes, off
    the event loop so that other requests keep being served; ``None`` uses the machine's CPU count."""

    hashing_queue: int = 32
    """Hash jobs that may wait for a free hashing thread. Beyond that, a request that needs one (a
    password sign-in or check, a backup code against imported bcrypt digests) gets 429
    ``too_many_requests`` with ``Retry-After`` and changes nothing."""

    store_dependency_key: str = "totpkit_store"
    """Name under which the Store is provided to route handlers of the host app."""

    session_dependency_key: str = "verified_session"
    """Name under which the request's :class:`~totpkit_server.guards.VerifiedSession` is provided to
    host route handlers (asking for it authenticates the request: 401 without a valid session token)."""

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
        self._check_rate_limits()
        if self.reverification_max_age is not None and self.reverification_max_age < 0:
            raise ValueError("reverification_max_age must be a number of minutes (0 turns it off)")
        self._check_browser_settings()
        if (self.hashing_threads is not None and self.hashing_threads < 1) or self.hashing_queue < 0:
            raise ValueError("hashing_threads must be at least 1 (or None) and hashing_queue 0 or more")
        if self.request_body_timeout <= 0:
            raise ValueError("request_body_timeout must be positive")
        if not self.path_prefix.startswith("/"):
            raise ValueError("path_prefix must start with '/'")
        if self.openapi_path is not None and not self.openapi_path.startswith("/"):
            raise ValueError("openapi_path must start with '/' (or be None)")
        if self.docs_path is not None and not self.docs_path.startswith("/"):
            raise ValueError("docs_path must start with '/' (or be None)")
        if self.clerk_js_dir is not None:
            self.clerk_js_dir = Path(self.clerk_js_dir)
        self.data_dir = Path(self.data_dir)
        self._check_database()
        if self.id_factory is None:
            self.id_factory = random_id_factory(self.random_bytes)

    def _check_rate_limits(self) -> None:
        if self.rate_limit_window < 1:
            raise ValueError("rate_limit_window must be at least 1 second")
        if self.rate_limit_per_client < 0 or self.rate_limit_per_ip < 0:
            raise ValueError("rate_limit_per_client and rate_limit_per_ip must be 0 (off) or positive")
        if self.rate_limit_creations_per_ip < 0 or self.idle_lifetime < 0 or self.sweep_interval < 0:
            raise ValueError("rate_limit_creations_per_ip, idle_lifetime and sweep_interval must be 0 or positive")
        if self.trusted_proxy_hops < 1:
            raise ValueError("trusted_proxy_hops must be at least 1")
        if self.trusted_proxy_header is not None:
            self.trusted_proxy_header = self.trusted_proxy_header.strip().lower()
            if not self.trusted_proxy_header:
                raise ValueError("trusted_proxy_header must name a header (or be None for the direct peer)")

    def _check_browser_settings(self) -> None:
        """Normalise ``allowed_origins`` and ``issuer_url``; with ``production``, require both."""
        if self.allowed_origins is not None:
            if isinstance(self.allowed_origins, str):  # type: ignore[unreachable]  # a common mistake
                raise ValueError("allowed_origins must be a sequence of origins, not one string")
            self.allowed_origins = tuple(dict.fromkeys(normalize_origin(origin) for origin in self.allowed_origins))
        if self.issuer_url is not None:
            self.issuer_url = self.issuer_url.strip().rstrip("/")
            if not self.issuer_url.startswith(("https://", "http://")):
                raise ValueError("issuer_url must be an http:// or https:// URL")
        if self.production:
            missing = [
                hint
                for value, hint in (
                    (self.allowed_origins, "allowed_origins (--allowed-origins)"),
                    (self.issuer_url, "issuer_url (--issuer-url)"),
                )
                if value is None
            ]
            if missing:
                raise ValueError(f"production mode needs {' and '.join(missing)}")

    @property
    def step_up_max_age(self) -> int | None:
        """The reverification max age in effect (minutes), ``None`` when off: ``reverification_max_age``
        if set (``0`` is off), else 10 (Clerk's strict) with ``production`` and off in development."""
        if self.reverification_max_age is None:
            return PRODUCTION_REVERIFICATION_MAX_AGE if self.production else None
        return self.reverification_max_age or None

    @property
    def cookie_secure(self) -> bool:
        """Whether the ``__client`` cookie is ``Secure``: ``secure_cookies`` or ``production``."""
        return self.secure_cookies or self.production

    def _check_database(self) -> None:
        url = self.database_url
        if url is not None and not url.startswith(("sqlite:///", *POSTGRES_URL_SCHEMES)):
            raise ValueError("database_url must look like sqlite:///path/to/file.db or postgresql://user@host/db")
        if not 1 <= self.database_pool_min_size <= self.database_pool_max_size:
            raise ValueError("database pool sizes must satisfy 1 <= database_pool_min_size <= database_pool_max_size")

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
    def uses_postgres(self) -> bool:
        """Whether ``database_url`` names a PostgreSQL database (otherwise the store is SQLite)."""
        return self.database_url is not None and self.database_url.startswith(POSTGRES_URL_SCHEMES)

    @property
    def sqlite_path(self) -> Path:
        """The SQLite database file this configuration uses (ValueError for a PostgreSQL URL)."""
        if self.database_url is None:
            return self.data_dir / "totpkit.db"
        prefix = "sqlite:///"
        if not self.database_url.startswith(prefix):
            raise ValueError("database_url must look like sqlite:///path/to/file.db")
        return Path(self.database_url[len(prefix) :])
