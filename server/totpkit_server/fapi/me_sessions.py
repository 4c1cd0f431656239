"""``/v1/me/sessions``: the signed-in user's sessions on every device (UserProfile's "Active devices").

Both lists are bare JSON arrays (clerk-js reads ``payload`` as the array); the revoke answer is
wrapped with the caller's client. Only the user's own sessions are listed or revoked: another user's
session id answers 404 exactly like an unknown one. No session in these answers carries a token.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from ..http.context import ClientContext
from ..http.params import read_params
from ..services import AuthService
from ..services.reverification import ReverificationService

__all__ = ("ME_SESSION_HANDLERS",)


@get("/v1/me/sessions/active")
async def list_active_sessions(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """The user's ``active`` and ``pending`` sessions on every client, oldest first, with ``latest_activity``."""
    auth = AuthService(ctx.instance)
    user, _ = await auth.current_user(ctx.client, request.query_params.get("_clerk_session_id"))
    sessions = await auth.user_sessions(user, live_only=True)
    return ctx.respond(msgspec.json.encode([ctx.renderer.active_session(s) for s in sessions]))


@get("/v1/me/sessions")
async def list_sessions(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Every session the user ever had (any status), oldest first, each with the user."""
    auth = AuthService(ctx.instance)
    user, _ = await auth.current_user(ctx.client, request.query_params.get("_clerk_session_id"))
    rendered_user = await ctx.renderer.user(user)
    sessions = [
        await ctx.renderer.session(s, with_token=False, rendered_user=rendered_user)
        for s in await auth.user_sessions(user, live_only=False)
    ]
    return ctx.respond(msgspec.json.encode(sessions))


@post("/v1/me/sessions/{session_id:str}/revoke", status_code=200)
async def revoke_session(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    """Sign one of the user's sessions out on any device (status ``revoked``); 404 for another user's id.

    Passes the reverification gate first (Clerk's UserProfile wraps the call in reverification).
    """
    await read_params(request, ctx.instance.config.max_body_bytes)
    auth = AuthService(ctx.instance)
    user, session = await auth.current_user(ctx.client, request.query_params.get("_clerk_session_id"))
    await ReverificationService(ctx.instance).ensure_recent(user, session)
    revoked = await auth.revoke_user_session(user, session_id)
    return await ctx.wrapped(await ctx.renderer.session(revoked, with_token=False))


ME_SESSION_HANDLERS = (list_active_sessions, list_sessions, revoke_session)
