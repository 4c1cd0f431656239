"""Frontend API (FAPI) route handlers, Clerk's paths under ``/v1`` and ``/.well-known/jwks.json``."""

from .client import CLIENT_HANDLERS
from .environment import ENVIRONMENT_HANDLERS
from .me import ME_HANDLERS
from .me_sessions import ME_SESSION_HANDLERS
from .session_verify import SESSION_VERIFY_HANDLERS
from .sign_ins import SIGN_IN_HANDLERS

__all__ = ("FAPI_HANDLERS",)

FAPI_HANDLERS = (
    *ENVIRONMENT_HANDLERS,
    *CLIENT_HANDLERS,
    *SESSION_VERIFY_HANDLERS,
    *SIGN_IN_HANDLERS,
    *ME_HANDLERS,
    *ME_SESSION_HANDLERS,
)
