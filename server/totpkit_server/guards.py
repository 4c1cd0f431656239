"""Protecting the host app's own routes with totpkit sessions: guards and the verified session.

A request is authenticated by the session token Clerk's clients send: ``Authorization: Bearer <jwt>``
(checked first) or the ``__session`` cookie. The token is verified in process, against the plugin's
own signing keys (every configured key, i.e. every key the JWKS publishes, so tokens signed by a
retired-but-published key keep working until it is removed), with the SDK's one verifier:

* RS256 only, a published ``kid``, the signature;
* ``exp``/``nbf``/``iat`` with :data:`SESSION_TOKEN_LEEWAY` seconds of clock skew;
* ``iss`` equal to the issuer the plugin mints tokens with (``config.issuer_url``, else, in
  development, the server socket's address plus ``path_prefix``; never the ``Host`` header);
* ``azp``, when the token has one and ``config.allowed_origins`` is set, one of those origins;
* and in the store: the session exists, belongs to ``sub``, is ``active`` and has not expired, so a
  signed-out or revoked session is refused at once, not when its token expires.

Usage::

    from datetime import timedelta
    from totpkit_server import VerifiedSession, requires_second_factor, requires_session

    @get("/account", guards=[requires_session])
    async def account(verified_session: NamedDependency[VerifiedSession]) -> dict[str, str]:
        return {"user_id": verified_session.user_id}

    @post("/payouts", guards=[requires_second_factor(max_age=timedelta(minutes=10))])
    async def payout(verified_session: NamedDependency[VerifiedSession]) -> None: ...

Failures answer in Clerk's error format: 401 ``authentication_invalid`` (with Clerk's
``X-Clerk-Auth-Status: signed-out`` and ``X-Clerk-Auth-Reason``) without a valid session; 403
``session_reverification_required`` when the second factor is missing or too old. That 403 also
carries Clerk's reverification hint at the top level (``clerk_error: {type: "forbidden", reason:
"reverification-error", metadata: {reverification: {level, afterMinutes}}}``), which
``useReverification`` of Clerk's React/JS SDKs recognises to open the step-up dialog and retry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from totpkit import InvalidSessionTokenError, SessionClaims
from totpkit._session_tokens import whole_minutes

from .core import errors
from .core.errors import ClerkAPIException
from .core.tokens import verify_jwt
from .http.context import token_issuer
from .http.deps import INSTANCE_STATE_KEY
from .http.errors import clerk_exception_handler
from .services import Instance

__all__ = (
    "SESSION_COOKIE",
    "SESSION_TOKEN_LEEWAY",
    "SessionAuthError",
    "VerifiedSession",
    "authenticate",
    "provide_verified_session",
    "requires_second_factor",
    "requires_session",
    "session_auth_exception_handler",
)

SESSION_COOKIE = "__session"
"""The cookie clerk-js writes the session token to, on the app's own domain."""

SESSION_TOKEN_LEEWAY = 5.0
"""Seconds of clock skew tolerated on ``exp``, ``nbf`` and ``iat`` (Clerk's default)."""

_STATE_KEY = "totpkit_verified_session"
_FAPI_CORS_HEADERS = (
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Credentials",
    "Access-Control-Expose-Headers",
    "Vary",
)
_REVERIFICATION_LEVEL = "second_factor"

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class VerifiedSession:
    """The session behind an authenticated request.

    ``fva`` is ``[minutes since the first factor, minutes since the second factor]`` when the token
    was minted (``-1`` for never); ``claims`` has everything the token says.
    """

    user_id: str
    session_id: str
    fva: tuple[int, int] | None
    claims: SessionClaims


class SessionAuthError(ClerkAPIException):
    """A guard's refusal: a Clerk error answer, plus Clerk's ``clerk_error`` hint for 403 step-up answers.

    Rendered by :func:`session_auth_exception_handler` (the plugin registers it); without it, the
    plugin's Clerk error handler still renders the ``errors[]`` part.
    """

    def __init__(self, answer: ClerkAPIException, *, clerk_error: dict[str, Any] | None = None) -> None:
        super().__init__(
            answer.status, answer.code, answer.message, answer.long_message, meta=answer.meta, headers=answer.headers
        )
        self.clerk_error = clerk_error


def session_auth_exception_handler(request: Request[Any, Any, Any], exc: SessionAuthError) -> Response[bytes]:
    """Clerk's error body (as every totpkit error), with ``clerk_error`` at the top level when set.

    The Frontend API's CORS headers (any origin, with credentials) are left off: CORS on the host's
    own routes is the host app's configuration, not totpkit's.
    """
    response = clerk_exception_handler(request, exc)
    for name in _FAPI_CORS_HEADERS:
        response.headers.pop(name, None)
    if exc.clerk_error is not None:
        body = msgspec.json.decode(response.content)
        body["clerk_error"] = exc.clerk_error
        response.content = msgspec.json.encode(body)
    return response


