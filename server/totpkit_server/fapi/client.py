"""``/v1/client`` and ``/v1/client/sessions/{id}``: the caller's client and its sessions."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from totpkit.types import ClientWrapped, Token

from ..http.context import ClientContext
from ..http.params import read_params
from ..services import AuthService
from ._method import effective_method

__all__ = ("CLIENT_HANDLERS",)


@get("/v1/client")
async def get_client(ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """The current client, or ``{"response": null, "client": null}`` on a fresh device."""
    return await _client_answer(ctx)


async def _client_answer(ctx: ClientContext) -> Response[bytes]:
    """``{"response": <client>, "client": <client>}`` with the client as it is now (or both null)."""
    client = await ctx.renderer.client(ctx.client)
    return ctx.respond(msgspec.json.encode(ClientWrapped(response=client, client=client)))


async def _create_client(ctx: ClientContext) -> Response[bytes]:
    await ctx.ensure_client()
    return await _client_answer(ctx)


async def _delete_client(ctx: ClientContext) -> Response[bytes]:
    if ctx.client is not None:
        await AuthService(ctx.instance).sign_out(ctx.client)
    return await _client_answer(ctx)


@put("/v1/client")
async def put_client(ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Create a client (clerk-js ``Client.create``); an existing one is returned as is."""
    return await _create_client(ctx)


@delete("/v1/client", status_code=200)
async def delete_client(ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Sign out: end every session of the client."""
    return await _delete_client(ctx)


@post("/v1/client", status_code=200)
async def post_client(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """``POST`` creates a client; ``?_method=PUT`` creates, ``?_method=DELETE`` signs out."""
    method = effective_method(request, ("POST", "PUT", "DELETE"))
    if method == "DELETE":
        return await _delete_client(ctx)
    return await _create_client(ctx)


@delete("/v1/client/sessions", status_code=200)
async def delete_sessions(ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Sign out of every session but keep the client (clerk-js ``signOut()``)."""
    return await _delete_client(ctx)


@post("/v1/client/sessions", status_code=200)
async def post_sessions(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """``POST ?_method=DELETE`` from browsers: sign out of every session."""
    effective_method(request, ("DELETE",))
    return await _delete_client(ctx)


@get("/v1/client/sessions/{session_id:str}")
async def get_session(ctx: NamedDependency[ClientContext], session_id: FromPath[str]) -> Response[bytes]:
    """One of the client's sessions; 404 for unknown or foreign ids."""
    session = await AuthService(ctx.instance).get_session(ctx.client, session_id)
    return await ctx.wrapped(await ctx.renderer.session(session))


@post("/v1/client/sessions/{session_id:str}/touch", status_code=200)
async def touch_session(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    """Make the session the active one (clerk-js ``setActive``)."""
    await read_params(request, ctx.instance.config.max_body_bytes)
    session = await AuthService(ctx.instance).touch_session(ctx.client, session_id)
    return await ctx.wrapped(await ctx.renderer.session(session))


@post("/v1/client/sessions/{session_id:str}/end", status_code=200)
async def end_session(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    """Sign one session out (status ``ended``)."""
    await read_params(request, ctx.instance.config.max_body_bytes)
    session = await AuthService(ctx.instance).end_session(ctx.client, session_id, status="ended")
    return await ctx.wrapped(await ctx.renderer.session(session))


@post("/v1/client/sessions/{session_id:str}/remove", status_code=200)
async def remove_session(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    """Remove one session from the client (status ``removed``; clerk-js ``session.remove()``)."""
    await read_params(request, ctx.instance.config.max_body_bytes)
    session = await AuthService(ctx.instance).end_session(ctx.client, session_id, status="removed")
    return await ctx.wrapped(await ctx.renderer.session(session))


async def _token(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    await read_params(request, ctx.instance.config.max_body_bytes)
    session = await AuthService(ctx.instance).live_session(ctx.client, session_id)
    return ctx.respond(msgspec.json.encode(Token(jwt=ctx.renderer.session_token(session))))


@post("/v1/client/sessions/{session_id:str}/tokens", status_code=200)
async def create_session_token(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    """A fresh session JWT, bare ``{"object": "token", "jwt": ...}``; 401 once the session ended."""
    return await _token(request, ctx, session_id)


@post("/v1/client/sessions/{session_id:str}/tokens/{template:str}", status_code=200)
async def create_template_token(
    request: Request[Any, Any, Any],
    ctx: NamedDependency[ClientContext],
    session_id: FromPath[str],
    template: FromPath[str],
) -> Response[bytes]:
    """JWT templates are not supported: the template name is ignored and a session token is minted."""
    del template
    return await _token(request, ctx, session_id)


CLIENT_HANDLERS = (
    get_client,
    put_client,
    delete_client,
    post_client,
    delete_sessions,
    post_sessions,
    get_session,
    touch_session,
    end_session,
    remove_session,
    create_session_token,
    create_template_token,
)
