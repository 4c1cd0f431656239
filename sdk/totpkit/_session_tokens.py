"""Verifying session tokens in any Python web app: :func:`verify_session_token` and :class:`JWKSCache`.

A session token is the short-lived RS256 JWT that Clerk's clients send to your backend (the
``__session`` cookie or ``Authorization: Bearer <jwt>``). Verification happens locally against the
issuer's public keys (its JWKS); the keys are fetched once, cached, and fetched again only when a
token names a key the cache does not know (key rotation) or the cache is older than ``max_age``,
and never more often than once per ``min_refresh_interval``: a request never waits on a fetch
otherwise, and a flood of tokens with made-up key ids cannot turn into a flood of fetches.

Needs the ``jwt`` extra (``pip install 'totpkit[jwt]'``, which brings ``cryptography``); without
it the functions here raise :class:`~totpkit.MissingDependencyError`. Importing ``totpkit`` never
imports ``cryptography``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import msgspec

from ._exceptions import InvalidSessionTokenError, JWKSFetchError, MissingDependencyError
from .types import JWKS

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = ("JWKSCache", "SessionClaims", "parse_jwks", "verify_session_token", "whole_minutes")

_MAX_JWKS_BYTES = 256 * 1024
_CLAIM_NAMES = ("sub", "sid", "iss", "azp", "iat", "nbf", "exp", "jti", "v", "fva", "sts")
_NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]
_FactorAge = Annotated[int, msgspec.Meta(ge=-1)]


class SessionClaims(msgspec.Struct, frozen=True, kw_only=True):
    """The verified claims of a session token (times in Unix seconds, ``fva`` in minutes).

    ``raw`` holds every claim as sent, including ones this struct does not name (``o``, ``act``...).
    """

    sub: _NonEmpty
    """The user id (``user_...``)."""
    sid: _NonEmpty
    """The session id (``sess_...``)."""
    iat: float
    exp: float
    nbf: float | None = None
    iss: str | None = None
    azp: str | None = None
    """The origin that asked for the token; absent for native clients."""
    jti: str | None = None
    v: int | None = None
    fva: tuple[_FactorAge, _FactorAge] | None = None
    """``[minutes since the first factor, minutes since the second factor]`` when minted; ``-1`` = never."""
    sts: str | None = None
    """The session status, when the issuer includes it (``pending`` for an open session task)."""
    raw: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def user_id(self) -> str:
        """The user id (``sub``)."""
        return self.sub

    @property
    def session_id(self) -> str:
        """The session id (``sid``)."""
        return self.sid

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> SessionClaims:
        """Check the shape of already verified claims (this verifies no signature).

        Raises:
            InvalidSessionTokenError: ``token-invalid`` if ``sub`` or ``sid`` is missing or empty, or
                a named claim has the wrong type (``fva`` must be two integers of at least -1).
        """
        known = {name: claims[name] for name in _CLAIM_NAMES if name in claims}
        try:
            return msgspec.convert({**known, "raw": dict(claims)}, cls)
        except msgspec.ValidationError as exc:
            raise InvalidSessionTokenError(f"not a session token: {exc}", reason="token-invalid") from None

    def second_factor_age(self, *, now: float) -> int | None:
        """Whole minutes since the session's last second-factor verification, as of ``now``.

        The token's ``fva`` is the age when it was minted; the whole minutes since ``iat`` are
        added, so the answer never understates the age. ``None`` if the session never verified a
        second factor (``fva`` absent or ``-1``).
        """
        if self.fva is None or self.fva[1] < 0:
            return None
        return self.fva[1] + int(max(0.0, now - self.iat) // 60)

    def has_recent_second_factor(self, max_age: timedelta | int, *, now: float) -> bool:
        """Whether a second factor was verified less than ``max_age`` ago (Clerk's ``afterMinutes > age``).

        ``max_age`` is a whole number of minutes (an ``int`` or a ``timedelta``), at least one.
        Stricter than Clerk's ``second_factor`` level on purpose: a session that never verified a
        second factor fails, even when its user has none.

        Raises:
            ValueError: If ``max_age`` is not a whole number of minutes of at least one.
        """
        minutes = whole_minutes(max_age)
        age = self.second_factor_age(now=now)
        return age is not None and age < minutes


def whole_minutes(max_age: timedelta | int) -> int:
    """``max_age`` as minutes; ValueError unless it is a whole number of minutes, at least one."""
    if isinstance(max_age, timedelta):
        seconds = max_age.total_seconds()
        if seconds % 60:
            raise ValueError(f"max_age must be a whole number of minutes, got {max_age}")
        max_age = int(seconds // 60)
    if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 1:
        raise ValueError(f"max_age must be at least one minute, got {max_age!r}")
    return max_age


@contextmanager
def _jwt_extra() -> Iterator[None]:
    """Turn a missing ``cryptography`` into :class:`MissingDependencyError` naming the extra."""
    try:
        yield
    except ImportError as exc:
        if (exc.name or "").partition(".")[0] == "cryptography":
            raise MissingDependencyError("cryptography", "jwt") from exc
        raise


def parse_jwks(document: object) -> dict[str, RSAPublicKey]:
    """The RS256 verification keys of a JWKS document, by ``kid``.

    Keys that are not RSA signature keys for RS256, or are malformed, are skipped (a JWKS may also
    publish keys for other uses); of two keys with one ``kid`` the first wins.

    Raises:
        ValueError: If ``document`` is not ``{"keys": [...]}`` or holds no usable key.
        MissingDependencyError: Without the ``jwt`` extra.
    """
    with _jwt_extra():
        from ._jwt import public_key_from_jwk
    if isinstance(document, JWKS):
        document = msgspec.to_builtins(document)
    keys = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(keys, list):
        raise ValueError('a JWKS document is an object {"keys": [...]}')
    usable: dict[str, RSAPublicKey] = {}
    for jwk in keys:
        if not isinstance(jwk, Mapping):
            continue
        try:
            key = public_key_from_jwk(jwk)
        except ValueError:
            continue
        usable.setdefault(str(jwk["kid"]), key)
    if not usable:
        raise ValueError("the JWKS holds no usable RS256 signature key")
    return usable


class JWKSCache:
    """The public keys published at a JWKS URL, fetched rarely and shared by every verification.

    * The first verification fetches the keys. After that a fetch happens only when a token names a
      ``kid`` the cache does not know, or the keys are older than ``max_age`` (``None``: never too
      old), and at most once per ``min_refresh_interval`` seconds, counting failed attempts.
    * Concurrent callers that need a fetch share one request; cancelling one caller does not cancel it.
    * A failed fetch (network error, a status other than 200, a body that is not a JWKS with a usable
      RS256 key, more than 256 KiB) raises :class:`~totpkit.JWKSFetchError` and keeps the keys it
      had: tokens signed by known keys still verify while they are fresh. Keys older than
      ``max_age`` are never used; if they cannot be refreshed, verification fails closed.

    Args:
        url: The JWKS URL, e.g. ``https://auth.example.com/.well-known/jwks.json``.
        http_client: The client to fetch with (its transport, proxies and TLS settings apply);
            ``None`` opens a short-lived client per fetch.
        min_refresh_interval: Seconds between two fetches, at least.
        max_age: Seconds a fetched key set is trusted before it is fetched again; ``None`` for ever.
        timeout: Seconds a fetch may take.
        clock: Monotonic seconds, for the intervals (inject one in tests).

    Raises:
        ValueError: If an interval is negative, or ``max_age`` is shorter than ``min_refresh_interval``.
    """

    def __init__(
        self,
        url: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        min_refresh_interval: float = 30.0,
        max_age: float | None = 300.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_refresh_interval < 0 or timeout <= 0:
            raise ValueError("min_refresh_interval must be >= 0 and timeout > 0")
        if max_age is not None and max_age < min_refresh_interval:
            raise ValueError("max_age must not be shorter than min_refresh_interval")
        self.url = url
        self.min_refresh_interval = min_refresh_interval
        self.max_age = max_age
        self.fetch_count = 0
        """How many fetches were started (successful or not)."""
        self._http_client = http_client
        self._timeout = timeout
        self._clock = clock
        self._keys: dict[str, RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._last_error: JWKSFetchError | None = None
        self._inflight: asyncio.Task[None] | None = None

    @property
    def kids(self) -> frozenset[str]:
        """The key ids the cache holds now (without fetching)."""
        return frozenset(self._keys)

    async def get_key(self, kid: str) -> RSAPublicKey:
        """The public key named ``kid``, fetching the JWKS if the rules above allow and require it.

        Raises:
            InvalidSessionTokenError: ``jwk-kid-mismatch`` if the (fresh) key set has no such key.
            JWKSFetchError: If a needed fetch failed, or the keys are stale and the last fetch failed
                less than ``min_refresh_interval`` ago.
            MissingDependencyError: Without the ``jwt`` extra.
        """
        if self._is_fresh() and kid in self._keys:
            return self._keys[kid]
        await self._refresh_if_allowed()
        key = self._keys.get(kid)
        if key is None:
            shown = kid if len(kid) <= 64 else kid[:64] + "..."
            raise InvalidSessionTokenError(f"unknown key id {shown!r}", reason="jwk-kid-mismatch")
        return key

    def _is_fresh(self) -> bool:
        if self._fetched_at is None:
            return False
        return self.max_age is None or self._clock() - self._fetched_at < self.max_age

    async def _refresh_if_allowed(self) -> None:
        task = self._inflight
        if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
            if self._attempted_at is not None and self._clock() - self._attempted_at < self.min_refresh_interval:
                if not self._is_fresh():
                    cause = self._last_error.message if self._last_error else "no keys yet"
                    raise JWKSFetchError(f"no fresh keys, and the last fetch failed: {cause}", url=self.url)
                return
            self._attempted_at = self._clock()
            self.fetch_count += 1
            task = asyncio.get_running_loop().create_task(self._fetch_and_store())
            task.add_done_callback(_consume_exception)
            self._inflight = task
        await asyncio.shield(task)

    async def _fetch_and_store(self) -> None:
        try:
            keys = await self._fetch()
        except JWKSFetchError as exc:
            self._last_error = exc
            raise
        self._keys, self._fetched_at, self._last_error = keys, self._clock(), None

    async def _fetch(self) -> dict[str, RSAPublicKey]:
        try:
            if self._http_client is not None:
                body = await self._download(self._http_client)
            else:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    body = await self._download(client)
        except httpx.HTTPError as exc:
            raise JWKSFetchError(f"request failed: {type(exc).__name__}: {exc}", url=self.url) from exc
        try:
            return parse_jwks(msgspec.json.decode(body))
        except (msgspec.DecodeError, ValueError) as exc:
            raise JWKSFetchError(f"not a usable JWKS: {exc}", url=self.url) from exc

    async def _download(self, client: httpx.AsyncClient) -> bytes:
        headers = {"Accept": "application/json"}
        async with client.stream("GET", self.url, headers=headers, timeout=self._timeout) as response:
            if response.status_code != 200:
                raise JWKSFetchError(f"HTTP {response.status_code}", url=self.url)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > _MAX_JWKS_BYTES:
                    raise JWKSFetchError(f"document larger than {_MAX_JWKS_BYTES} bytes", url=self.url)
        return bytes(body)


def _consume_exception(task: asyncio.Task[None]) -> None:
    """Mark a shared fetch's failure as seen, for when every waiter was cancelled."""
    if not task.cancelled():
        task.exception()


_DEFAULT_CACHES: dict[str, JWKSCache] = {}


def _default_cache(url: str) -> JWKSCache:
    """The process-wide cache for ``url`` used by ``verify_session_token(jwks_url=...)``."""
    cache = _DEFAULT_CACHES.get(url)
    if cache is None:
        cache = _DEFAULT_CACHES[url] = JWKSCache(url)
    return cache


async def verify_session_token(
    token: str,
    *,
    jwks_url: str | None = None,
    jwks: JWKSCache | JWKS | Mapping[str, Any] | None = None,
    issuer: str | None = None,
    authorized_parties: Collection[str] | None = None,
    leeway: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> SessionClaims:
    """Verify a session token locally and return its claims.

    Checks, in order: the header (``alg`` exactly ``RS256``, no ``crit``), the key (its ``kid``
    must be published), the RS256 signature, ``exp``/``nbf``/``iat`` against ``clock()`` with
    ``leeway`` seconds of skew, ``iss`` (if ``issuer`` is given), ``azp`` (if
    ``authorized_parties`` is given and the token has one), and that ``sub`` and ``sid`` are there.
    It cannot know whether the session was ended since the token was minted: tokens live for a
    minute, which bounds that window.

    Args:
        token: The compact JWT (the ``__session`` cookie, or the ``Authorization`` header without
            ``Bearer ``).
        jwks_url: The issuer's JWKS URL; a process-wide :class:`JWKSCache` with default settings is
            kept per URL. Pass exactly one of ``jwks_url`` and ``jwks``.
        jwks: A :class:`JWKSCache` you configured, or a JWKS document to verify against as is.
        issuer: The required ``iss`` (for totpkit: its Frontend API URL, e.g. ``https://auth.example.com``).
        authorized_parties: Origins allowed in ``azp``, e.g. ``{"https://app.example.com"}``.
        leeway: Clock skew tolerated, in seconds (Clerk's default: 5).
        clock: Unix time in seconds.

    Raises:
        InvalidSessionTokenError: The token must not be trusted; ``reason`` says why.
        JWKSFetchError: The keys could not be fetched (treat as a server error, not as signed out).
        MissingDependencyError: Without the ``jwt`` extra.
        ValueError: If not exactly one of ``jwks_url`` and ``jwks`` is given, ``leeway`` is negative,
            or ``jwks`` is a document without a usable key.
    """
    if (jwks_url is None) == (jwks is None):
        raise ValueError("pass exactly one of jwks_url and jwks")
    if not math.isfinite(leeway) or leeway < 0:
        raise ValueError("leeway must be a finite number of seconds >= 0")
    with _jwt_extra():
        from ._jwt import read_header, verify_jwt
    kid = read_header(token).get("kid")
    if not isinstance(kid, str) or not kid:
        raise InvalidSessionTokenError("the token names no key id", reason="jwk-kid-mismatch")
    cache = _default_cache(jwks_url) if jwks_url is not None else jwks if isinstance(jwks, JWKSCache) else None
    public_keys = {kid: await cache.get_key(kid)} if cache is not None else parse_jwks(jwks)
    claims = verify_jwt(
        token, public_keys, now=clock(), leeway=leeway, issuer=issuer, authorized_parties=authorized_parties
    )
    return SessionClaims.from_claims(claims)
