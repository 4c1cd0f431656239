"""Test helpers: a stateful in-memory fake of the totpkit server, and TOTP codes at a chosen instant.

:class:`FakeFrontendAPI` answers Frontend and Backend API requests the way the totpkit server does
(``docs/BEHAVIOUR.md``), with the same JSON built from the same :mod:`totpkit.types` structs. It is a
``respx`` router, so it plugs into any :class:`httpx.AsyncClient`, needs no network, and its named
routes (``fake.router["totp_verify"].call_count``) show what was called. Time comes from the
``clock`` you pass; randomness from ``random_bytes``.

Usage::

    from totpkit.testing import FakeFrontendAPI, totp_code

    now = 1_700_000_000.0
    async with FakeFrontendAPI(clock=lambda: now) as fake:
        fake.add_user("jane@example.com", "correct horse")
        fapi = fake.frontend()
        await fapi.sign_in(identifier="jane@example.com", password="correct horse")
        user = await fapi.get_user()
        totp = await user.create_totp()
        await user.verify_totp(code=totp_code(totp.secret, at=now))

This module needs ``respx``: ``pip install "totpkit[testing]"``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, quote, quote_plus

import httpx
import msgspec

try:
    import respx
    from respx.patterns import M, Pattern
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError('totpkit.testing needs respx; install it with: pip install "totpkit[testing]"') from exc

from ._client import AsyncBackend, AsyncFrontend
from .otp import InvalidSecretError, decode_secret, hotp, time_step, totp_code
from .types import (
    JWK,
    JWKS,
    TOTP,
    BackupCodes,
    ClerkAPIError,
    ClerkErrors,
    Client,
    ClientWrapped,
    DeletedObject,
    EmailAddress,
    PublicUserData,
    Session,
    SignIn,
    SignInFactor,
    SignInUserData,
    Token,
    User,
    Verification,
    build_environment,
)

__all__ = ("FakeFrontendAPI", "totp_code")

# A fixed 2048-bit RSA test key (primes only; everything else is derived). Never use it for anything real.
_P = int(
    "ded7541f88b6ab0a0ae30271339a492b328027a50fb1d3e6aa9bca971b26d3676508c2804bc373f8fabfe12b78e72f72"
    "29b36b5735320070f3d1731408bdc3a852070ebeb487f1787f9c94dfeb80d9765034d0979c170d5302baef85050461cb"
    "a4a7b1a2c354ea91dd2303b9a6a97d520c06bcb52f8bc341a68d6781df5c3cdf",
    16,
)
_Q = int(
    "bbe89a1c3ee6080979fc8b8c46436a995f04a661fa27d6e00becd5de199c45390e217b8f6532cfd584b89729a3697cad"
    "b38ed54ae41acab9ae5d823bc5ac50767227075fad9497af29c9c9794607e25fc9c5ee75c36704a884b7343d71155126"
    "b0f5e39e5755403bc77ff073130326603fb5e7858185c1008ad4e7c9c092fb01",
    16,
)
_N = _P * _Q
_E = 65537
_D = pow(_E, -1, (_P - 1) * (_Q - 1))
_DP, _DQ, _Q_INV = _D % (_P - 1), _D % (_Q - 1), pow(_Q, -1, _P)
_KEY_ID = "ins_2TotpkitFakeSigningKey00001"
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_MINUTE_MS = 60_000
_DAY_MS = 86_400_000
_TOKEN_LIFETIME = 60
_WINDOW = 1
_BACKUP_CODE_COUNT = 10
_SECOND_FACTORS = ("totp", "backup_code")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _rs256(signing_input: bytes) -> bytes:
    """Sign with RSASSA-PKCS1-v1_5 over SHA-256 (RFC 8017 §8.2), in pure Python."""
    size = (_N.bit_length() + 7) // 8
    digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    padded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    message = int.from_bytes(padded, "big")
    m1, m2 = pow(message, _DP, _P), pow(message, _DQ, _Q)  # CRT: about 3x faster than pow(message, _D, _N)
    return (m2 + _Q * ((_Q_INV * (m1 - m2)) % _P)).to_bytes(size, "big")


def _normalise_backup_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code).lower()


class _FakeError(Exception):
    """A Clerk-format error answer, raised inside a handler and rendered by the dispatcher."""

    def __init__(self, status: int, code: str, message: str, long_message: str, param: str | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.error = ClerkAPIError(
            message=message, long_message=long_message, code=code, meta={"param_name": param} if param else {}
        )


def _missing(param: str) -> _FakeError:
    return _FakeError(422, "form_param_missing", "is missing", f"{param} must be included.", param)


def _value_invalid(param: str, value: str) -> _FakeError:
    long_message = f"{value} does not match one of the allowed values for parameter {param}"
    return _FakeError(422, "form_param_value_invalid", "is invalid", long_message, param)


def _code_incorrect() -> _FakeError:
    return _FakeError(422, "form_code_incorrect", "is incorrect", "Incorrect code", "code")


def _not_found() -> _FakeError:
    return _FakeError(404, "resource_not_found", "not found", "Resource not found")


def _unauthenticated() -> _FakeError:
    long_message = "Unable to authenticate the request, you need to supply an active session"
    return _FakeError(401, "authentication_invalid", "Invalid authentication", long_message)


def _state_invalid() -> _FakeError:
    return _FakeError(
        400, "client_state_invalid", "Invalid action", "We were unable to complete this action for this Client."
    )


@dataclass
class _TOTPRecord:
    id: str
    secret: str
    created_at: int
    updated_at: int
    verified: bool = False
    last_step: int = -1


@dataclass
class _UserRecord:
    id: str
    email_id: str
    email: str
    password: str | None
    created_at: int
    updated_at: int
    first_name: str | None = None
    last_name: str | None = None
    totp: _TOTPRecord | None = None
    backup_codes: set[str] = field(default_factory=set)
    mfa_enabled_at: int | None = None
    mfa_disabled_at: int | None = None
    last_sign_in_at: int | None = None
    last_active_at: int | None = None

    @property
    def totp_enabled(self) -> bool:
        return self.totp is not None and self.totp.verified

    def second_factors(self) -> list[str]:
        """The strategies this user can present as a second factor."""
        strategies = ["totp"] if self.totp_enabled else []
        return strategies + (["backup_code"] if strategies and self.backup_codes else [])


@dataclass
class _SessionRecord:
    id: str
    user_id: str
    created_at: int
    first_factor_at: int
    second_factor_at: int | None
    status: str = "active"
    updated_at: int = 0
    last_active_at: int = 0


@dataclass
class _SignInRecord:
    id: str
    identifier: str
    user_id: str
    created_at: int
    status: str = "needs_first_factor"
    first_factor_at: int | None = None
    second_strategy: str | None = None
    second_verified: bool = False
    second_attempts: int = 0
    created_session_id: str | None = None


@dataclass
class _ClientRecord:
    id: str
    token: str
    created_at: int
    updated_at: int
    sessions: list[_SessionRecord] = field(default_factory=list)
    sign_ins: dict[str, _SignInRecord] = field(default_factory=dict)
    sign_in_id: str | None = None
    last_active_session_id: str | None = None
    last_authentication_strategy: str | None = None

    def session(self, session_id: str) -> _SessionRecord | None:
        return next((session for session in self.sessions if session.id == session_id), None)


@dataclass
class _Call:
    """One request as a handler sees it: parsed query and body, and the identified client."""

    request: httpx.Request
    query: dict[str, str]
    body: dict[str, Any]
    mode: str
    client: _ClientRecord | None = None
    dev_browser: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    """Session JWTs minted for this answer, so a session shown twice shows one token."""

    def text(self, name: str) -> str | None:
        """A body field as text; ``None`` when absent or empty."""
        value = self.body.get(name)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def require(self, name: str) -> str:
        """A body field that must be present and non-empty (else ``form_param_missing``)."""
        value = self.text(name)
        if value is None:
            raise _missing(name)
        return value


_Handler = Callable[..., object]
_SideEffect = Callable[..., httpx.Response]


class FakeFrontendAPI:
    """A stateful in-memory fake of the totpkit server for tests, built on a ``respx`` router.

    **Parameters:**

    * ``base_url`` - where the fake "lives"; clients built by :meth:`frontend` and :meth:`backend`
      use it. It may contain a path prefix.
    * ``clock`` - returns the current Unix time in seconds; drives timestamps, TOTP steps and JWTs.
    * ``secret_key`` - the Backend API secret key (``Authorization: Bearer <secret_key>``).
    * ``application_name`` - the TOTP issuer (with `` (development)``) and the environment's name.
    * ``random_bytes`` - the randomness source (ids, secrets, tokens, backup codes); ``os.urandom``
      by default.

    The router is :attr:`router`; every route is named (``environment``, ``sign_in_create``,
    ``totp_verify``, ``bapi_user_get`` ... see :data:`ROUTE_NAMES`), and a last ``not_found`` route
    answers anything else with 404 ``resource_not_found``. HTTP clients made by
    :meth:`http_client`, :meth:`frontend` and :meth:`backend` are closed by :meth:`aclose`.
    """

    ROUTE_NAMES = (
        "environment",
        "dev_browser",
        "client_get",
        "client_create",
        "client_delete",
        "sign_in_create",
        "sign_in_get",
        "sign_in_attempt_first_factor",
        "sign_in_attempt_second_factor",
        "session_get",
        "session_touch",
        "session_tokens",
        "session_end",
        "me",
        "totp_create",
        "totp_verify",
        "totp_delete",
        "backup_codes_create",
        "jwks",
        "bapi_user_create",
        "bapi_user_get",
    )
    """The named routes of :attr:`router`, besides the catch-all ``not_found``."""

    def __init__(
        self,
        base_url: str = "https://fapi.totpkit.test",
        *,
        clock: Callable[[], float],
        secret_key: str = "sk_test_fake",  # noqa: S107 - a fake key for a fake server
        application_name: str = "totpkit",
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret_key = secret_key
        self.application_name = application_name
        self._clock = clock
        self._random_bytes = random_bytes or os.urandom
        self._environment = build_environment(application_name=application_name, development=True)
        self._users: dict[str, _UserRecord] = {}
        self._clients: dict[str, _ClientRecord] = {}
        self._dev_browsers: dict[str, str | None] = {}
        self._http_clients: list[httpx.AsyncClient] = []
        self.router = respx.MockRouter(base_url=self.base_url, assert_all_called=False)
        self._add_routes()

    def __repr__(self) -> str:
        return f"<FakeFrontendAPI {self.base_url!r} users={len(self._users)}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every HTTP client this fake handed out."""
        for client in self._http_clients:
            await client.aclose()
        self._http_clients.clear()

    # -- public helpers ---------------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        password: str | None,
        *,
        totp_secret: str | None = None,
        backup_codes: list[str] | None = None,
    ) -> str:
        """Create a user and return its id; a ``totp_secret`` is imported as a verified TOTP.

        Raises :class:`ValueError` for an email that is taken, and
        :class:`~totpkit.otp.InvalidSecretError` for a secret that is not base32.
        """
        if self._user_by_email(email) is not None:
            raise ValueError(f"a user with email {email!r} already exists")
        if totp_secret is not None:
            decode_secret(totp_secret)
        return self._create_user(email, password, totp_secret=totp_secret, backup_codes=backup_codes).id

    def http_client(self) -> httpx.AsyncClient:
        """An :class:`httpx.AsyncClient` whose requests are answered by this fake."""
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.router.async_handler), base_url=self.base_url)
        self._http_clients.append(client)
        return client

    def frontend(self, *, client_token: str | None = None) -> AsyncFrontend:
        """An :class:`~totpkit.AsyncFrontend` bound to this fake (a new device unless ``client_token``)."""
        return AsyncFrontend(self.base_url, http_client=self.http_client(), client_token=client_token)

    def backend(self) -> AsyncBackend:
        """An :class:`~totpkit.AsyncBackend` bound to this fake, using its secret key."""
        return AsyncBackend(self.base_url, secret_key=self.secret_key, http_client=self.http_client())

    # -- routing ----------------------------------------------------------------------------------

    def _add_routes(self) -> None:
        sid, sia = r"(?P<session_id>[^/]+)", r"(?P<sign_in_id>[^/]+)"
        fapi, bapi, plain = self._fapi_handler, self._bapi_handler, self._plain_handler
        routes: list[tuple[str, Pattern, _SideEffect]] = [
            ("environment", _on(("GET", "PATCH"), "/v1/environment"), plain(self._environment_get)),
            ("dev_browser", _on(("POST",), "/v1/dev_browser"), plain(self._dev_browser_create)),
            ("client_delete", _on(("DELETE",), "/v1/client"), fapi(self._client_delete)),
            ("client_create", _on(("PUT", "POST"), "/v1/client"), fapi(self._client_create)),
            ("client_get", _on(("GET",), "/v1/client"), fapi(self._client_get)),
            ("sign_in_create", _on(("POST",), "/v1/client/sign_ins"), fapi(self._sign_in_create)),
            ("sign_in_get", _on(("GET",), f"/v1/client/sign_ins/{sia}"), fapi(self._sign_in_get)),
            (
                "sign_in_attempt_first_factor",
                _on(("POST",), f"/v1/client/sign_ins/{sia}/attempt_first_factor"),
                fapi(self._attempt_first_factor),
            ),
            (
                "sign_in_attempt_second_factor",
                _on(("POST",), f"/v1/client/sign_ins/{sia}/attempt_second_factor"),
                fapi(self._attempt_second_factor),
            ),
            ("session_get", _on(("GET",), f"/v1/client/sessions/{sid}"), fapi(self._session_get)),
            ("session_touch", _on(("POST",), f"/v1/client/sessions/{sid}/touch"), fapi(self._session_touch)),
            ("session_tokens", _on(("POST",), f"/v1/client/sessions/{sid}/tokens(/[^/]+)?"), fapi(self._tokens)),
            ("session_end", _on(("POST",), f"/v1/client/sessions/{sid}/end"), fapi(self._session_end)),
            ("me", _on(("GET",), "/v1/me"), fapi(self._me)),
            ("totp_delete", _on(("DELETE",), "/v1/me/totp"), fapi(self._totp_delete)),
            ("totp_create", _on(("POST",), "/v1/me/totp"), fapi(self._totp_create)),
            ("totp_verify", _on(("POST",), "/v1/me/totp/attempt_verification"), fapi(self._totp_verify)),
            ("backup_codes_create", _on(("POST",), "/v1/me/backup_codes/?"), fapi(self._backup_codes_create)),
            ("jwks", _on(("GET",), "/.well-known/jwks.json"), plain(self._jwks)),
            ("bapi_user_create", _on(("POST",), "/v1/users"), bapi(self._bapi_user_create)),
            ("bapi_user_get", _on(("GET",), r"/v1/users/(?P<user_id>[^/]+)"), bapi(self._bapi_user_get)),
        ]
        for name, pattern, handler in routes:
            self.router.route(pattern, name=name).mock(side_effect=handler)
        self.router.route(name="not_found").mock(side_effect=plain(self._not_found))

    def _plain_handler(self, handler: _Handler) -> _SideEffect:
        """Wrap a handler that needs no client identification."""

        def side_effect(request: httpx.Request, **groups: str) -> httpx.Response:
            try:
                return self._json(200, handler(self._call(request, "plain"), **groups))
            except _FakeError as error:
                return self._error(error)

        return side_effect

    def _bapi_handler(self, handler: _Handler) -> _SideEffect:
        """Wrap a Backend API handler: the secret key is required."""

        def side_effect(request: httpx.Request, **groups: str) -> httpx.Response:
            try:
                if request.headers.get("authorization") != f"Bearer {self.secret_key}":
                    raise _unauthenticated()
                return self._json(200, handler(self._call(request, "bapi"), **groups))
            except _FakeError as error:
                return self._error(error)

        return side_effect

    def _fapi_handler(self, handler: _Handler) -> _SideEffect:
        """Wrap a client-bound handler: identify the client, then echo its token back."""

        def side_effect(request: httpx.Request, **groups: str) -> httpx.Response:
            call: _Call | None = None
            try:
                call = self._identify(self._call(request, "cookie"))
                response = self._json(200, handler(call, **groups))
            except _FakeError as error:
                response = self._error(error)
            if call is not None:
                self._attach_client(call, response)
            return response

        return side_effect

    def _call(self, request: httpx.Request, mode: str) -> _Call:
        query = dict(request.url.params)
        return _Call(request=request, query=query, body=_parse_body(request), mode=mode)

    def _identify(self, call: _Call) -> _Call:
        """Find the caller's client: native ``Authorization``, then dev-browser token, then cookie."""
        headers = call.request.headers
        if call.query.get("_is_native") in {"1", "true"}:
            return self._identify_native(call)
        dev_token = call.query.get("__clerk_db_jwt") or call.query.get("__dev_session")
        if dev_token is not None:
            if dev_token not in self._dev_browsers:
                raise _FakeError(
                    401,
                    "dev_browser_unauthenticated",
                    "Browser unauthenticated",
                    "Unable to authenticate this browser for your development instance.",
                )
            call.mode, call.dev_browser = "dev_browser", dev_token
            client_token = self._dev_browsers[dev_token]
            call.client = self._clients.get(client_token) if client_token else None
            return call
        cookie = SimpleCookie(headers.get("cookie", ""))
        if "__client" in cookie:
            call.client = self._clients.get(cookie["__client"].value)
        return call

    def _identify_native(self, call: _Call) -> _Call:
        headers = call.request.headers
        if "authorization" not in headers:
            raise _FakeError(
                400,
                "request_header_missing",
                "Request header missing",
                "The Authorization header must be included in native requests.",
            )
        if "origin" in headers:
            raise _FakeError(
                400,
                "origin_authorization_headers_conflict",
                "Conflicting headers",
                "The Origin and Authorization headers cannot both be set.",
            )
        call.mode = "native"
        token = headers["authorization"].removeprefix("Bearer ").strip()
        call.client = self._clients.get(token) if token else None
        return call

    def _attach_client(self, call: _Call, response: httpx.Response) -> None:
        """Hand the client token back the way the caller presented it."""
        client = call.client
        if client is None:
            return
        if call.mode == "native":
            response.headers["Authorization"] = client.token
        elif call.mode == "dev_browser" and call.dev_browser is not None:
            self._dev_browsers[call.dev_browser] = client.token
        else:
            response.headers["Set-Cookie"] = f"__client={client.token}; HttpOnly; SameSite=Lax; Path=/"

    def _json(self, status: int, body: object) -> httpx.Response:
        return httpx.Response(status, content=msgspec.json.encode(body), headers={"content-type": "application/json"})

    def _error(self, error: _FakeError) -> httpx.Response:
        body = ClerkErrors(errors=[error.error], meta={}, clerk_trace_id=self._random_bytes(16).hex())
        return self._json(error.status, body)

    # -- ids, time, randomness --------------------------------------------------------------------

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _new_id(self, prefix: str) -> str:
        return prefix + "".join(_BASE62[byte % 62] for byte in self._random_bytes(27))

    def _new_secret(self) -> str:
        return base64.b32encode(self._random_bytes(20)).decode("ascii").rstrip("=")

    def _new_backup_codes(self) -> list[str]:
        return [
            "".join(_BACKUP_ALPHABET[byte % len(_BACKUP_ALPHABET)] for byte in self._random_bytes(10))
            for _ in range(_BACKUP_CODE_COUNT)
        ]

    # -- state helpers ----------------------------------------------------------------------------

    def _create_user(
        self,
        email: str,
        password: str | None,
        *,
        totp_secret: str | None = None,
        backup_codes: list[str] | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> _UserRecord:
        now = self._now_ms()
        user = _UserRecord(
            id=self._new_id("user_"),
            email_id=self._new_id("idn_"),
            email=email,
            password=password,
            created_at=now,
            updated_at=now,
            first_name=first_name,
            last_name=last_name,
        )
        if totp_secret is not None:
            user.totp = _TOTPRecord(self._new_id("totp_"), totp_secret.upper(), now, now, verified=True)
            user.mfa_enabled_at = now
        user.backup_codes = {_normalise_backup_code(code) for code in backup_codes or []}
        self._users[user.id] = user
        return user

    def _user_by_email(self, email: str) -> _UserRecord | None:
        wanted = email.strip().lower()
        return next((user for user in self._users.values() if user.email.lower() == wanted), None)

    def _ensure_client(self, call: _Call) -> _ClientRecord:
        if call.client is None:
            call.client = self._new_client()
        return call.client

    def _new_client(self) -> _ClientRecord:
        now = self._now_ms()
        token = "".join(_BASE62[byte % 62] for byte in self._random_bytes(40))
        client = _ClientRecord(id=self._new_id("client_"), token=token, created_at=now, updated_at=now)
        self._clients[token] = client
        return client

    def _client_sign_in(self, call: _Call, sign_in_id: str) -> tuple[_ClientRecord, _SignInRecord]:
        client = call.client
        sign_in = client.sign_ins.get(sign_in_id) if client is not None else None
        if client is None or sign_in is None:
            raise _not_found()
        return client, sign_in

    def _client_session(self, call: _Call, session_id: str) -> tuple[_ClientRecord, _SessionRecord]:
        client = call.client
        session = client.session(session_id) if client is not None else None
        if client is None or session is None:
            raise _not_found()
        return client, session

    def _active_session(self, call: _Call, session_id: str) -> tuple[_ClientRecord, _SessionRecord]:
        client, session = self._client_session(call, session_id)
        if session.status != "active":
            raise _unauthenticated()
        return client, session

    def _me_user(self, call: _Call) -> _UserRecord:
        """The user of the session ``/v1/me`` acts on; 401 ``authentication_invalid`` without one."""
        client = call.client
        if client is None:
            raise _unauthenticated()
        session_id = call.query.get("_clerk_session_id") or client.last_active_session_id
        session = client.session(session_id) if session_id else None
        if session is None or session.status != "active":
            raise _unauthenticated()
        return self._users[session.user_id]

    def _touch_user(self, user: _UserRecord, client: _ClientRecord | None) -> None:
        user.updated_at = self._now_ms()
        if client is not None:
            client.updated_at = user.updated_at

    # -- views (records -> wire structs) ----------------------------------------------------------

    def _wrapped(self, call: _Call, response: object) -> ClientWrapped[Any]:
        return ClientWrapped(response=response, client=self._client_view(call.client, call))

    def _client_view(self, client: _ClientRecord | None, call: _Call) -> Client | None:
        if client is None:
            return None
        sign_in = client.sign_ins.get(client.sign_in_id) if client.sign_in_id else None
        return Client(
            id=client.id,
            sessions=[self._session_view(s, call) for s in client.sessions if s.status == "active"],
            sign_in=self._sign_in_view(sign_in) if sign_in is not None else None,
            sign_up=None,
            last_active_session_id=client.last_active_session_id,
            last_authentication_strategy=client.last_authentication_strategy,
            cookie_expires_at=client.created_at + 365 * _DAY_MS,
            captcha_bypass=False,
            created_at=client.created_at,
            updated_at=client.updated_at,
        )

    def _user_view(self, user: _UserRecord) -> User:
        verification = Verification(
            object="verification_admin", status="verified", strategy="admin", attempts=None, expire_at=None
        )
        email = EmailAddress(
            id=user.email_id,
            email_address=user.email,
            verification=verification,
            created_at=user.created_at,
            updated_at=user.created_at,
        )
        return User(
            id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            primary_email_address_id=user.email_id,
            password_enabled=user.password is not None,
            two_factor_enabled=user.totp_enabled,
            totp_enabled=user.totp_enabled,
            backup_code_enabled=bool(user.backup_codes),
            email_addresses=[email],
            last_sign_in_at=user.last_sign_in_at,
            mfa_enabled_at=user.mfa_enabled_at,
            mfa_disabled_at=user.mfa_disabled_at,
            last_active_at=user.last_active_at,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )

    def _session_view(self, session: _SessionRecord, call: _Call) -> Session:
        user = self._users[session.user_id]
        token = None
        if session.status == "active":
            if session.id not in call.tokens:
                call.tokens[session.id] = self._session_jwt(session, call)
            token = Token(jwt=call.tokens[session.id])
        public = PublicUserData(
            first_name=user.first_name,
            last_name=user.last_name,
            image_url="",
            has_image=False,
            identifier=user.email,
            user_id=user.id,
        )
        return Session(
            id=session.id,
            status=session.status,
            expire_at=session.created_at + 7 * _DAY_MS,
            abandon_at=session.created_at + 30 * _DAY_MS,
            last_active_at=session.last_active_at,
            last_active_token=token,
            user=self._user_view(user),
            public_user_data=public,
            factor_verification_age=self._factor_age(session),
            created_at=session.created_at,
            updated_at=session.updated_at,
        )

    def _factor_age(self, session: _SessionRecord) -> list[int]:
        now = self._now_ms()
        first = (now - session.first_factor_at) // _MINUTE_MS
        second = -1 if session.second_factor_at is None else (now - session.second_factor_at) // _MINUTE_MS
        return [first, second]

    def _session_jwt(self, session: _SessionRecord, call: _Call) -> str:
        """A real RS256 session token, verifiable with the key at ``/.well-known/jwks.json``."""
        issued = int(self._clock())
        claims: dict[str, object] = {
            "exp": issued + _TOKEN_LIFETIME,
            "fva": self._factor_age(session),
            "iat": issued,
            "iss": self.base_url,
            "jti": self._random_bytes(10).hex(),
            "nbf": issued - 10,
            "sid": session.id,
            "sub": session.user_id,
            "v": 2,
        }
        origin = call.request.headers.get("origin")
        if origin:
            claims["azp"] = origin
        header = {"alg": "RS256", "kid": _KEY_ID, "typ": "JWT"}
        signing_input = f"{_b64url(_json_bytes(header))}.{_b64url(_json_bytes(claims))}".encode("ascii")
        return f"{signing_input.decode('ascii')}.{_b64url(_rs256(signing_input))}"

    def _sign_in_view(self, sign_in: _SignInRecord) -> SignIn:
        user = self._users[sign_in.user_id]
        first = None
        if sign_in.first_factor_at is not None:
            first = Verification(
                object="verification_password", status="verified", strategy="password", attempts=1, expire_at=None
            )
        second_factors = None
        if sign_in.first_factor_at is not None and user.second_factors():
            second_factors = [SignInFactor(strategy=strategy) for strategy in user.second_factors()]
        return SignIn(
            id=sign_in.id,
            status=sign_in.status,
            supported_identifiers=["email_address"],
            supported_first_factors=[SignInFactor(strategy="password")],
            supported_second_factors=second_factors,
            first_factor_verification=first,
            second_factor_verification=self._second_verification(sign_in),
            identifier=sign_in.identifier,
            user_data=SignInUserData(first_name=user.first_name, last_name=user.last_name),
            created_session_id=sign_in.created_session_id,
            abandon_at=sign_in.created_at + _DAY_MS,
        )

    def _second_verification(self, sign_in: _SignInRecord) -> Verification | None:
        strategy = sign_in.second_strategy
        if strategy is None:
            return None
        return Verification(
            object=f"verification_{strategy}",
            status="verified" if sign_in.second_verified else "unverified",
            strategy=strategy,
            attempts=sign_in.second_attempts,
            expire_at=None,
        )

    def _totp_view(
        self, totp: _TOTPRecord, *, reveal_to: _UserRecord | None = None, backup_codes: list[str] | None = None
    ) -> TOTP:
        """The TOTP as the wire shows it; secret and URI only when ``reveal_to`` (the create call)."""
        return TOTP(
            id=totp.id,
            secret=totp.secret if reveal_to is not None else None,
            uri=self._totp_uri(totp.secret, reveal_to.email) if reveal_to is not None else None,
            verified=totp.verified,
            backup_codes=backup_codes,
            created_at=totp.created_at,
            updated_at=totp.updated_at,
        )

    def _totp_uri(self, secret: str, account: str) -> str:
        """``otpauth://totp/<Issuer>:<account>?...``: path percent-encoded, query spaces as ``+``."""
        issuer = f"{self.application_name} (development)"
        label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
        query = f"algorithm=SHA1&digits=6&issuer={quote_plus(issuer)}&period=30&secret={secret}"
        return f"otpauth://totp/{label}?{query}"

    # -- FAPI handlers ----------------------------------------------------------------------------

    def _environment_get(self, call: _Call) -> object:
        return self._environment

    def _dev_browser_create(self, call: _Call) -> object:
        token = self._new_id("dvb_")
        self._dev_browsers[token] = None
        return {"object": "dev_browser", "id": token}

    def _jwks(self, call: _Call) -> object:
        key = JWK(use="sig", kty="RSA", kid=_KEY_ID, alg="RS256", n=_b64url(_int_bytes(_N)), e=_b64url(_int_bytes(_E)))
        return JWKS(keys=[key])

    def _not_found(self, call: _Call) -> object:
        raise _not_found()

    def _client_get(self, call: _Call) -> object:
        view = self._client_view(call.client, call)
        return ClientWrapped(response=view, client=view)

    def _client_create(self, call: _Call) -> object:
        call.client = self._new_client()
        return self._client_get(call)

    def _client_delete(self, call: _Call) -> object:
        client = call.client
        if client is not None:
            now = self._now_ms()
            for session in client.sessions:
                if session.status == "active":
                    session.status, session.updated_at = "ended", now
            client.sign_in_id, client.last_active_session_id, client.updated_at = None, None, now
        return self._client_get(call)

    def _sign_in_create(self, call: _Call) -> object:
        identifier = call.require("identifier")
        password = call.text("password")
        strategy = call.text("strategy")
        if strategy is not None and strategy != "password":
            raise _value_invalid("strategy", strategy)
        user = self._user_by_email(identifier)
        if user is None:
            raise _FakeError(
                422,
                "form_identifier_not_found",
                "Couldn't find your account.",
                "Couldn't find your account.",
                "identifier",
            )
        if password is not None:
            self._check_password(user, password)
        client = self._ensure_client(call)
        now = self._now_ms()
        sign_in = _SignInRecord(id=self._new_id("sia_"), identifier=identifier, user_id=user.id, created_at=now)
        client.sign_ins[sign_in.id] = sign_in
        client.sign_in_id, client.updated_at = sign_in.id, now
        if password is not None:
            self._pass_first_factor(client, sign_in, user)
        return self._wrapped(call, self._sign_in_view(sign_in))

    def _check_password(self, user: _UserRecord, password: str) -> None:
        if user.password is None or not hmac.compare_digest(user.password.encode(), password.encode()):
            message = "Password is incorrect. Try again, or use another method."
            raise _FakeError(422, "form_password_incorrect", message, message, "password")

    def _pass_first_factor(self, client: _ClientRecord, sign_in: _SignInRecord, user: _UserRecord) -> None:
        sign_in.first_factor_at = self._now_ms()
        if user.second_factors():
            sign_in.status = "needs_second_factor"
        else:
            self._complete(client, sign_in, user)

    def _complete(self, client: _ClientRecord, sign_in: _SignInRecord, user: _UserRecord) -> None:
        """Finish a sign-in: new active session, made the client's last active one."""
        now = self._now_ms()
        second_at = now if sign_in.second_verified else None
        first_at = sign_in.first_factor_at if sign_in.first_factor_at is not None else now
        session = _SessionRecord(self._new_id("sess_"), user.id, now, first_at, second_at, "active", now, now)
        client.sessions.append(session)
        sign_in.status, sign_in.created_session_id = "complete", session.id
        client.sign_in_id, client.last_active_session_id = None, session.id
        client.last_authentication_strategy, client.updated_at = "password", now
        user.last_sign_in_at = user.last_active_at = now

    def _sign_in_get(self, call: _Call, sign_in_id: str) -> object:
        _, sign_in = self._client_sign_in(call, sign_in_id)
        return self._wrapped(call, self._sign_in_view(sign_in))

    def _attempt_first_factor(self, call: _Call, sign_in_id: str) -> object:
        client, sign_in = self._client_sign_in(call, sign_in_id)
        strategy = call.require("strategy")
        if strategy != "password":
            raise _value_invalid("strategy", strategy)
        password = call.require("password")
        if sign_in.status != "needs_first_factor":
            raise _state_invalid()
        user = self._users[sign_in.user_id]
        self._check_password(user, password)
        self._pass_first_factor(client, sign_in, user)
        return self._wrapped(call, self._sign_in_view(sign_in))

    def _attempt_second_factor(self, call: _Call, sign_in_id: str) -> object:
        client, sign_in = self._client_sign_in(call, sign_in_id)
        strategy = call.require("strategy")
        code = call.require("code")
        if strategy not in _SECOND_FACTORS:
            raise _value_invalid("strategy", strategy)
        user = self._users[sign_in.user_id]
        if strategy not in user.second_factors():
            raise _FakeError(
                400,
                "strategy_for_user_invalid",
                "Invalid verification strategy",
                "The verification strategy is not valid for this account",
            )
        if sign_in.status != "needs_second_factor":
            raise _state_invalid()
        if sign_in.second_strategy != strategy:
            sign_in.second_strategy, sign_in.second_attempts = strategy, 0
        sign_in.second_attempts += 1
        if not self._accept_second_factor(user, strategy, code):
            raise _code_incorrect()
        sign_in.second_verified = True
        self._complete(client, sign_in, user)
        return self._wrapped(call, self._sign_in_view(sign_in))

    def _accept_second_factor(self, user: _UserRecord, strategy: str, code: str) -> bool:
        if strategy == "totp":
            return user.totp is not None and self._accept_totp(user.totp, code)
        normalised = _normalise_backup_code(code)
        if normalised in user.backup_codes:
            user.backup_codes.discard(normalised)
            user.updated_at = self._now_ms()
            return True
        return False

    def _accept_totp(self, totp: _TOTPRecord, code: str) -> bool:
        """Accept ``code`` for the current step +-1, each step at most once (replay protection)."""
        key = decode_secret(totp.secret)
        current = time_step(self._clock())
        for step in range(current - _WINDOW, current + _WINDOW + 1):
            if step > totp.last_step and hmac.compare_digest(hotp(key, step), code.strip()):
                totp.last_step = step
                return True
        return False

    def _session_get(self, call: _Call, session_id: str) -> object:
        _, session = self._client_session(call, session_id)
        return self._wrapped(call, self._session_view(session, call))

    def _session_touch(self, call: _Call, session_id: str) -> object:
        client, session = self._active_session(call, session_id)
        now = self._now_ms()
        session.last_active_at = session.updated_at = client.updated_at = now
        client.last_active_session_id = session.id
        return self._wrapped(call, self._session_view(session, call))

    def _session_end(self, call: _Call, session_id: str) -> object:
        client, session = self._client_session(call, session_id)
        if session.status == "active":
            session.status = "ended"
            session.updated_at = client.updated_at = self._now_ms()
        if client.last_active_session_id == session.id:
            remaining = [s.id for s in client.sessions if s.status == "active"]
            client.last_active_session_id = remaining[-1] if remaining else None
        return self._wrapped(call, self._session_view(session, call))

    def _tokens(self, call: _Call, session_id: str) -> object:
        _, session = self._active_session(call, session_id)
        return Token(jwt=self._session_jwt(session, call))

    def _me(self, call: _Call) -> object:
        return self._wrapped(call, self._user_view(self._me_user(call)))

    def _totp_create(self, call: _Call) -> object:
        user = self._me_user(call)
        if user.totp_enabled:
            raise _FakeError(
                400, "totp_already_enabled", "TOTP already enabled", "TOTP is already enabled on your account"
            )
        now = self._now_ms()
        user.totp = _TOTPRecord(self._new_id("totp_"), self._new_secret(), now, now)
        self._touch_user(user, call.client)
        return self._wrapped(call, self._totp_view(user.totp, reveal_to=user))

    def _totp_verify(self, call: _Call) -> object:
        user = self._me_user(call)
        code = call.require("code")
        totp = user.totp
        if totp is None:
            raise _not_found()
        if totp.verified:
            raise _FakeError(
                400, "totp_already_enabled", "TOTP already enabled", "TOTP is already enabled on your account"
            )
        if not self._accept_totp(totp, code):
            raise _code_incorrect()
        now = self._now_ms()
        totp.verified, totp.updated_at = True, now
        user.mfa_enabled_at = now  # verifying is only possible while MFA is off
        new_codes = None
        if not user.backup_codes:
            new_codes = self._new_backup_codes()
            user.backup_codes = {_normalise_backup_code(c) for c in new_codes}
        self._touch_user(user, call.client)
        return self._wrapped(call, self._totp_view(totp, backup_codes=new_codes))

    def _totp_delete(self, call: _Call) -> object:
        user = self._me_user(call)
        totp = user.totp
        if totp is None:
            raise _not_found()
        user.totp = None
        if totp.verified:
            user.backup_codes.clear()
            user.mfa_disabled_at = self._now_ms()
        self._touch_user(user, call.client)
        return self._wrapped(call, DeletedObject(object="totp", id=totp.id, deleted=True))

    def _backup_codes_create(self, call: _Call) -> object:
        user = self._me_user(call)
        if not user.totp_enabled:
            raise _FakeError(
                400,
                "backup_codes_not_available",
                "Backup codes not available",
                "In order to use backup codes, you have to enable any other Multi-factor method",
            )
        codes = self._new_backup_codes()
        user.backup_codes = {_normalise_backup_code(code) for code in codes}
        self._touch_user(user, call.client)
        now = self._now_ms()
        return self._wrapped(call, BackupCodes(id=self._new_id("bcode_"), codes=codes, created_at=now, updated_at=now))

    # -- BAPI handlers ----------------------------------------------------------------------------

    def _bapi_user_create(self, call: _Call) -> object:
        emails = call.body.get("email_address")
        if isinstance(emails, str):
            emails = [emails]
        if not emails or not isinstance(emails, list) or not all(isinstance(e, str) and e for e in emails):
            raise _missing("email_address")
        if self._user_by_email(emails[0]) is not None:
            message = "That email address is taken. Please try another."
            raise _FakeError(422, "form_identifier_exists", message, message, "email_address")
        secret = call.text("totp_secret")
        if secret is not None:
            _check_imported_secret(secret)
        codes = call.body.get("backup_codes")
        user = self._create_user(
            emails[0],
            call.text("password"),
            totp_secret=secret,
            backup_codes=[str(c) for c in codes] if isinstance(codes, list) else None,
            first_name=call.text("first_name"),
            last_name=call.text("last_name"),
        )
        return self._user_view(user)

    def _bapi_user_get(self, call: _Call, user_id: str) -> object:
        user = self._users.get(user_id)
        if user is None:
            raise _not_found()
        return self._user_view(user)


def _check_imported_secret(secret: str) -> None:
    try:
        decode_secret(secret)
    except InvalidSecretError:
        raise _FakeError(
            422,
            "invalid_totp_secret_code",
            "TOTP secret is invalid",
            "The TOTP secret is invalid, please provide a valid one base32 encoded",
            "totp_secret",
        ) from None


def _on(methods: tuple[str, ...], path: str) -> Pattern:
    """Match ``path`` (a regex, anchored) for ``methods``; PUT/PATCH/DELETE also as ``POST ?_method=``.

    Routes for overridden methods are registered before the POST routes of the same path, so a
    ``POST ...?_method=DELETE`` reaches the DELETE route first.
    """
    first, *rest = (_method(method) for method in methods)
    for alternative in rest:
        first = first | alternative
    return first & M(path__regex=f"^{path}$")


def _method(method: str) -> Pattern:
    pattern = M(method=method)
    if method in {"PUT", "PATCH", "DELETE"}:
        pattern = pattern | (M(method="POST") & M(params__contains={"_method": method}))
    return pattern


def _parse_body(request: httpx.Request) -> dict[str, Any]:
    """Decode a form or JSON body; malformed input is a 422 ``form_param_format_invalid``."""
    content = request.content
    if not content:
        return {}
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            decoded = json.loads(content)
        except ValueError:
            decoded = None
        if not isinstance(decoded, dict):
            raise _FakeError(422, "form_param_format_invalid", "is invalid", "The request body is malformed.")
        return decoded
    return dict(parse_qsl(content.decode("utf-8", "replace"), keep_blank_values=True))


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
