"""``/v1/me``: the signed-in user, TOTP enrolment and backup codes.

The user is the one of ``_clerk_session_id`` (or the client's last active session); without a live
session every call answers 401 ``authentication_invalid``. Wrong codes are 422, never 401.
With reverification on (``reverification_max_age``; 10 minutes by default in production), creating
or deleting a TOTP and regenerating backup codes first pass the reverification gate (403
``session_reverification_required`` on a stale session).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.di import NamedDependency

from ..http.context import ClientContext
from ..http.params import read_params
from ..http.rate_limit import rate_limited
from ..services import AuthService, MFAService
from ..services.reverification import ReverificationService
from ..storage.records import UserRecord
from ._method import effective_method

__all__ = ("ME_HANDLERS",)


async def _me(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> UserRecord:
    user, _ = await AuthService(ctx.instance).current_user(ctx.client, request.query_params.get("_clerk_session_id"))
    return user


async def _me_for_mfa_change(request: Request[Any, Any, Any], ctx: ClientContext) -> UserRecord:
    """The user, once the session passed the reverification gate (403 when it is stale)."""
    user, session = await AuthService(ctx.instance).current_user(
        ctx.client, request.query_params.get("_clerk_session_id")
    )
    await ReverificationService(ctx.instance).ensure_recent(user, session)
    return user


@get("/v1/me")
async def get_me(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """The signed-in user."""
    user = await _me(request, ctx)
    return await ctx.wrapped(await ctx.renderer.user(user))


async def _delete_totp(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    user = await _me_for_mfa_change(request, ctx)
    return await ctx.wrapped(await MFAService(ctx.instance).disable_totp(user))


@post("/v1/me/totp", status_code=200)
async def create_totp(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Start TOTP enrolment (secret + URI, shown once); ``?_method=DELETE`` disables TOTP.

    The body is checked (size, type, syntax) either way: a malformed one changes nothing.
    """
    method = effective_method(request, ("POST", "DELETE"))
    await read_params(request, ctx.instance.config.max_body_bytes)
    if method == "DELETE":
        return await _delete_totp(request, ctx)
    user = await _me_for_mfa_change(request, ctx)
    return await ctx.wrapped(await MFAService(ctx.instance).create_totp(user))


@delete("/v1/me/totp", status_code=200)
async def delete_totp(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Disable TOTP: ``{"object": "totp", "id": ..., "deleted": true}``."""
    return await _delete_totp(request, ctx)


@post("/v1/me/totp/attempt_verification", status_code=200, guards=[rate_limited])
async def verify_totp(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Finish enrolment with ``code``; the answer carries the first backup codes."""
    params = await read_params(request, ctx.instance.config.max_body_bytes)
    user = await _me(request, ctx)
    code = params.required_str("code")
    return await ctx.wrapped(await MFAService(ctx.instance).verify_totp(user, code))


@post(["/v1/me/backup_codes", "/v1/me/backup_codes/"], status_code=200)
async def create_backup_codes(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Replace the user's backup codes with a new set (needs a verified TOTP)."""
    await read_params(request, ctx.instance.config.max_body_bytes)
    user = await _me_for_mfa_change(request, ctx)
    return await ctx.wrapped(await MFAService(ctx.instance).create_backup_codes(user))


ME_HANDLERS = (get_me, create_totp, delete_totp, verify_totp, create_backup_codes)
