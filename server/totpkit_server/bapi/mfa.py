"""Backend API MFA administration: check a user's code, remove their TOTP, backup codes or all MFA.

Answers are Clerk's bare objects: ``{"verified": true, "code_type": "totp" | "backup_code"}`` and
``{"user_id": ...}``. Every route needs the secret key (401 otherwise) and answers 404
``resource_not_found`` for an unknown user. The deletions are idempotent.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, delete, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from totpkit.types import UserIdResponse

from ..http.params import read_params
from ..services import Instance
from ..services.admin import UserAdminService
from .auth import require_secret_key

__all__ = ("MFA_HANDLERS",)

_DEPENDENCIES = {"bapi": Provide(require_secret_key)}


def _json(answer: msgspec.Struct) -> Response[bytes]:
    return Response(msgspec.json.encode(answer), status_code=200, media_type="application/json")


@post("/v1/users/{user_id:str}/verify_totp", dependencies=_DEPENDENCIES, status_code=200)
async def verify_user_totp(
    request: Request[Any, Any, Any], bapi: NamedDependency[Instance], user_id: FromPath[str]
) -> Response[bytes]:
    """Check ``code`` (a TOTP code or a backup code, which is consumed) for the user.

    Missing ``code`` is 422 ``form_param_missing``; the other errors are those of
    :meth:`UserAdminService.verify_code` (400 ``totp_disabled``, 403 ``user_locked``, 422
    ``totp_invalid_length`` / ``totp_incorrect_code``).
    """
    params = await read_params(request, bapi.config.max_body_bytes)
    code = params.required_str("code")
    return _json(await UserAdminService(bapi).verify_code(user_id, code))


@delete("/v1/users/{user_id:str}/totp", dependencies=_DEPENDENCIES, status_code=200)
async def delete_user_totp(bapi: NamedDependency[Instance], user_id: FromPath[str]) -> Response[bytes]:
    """Remove the user's TOTP (and, with a verified one, the backup codes), as ``DELETE /v1/me/totp``."""
    return _json(UserIdResponse(user_id=await UserAdminService(bapi).delete_totp(user_id)))


@delete("/v1/users/{user_id:str}/backup_code", dependencies=_DEPENDENCIES, status_code=200)
async def delete_user_backup_codes(bapi: NamedDependency[Instance], user_id: FromPath[str]) -> Response[bytes]:
    """Remove all of the user's backup codes (Clerk's path is singular)."""
    return _json(UserIdResponse(user_id=await UserAdminService(bapi).delete_backup_codes(user_id)))


@delete("/v1/users/{user_id:str}/mfa", dependencies=_DEPENDENCIES, status_code=200)
async def disable_user_mfa(bapi: NamedDependency[Instance], user_id: FromPath[str]) -> Response[bytes]:
    """Remove every MFA method of the user at once."""
    return _json(UserIdResponse(user_id=await UserAdminService(bapi).disable_mfa(user_id)))


MFA_HANDLERS = (verify_user_totp, delete_user_totp, delete_user_backup_codes, disable_user_mfa)