def _unauthenticated(reason: str) -> SessionAuthError:
    return SessionAuthError(errors.session_token_invalid(reason))


def _session_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """``Authorization: Bearer <jwt>`` if sent, else the ``__session`` cookie; ``None`` if neither."""
    authorization = connection.headers.get("authorization", "")
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return connection.cookies.get(SESSION_COOKIE) or None


def _instance(connection: ASGIConnection[Any, Any, Any, Any]) -> Instance:
    instance = connection.app.state.get(INSTANCE_STATE_KEY)
    if not isinstance(instance, Instance):
        raise RuntimeError("the totpkit plugin's lifespan has not started (is the app running?)")
    return instance


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> VerifiedSession:
    """Verify the request's session token and session; the result is kept for the rest of the request.

    Raises:
        SessionAuthError: 401 ``authentication_invalid`` if there is no token, it fails verification
            (see the module docstring), or its session is unknown, not ``active``, expired or of
            another user.
    """
    cached = connection.state.get(_STATE_KEY)
    if isinstance(cached, VerifiedSession):
        return cached
    token = _session_token(connection)
    if token is None:
        raise _unauthenticated("session-token-missing")
    instance = _instance(connection)
    claims = _verified_claims(instance, connection, token)
    session = await instance.store.get_session(claims.sid)
    if (
        session is None
        or session.user_id != claims.sub
        or session.status != "active"
        or session.expire_at <= instance.now_ms()
    ):
        raise _unauthenticated("session-inactive")
    verified = VerifiedSession(user_id=claims.sub, session_id=claims.sid, fva=claims.fva, claims=claims)
    connection.state[_STATE_KEY] = verified
    return verified


def _verified_claims(instance: Instance, connection: ASGIConnection[Any, Any, Any, Any], token: str) -> SessionClaims:
    public_keys = {key.kid: key.private_key.public_key() for key in instance.keys.signing_keys}
    try:
        claims = verify_jwt(
            token,
            public_keys,
            now=instance.now(),
            leeway=SESSION_TOKEN_LEEWAY,
            issuer=token_issuer(instance, connection),
            authorized_parties=instance.config.allowed_origins,
        )
        return SessionClaims.from_claims(claims)
    except InvalidSessionTokenError as exc:
        raise _unauthenticated(exc.reason) from None


async def provide_verified_session(request: Request[Any, Any, Any]) -> VerifiedSession:
    """Dependency provider of :class:`VerifiedSession` (registered by the plugin under
    ``config.session_dependency_key``); 401 like :func:`authenticate`."""
    return await authenticate(request)


async def requires_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard: the request must carry a valid session token of an active session (else 401)."""
    await authenticate(connection)


def requires_second_factor(max_age: timedelta | int = 10) -> Guard:
    """A Litestar guard demanding a second factor verified less than ``max_age`` ago.

    ``max_age`` is a whole number of minutes (``int`` or ``timedelta``; default 10, Clerk's
    ``strict``). The age comes from the token's ``fva`` plus the whole minutes since it was minted.
    A session that never verified a second factor (``fva[1] == -1``: a user without MFA, or a
    token minted before enrolment) is refused too, whatever Clerk's ``second_factor`` level would
    let through for users without MFA: a route that asks for a second factor gets one.

    The guard answers 401 like :func:`requires_session` first, then 403
    ``session_reverification_required`` with the hint ``{"level": "second_factor",
    "afterMinutes": <max_age>}``; after the user re-verifies (``POST /v1/client/sessions/{id}/verify``)
    a freshly minted token passes.

    Raises:
        ValueError: At decoration time, if ``max_age`` is not a whole number of minutes of at least one.
    """
    minutes = whole_minutes(max_age)
    hint = {"level": _REVERIFICATION_LEVEL, "afterMinutes": minutes}

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        verified = await authenticate(connection)
        if verified.claims.has_recent_second_factor(minutes, now=_instance(connection).now()):
            return
        raise SessionAuthError(
            errors.session_reverification_required(_REVERIFICATION_LEVEL, minutes),
            clerk_error={"type": "forbidden", "reason": "reverification-error", "metadata": {"reverification": hint}},
        )

    guard.__name__ = guard.__qualname__ = f"requires_second_factor_{minutes}min"
    return guard
