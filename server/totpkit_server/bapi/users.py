"""``POST /v1/users`` and ``GET /v1/users/{id}``: Clerk's user creation with MFA import."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from ..core import errors
from ..http.params import Params, read_params
from ..services import Instance, Renderer, UserService
from .auth import require_secret_key

__all__ = ("BAPI_HANDLERS",)

_DEPENDENCIES = {"bapi": Provide(require_secret_key)}


def _renderer(instance: NamedDependency[Instance]) -> Renderer:
    return Renderer(instance, issuer=instance.config.issuer_url or "", origin=None)


async def _json(instance: NamedDependency[Instance], user_id: FromPath[str], status_code: int = 200) -> Response[bytes]:
    user = await UserService(instance).get_user(user_id)
    rendered = await _renderer(instance).user(user)
    return Response(msgspec.json.encode(rendered), status_code=status_code, media_type="application/json")


def _email(params: Params) -> str:
    emails = params.optional_str_list("email_address", max_items=1)
    if not emails or not emails[0].strip():
        raise errors.form_param_missing("email_address")
    return emails[0]


def _optional_codes(params: Params) -> list[str] | None:
    if params.raw("backup_codes") is None:
        return None
    return params.optional_str_list("backup_codes", max_items=50)


@post("/v1/users", dependencies=_DEPENDENCIES, status_code=200)
async def create_user(request: Request[Any, Any, Any], bapi: NamedDependency[Instance]) -> Response[bytes]:
    """Create a user from ``email_address`` and ``password``; ``totp_secret`` and ``backup_codes``
    (plain or bcrypt) import existing MFA state."""
    params = await read_params(request, bapi.config.max_body_bytes)
    user = await UserService(bapi).create_user(
        email=_email(params),
        password=params.optional_str("password"),
        first_name=params.optional_str("first_name"),
        last_name=params.optional_str("last_name"),
        totp_secret=params.optional_str("totp_secret"),
        backup_codes=_optional_codes(params),
    )
    return await _json(bapi, user.id)


@get("/v1/users/{user_id:str}", dependencies=_DEPENDENCIES)
async def get_user(bapi: NamedDependency[Instance], user_id: FromPath[str]) -> Response[bytes]:
    """A user; 404 ``resource_not_found`` for unknown ids."""
    return await _json(bapi, user_id)


BAPI_HANDLERS = (create_user, get_user)
