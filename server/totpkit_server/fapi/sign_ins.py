"""``/v1/client/sign_ins``: password first factor, TOTP or backup-code second factor."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from totpkit.types.request_body import password_attempt, second_factor_attempt

from ..core import errors
from ..http.context import ClientContext
from ..http.params import read_params
from ..http.rate_limit import rate_limited
from ..services import AuthService

__all__ = ("SIGN_IN_HANDLERS",)


@post("/v1/client/sign_ins", status_code=200, guards=[rate_limited])
async def create_sign_in(request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext]) -> Response[bytes]:
    """Start a sign-in with ``identifier`` (+ ``password``); creates the client if there is none."""
    params = await read_params(request, ctx.instance.config.max_body_bytes)
    identifier = params.required_str("identifier")
    strategy = params.optional_str("strategy")
    password = params.optional_str("password")
    if strategy not in (None, "", "password"):
        raise errors.form_param_value_invalid("strategy", strategy)
    if strategy == "password" and not password:
        raise errors.form_param_missing("password")
    sign_in = await AuthService(ctx.instance).create_sign_in(
        ctx.ensure_client, identifier=identifier, password=password or None, reissue_client=ctx.reissue_client
    )
    return await ctx.wrapped(await ctx.renderer.sign_in(sign_in))


@get("/v1/client/sign_ins/{sign_in_id:str}")
async def get_sign_in(ctx: NamedDependency[ClientContext], sign_in_id: FromPath[str]) -> Response[bytes]:
    """The client's own sign-in; 404 for unknown or foreign ids."""
    sign_in = await AuthService(ctx.instance).get_sign_in(ctx.client, sign_in_id)
    return await ctx.wrapped(await ctx.renderer.sign_in(sign_in))


@post("/v1/client/sign_ins/{sign_in_id:str}/attempt_first_factor", status_code=200, guards=[rate_limited])
async def attempt_first_factor(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], sign_in_id: FromPath[str]
) -> Response[bytes]:
    """``strategy=password&password=...``."""
    params = await read_params(request, ctx.instance.config.max_body_bytes)
    password = password_attempt(params)
    sign_in = await AuthService(ctx.instance).attempt_first_factor(
        ctx.client, sign_in_id, password=password, reissue_client=ctx.reissue_client
    )
    return await ctx.wrapped(await ctx.renderer.sign_in(sign_in))


@post("/v1/client/sign_ins/{sign_in_id:str}/attempt_second_factor", status_code=200, guards=[rate_limited])
async def attempt_second_factor(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], sign_in_id: FromPath[str]
) -> Response[bytes]:
    """``strategy=totp|backup_code&code=...`` → ``complete``, a new session and a new client token."""
    params = await read_params(request, ctx.instance.config.max_body_bytes)
    strategy, code = second_factor_attempt(params)
    sign_in = await AuthService(ctx.instance).attempt_second_factor(
        ctx.client, sign_in_id, strategy=strategy, code=code, reissue_client=ctx.reissue_client
    )
    return await ctx.wrapped(await ctx.renderer.sign_in(sign_in))


SIGN_IN_HANDLERS = (create_sign_in, get_sign_in, attempt_first_factor, attempt_second_factor)
