"""``/v1/client/sessions/{id}/verify[...]``: session reverification (step-up) with a password or a code.

Every answer is ``{"response": <session_reverification>, "client": <client>}``. Bodies are checked
before anything else (missing or invalid fields: 422); then the session: unknown or another
client's → 404 ``resource_not_found``, ended → 401. See :mod:`totpkit_server.services.reverification`.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from totpkit.types.request_body import password_attempt, second_factor_attempt

from ..core import errors
from ..http.context import ClientContext
from ..http.params import read_params
from ..http.rate_limit import rate_limited
from ..services.reverification import LEVELS, ReverificationService, render_verification
from ..storage.records import SessionVerificationRecord

__all__ = ("SESSION_VERIFY_HANDLERS",)


async def _answer(ctx: ClientContext, verification: SessionVerificationRecord) -> Response[bytes]:
    return await ctx.wrapped(await render_verification(ctx.renderer, verification))


@post("/v1/client/sessions/{session_id:str}/verify", status_code=200)
async def start_verification(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    """Start a reverification at ``level`` (``first_factor|second_factor|multi_factor``)."""
    params = await read_params(request, ctx.instance.config.max_body_bytes)
    level = params.required_str("level")
    if level not in LEVELS:
        raise errors.form_param_value_invalid("level", level)
    verification = await ReverificationService(ctx.instance).start(ctx.client, session_id, level)
    return await _answer(ctx, verification)


@post("/v1/client/sessions/{session_id:str}/verify/attempt_first_factor", status_code=200, guards=[rate_limited])
async def attempt_first_factor(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    """``strategy=password&password=...`` for a reverification in ``needs_first_factor``."""
    params = await read_params(request, ctx.instance.config.max_body_bytes)
    password = password_attempt(params)
    service = ReverificationService(ctx.instance)
    verification = await service.attempt_first_factor(ctx.client, session_id, password=password)
    return await _answer(ctx, verification)


@post("/v1/client/sessions/{session_id:str}/verify/attempt_second_factor", status_code=200, guards=[rate_limited])
async def attempt_second_factor(
    request: Request[Any, Any, Any], ctx: NamedDependency[ClientContext], session_id: FromPath[str]
) -> Response[bytes]:
    """``strategy=totp|backup_code&code=...`` for a reverification in ``needs_second_factor``."""
    params = await read_params(request, ctx.instance.config.max_body_bytes)
    strategy, code = second_factor_attempt(params)
    service = ReverificationService(ctx.instance)
    verification = await service.attempt_second_factor(ctx.client, session_id, strategy=strategy, code=code)
    return await _answer(ctx, verification)


SESSION_VERIFY_HANDLERS = (start_verification, attempt_first_factor, attempt_second_factor)
