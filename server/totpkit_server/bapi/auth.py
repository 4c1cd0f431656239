"""Backend API authentication: ``Authorization: Bearer <secret key>``, compared in constant time.

A FAPI client token is never accepted here; a wrong or missing key is 401 ``authentication_invalid``.
"""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from ..core import errors
from ..services import Instance

__all__ = ("require_secret_key",)


async def require_secret_key(request: Request[Any, Any, Any], instance: NamedDependency[Instance]) -> Instance:
    """Check the bearer secret key; returns the instance for the handler to use."""
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    expected = instance.keys.secret_key
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise errors.bapi_unauthorized()
    return instance
