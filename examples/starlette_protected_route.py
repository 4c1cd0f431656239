"""Protect Starlette (or FastAPI) routes with the session tokens of a totpkit server.

Clerk's clients send your backend a short-lived session token: the ``__session`` cookie in browsers,
``Authorization: Bearer <jwt>`` elsewhere. :func:`totpkit.verify_session_token` checks it locally
against the server's public keys (its JWKS, fetched once and cached), so no request waits on the
auth server. Needs ``pip install 'totpkit[jwt]' starlette``. With a server on port 8000::

    TOTPKIT_URL=http://127.0.0.1:8000 uvicorn examples.starlette_protected_route:app --port 8001

``GET /profile`` needs any signed-in session; ``POST /payouts`` also a second factor verified in
the last 10 minutes. Refusals use Clerk's error format, like the totpkit server's own.
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection

import httpx
import msgspec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from totpkit import InvalidSessionTokenError, JWKSCache, SessionClaims, verify_session_token
from totpkit.types import ClerkErrors
from totpkit.types.error_answers import ClerkAPIException, session_reverification_required, session_token_invalid

PAYOUT_MAX_AGE_MINUTES = 10


def error_response(answer: ClerkAPIException, **extra: object) -> Response:
    """A Clerk-format error response (plus any extra top-level members)."""
    body = {**msgspec.to_builtins(ClerkErrors(errors=[answer.to_error()], meta={})), **extra}
    return JSONResponse(body, status_code=answer.status, headers=answer.headers)


def reverification_required(after_minutes: int) -> Response:
    """403 that Clerk's clients turn into a step-up prompt (``useReverification`` reads ``clerk_error``)."""
    wanted = {"level": "second_factor", "afterMinutes": after_minutes}
    hint = {"type": "forbidden", "reason": "reverification-error", "metadata": {"reverification": wanted}}
    return error_response(session_reverification_required("second_factor", after_minutes), clerk_error=hint)


def session_token(request: Request) -> str | None:
    """The bearer token if sent, else the ``__session`` cookie."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials
    return request.cookies.get("__session")


def create_app(
    totpkit_url: str,
    *,
    http_client: httpx.AsyncClient | None = None,
    allowed_origins: Collection[str] | None = None,
) -> Starlette:
    """The app; ``totpkit_url`` is the server's Frontend API URL (also the tokens' ``iss``)."""
    jwks = JWKSCache(f"{totpkit_url.rstrip('/')}/.well-known/jwks.json", http_client=http_client)

    async def authenticate(request: Request) -> SessionClaims:
        token = session_token(request)
        if token is None:
            raise InvalidSessionTokenError("no session token", reason="session-token-missing")
        return await verify_session_token(token, jwks=jwks, issuer=totpkit_url, authorized_parties=allowed_origins)

    async def profile(request: Request) -> Response:
        try:
            claims = await authenticate(request)
        except InvalidSessionTokenError as exc:
            return error_response(session_token_invalid(exc.reason))
        return JSONResponse({"user_id": claims.user_id, "session_id": claims.session_id})

    async def payouts(request: Request) -> Response:
        try:
            claims = await authenticate(request)
        except InvalidSessionTokenError as exc:
            return error_response(session_token_invalid(exc.reason))
        if not claims.has_recent_second_factor(PAYOUT_MAX_AGE_MINUTES, now=time.time()):
            return reverification_required(PAYOUT_MAX_AGE_MINUTES)
        return JSONResponse({"paid_by": claims.user_id})

    return Starlette(routes=[Route("/profile", profile), Route("/payouts", payouts, methods=["POST"])])


app = create_app(os.environ.get("TOTPKIT_URL", "http://127.0.0.1:8000"))
