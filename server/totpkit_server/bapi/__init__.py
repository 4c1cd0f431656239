"""Backend API (BAPI) route handlers: bearer secret key, JSON bodies, unwrapped answers."""

from .mfa import MFA_HANDLERS
from .users import USER_HANDLERS

__all__ = ("BAPI_HANDLERS",)

BAPI_HANDLERS = (*USER_HANDLERS, *MFA_HANDLERS)
"""Every Backend API handler, for the plugin's router."""
