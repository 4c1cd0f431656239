"""``/v1/users[/{id}]``: Clerk's user creation and update with MFA import, lock and unlock."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from ..core import errors
from ..http.params import Params, read_params
from ..services import Instance, Renderer, UserService
from ..services.admin import UserAdminService
from .auth import require_secret_key

__all__ = ("USER_HANDLERS",)

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


_UPDATABLE = frozenset({"first_name", "last_name", "totp_secret", "backup_codes"})


def _names(params: Params) -> dict[str, str | None]:
    """The name fields present in the body; ``null`` or blank clears one."""
    names: dict[str, str | None] = {}
    for name in ("first_name", "last_name"):
        if name in params:
            names[name] = (params.optional_str(name) or "").strip() or None
    return names


@patch("/v1/users/{user_id:str}", dependencies=_DEPENDENCIES)
async def update_user(
    request: Request[Any, Any, Any], bapi: NamedDependency[Instance], user_id: FromPath[str]
) -> Response[bytes]:
    """Change ``first_name`` / ``last_name`` and import ``totp_secret`` / ``backup_codes``.

    Any other field (Clerk has many totpkit does not keep) is 422 ``form_param_unknown``, rather
    than silently ignored. Nothing is stored unless the whole body is valid.
    """
    params = await read_params(request, bapi.config.max_body_bytes)
    unknown = sorted(name for name in params.names() if name not in _UPDATABLE)
    if unknown:
        raise errors.form_param_unknown(unknown[0])
    await UserService(bapi).update_user(
        user_id,
        names=_names(params),
        totp_secret=params.optional_str("totp_secret"),
        backup_codes=_optional_codes(params),
    )
    return await _json(bapi, user_id)


@post("/v1/users/{user_id:str}/lock", dependencies=_DEPENDENCIES, status_code=200)
async def lock_user(bapi: NamedDependency[Instance], user_id: FromPath[str]) -> Response[bytes]:
    """Lock the user for the lockout duration (403 ``user_locked`` with the time left); the User."""
    await UserAdminService(bapi).lock(user_id)
    return await _json(bapi, user_id)


@post("/v1/users/{user_id:str}/unlock", dependencies=_DEPENDENCIES, status_code=200)
async def unlock_user(bapi: NamedDependency[Instance], user_id: FromPath[str]) -> Response[bytes]:
    """Lift any lock or lockout and reset the failure count; the User."""
    await UserAdminService(bapi).unlock(user_id)
    return await _json(bapi, user_id)


USER_HANDLERS = (create_user, get_user, update_user, lock_user, unlock_user)
