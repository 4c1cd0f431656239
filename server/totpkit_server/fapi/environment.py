"""``/v1/environment``, ``/v1/dev_browser`` and ``/.well-known/jwks.json``: the unwrapped endpoints."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, patch, post
from litestar.di import NamedDependency

from totpkit.types import JWK, JWKS, build_environment

from ..core import errors
from ..core.tokens import hash_token, new_opaque_token
from ..http.context import cors_headers
from ..http.creation_limit import charge_creation
from ..services import Instance
from ._method import effective_method

__all__ = ("ENVIRONMENT_HANDLERS",)


def _json(request: Request[Any, Any, Any], instance: Instance, payload: object) -> Response[bytes]:
    headers = cors_headers(request, instance.config.allowed_origins)
    return Response(msgspec.json.encode(payload), media_type="application/json", headers=headers)


def _environment(instance: NamedDependency[Instance]) -> object:
    config = instance.config
    return build_environment(
        application_name=config.issuer_name,
        development=not config.production,
        backup_codes_enabled=config.backup_codes_enabled,
        reverification=config.step_up_max_age is not None,
        lockout_max_attempts=config.lockout_max_attempts,
        lockout_duration_minutes=max(1, config.lockout_duration // 60),
    )


@get("/v1/environment", sync_to_thread=False)
def get_environment(request: Request[Any, Any, Any], instance: NamedDependency[Instance]) -> Response[bytes]:
    """The instance configuration (MFA: ``authenticator_app`` and ``backup_code`` as second factors)."""
    return _json(request, instance, _environment(instance))


@patch("/v1/environment")
async def patch_environment(request: Request[Any, Any, Any], instance: NamedDependency[Instance]) -> Response[bytes]:
    """clerk-js "touches" the environment with PATCH; it answers like GET."""
    return _json(request, instance, _environment(instance))


@post("/v1/environment", status_code=200)
async def post_environment(request: Request[Any, Any, Any], instance: NamedDependency[Instance]) -> Response[bytes]:
    """``POST ?_method=PATCH`` from browsers."""
    effective_method(request, ("PATCH",))
    return _json(request, instance, _environment(instance))


@post("/v1/dev_browser", status_code=200)
async def create_dev_browser(request: Request[Any, Any, Any], instance: NamedDependency[Instance]) -> Response[bytes]:
    """A new dev-browser token (``id``); later requests carry it as ``__clerk_db_jwt``.

    Development only: with ``config.production`` it answers 400 ``request_invalid_for_environment``
    and stores nothing (dev-browser tokens are bearer credentials anyone could mint). Charged to the
    caller's address like a new client (429 past ``rate_limit_creations_per_ip``).
    """
    if instance.config.production:
        raise errors.request_invalid_for_environment("development")
    await charge_creation(request, instance)
    token = "dvb_" + new_opaque_token(instance.random_bytes)
    await instance.store.create_dev_browser(hash_token(token), instance.now_ms())
    return _json(request, instance, {"object": "dev_browser", "id": token})


@get("/.well-known/jwks.json", sync_to_thread=False)
def get_jwks(request: Request[Any, Any, Any], instance: NamedDependency[Instance]) -> Response[bytes]:
    """The public keys that verify session tokens (every configured signing key)."""
    keys = [msgspec.convert(key.public_jwk(), JWK) for key in instance.keys.signing_keys]
    return _json(request, instance, JWKS(keys=keys))


ENVIRONMENT_HANDLERS = (get_environment, patch_environment, post_environment, create_dev_browser, get_jwks)
