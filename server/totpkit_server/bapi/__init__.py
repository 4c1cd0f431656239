"""Backend API (BAPI) route handlers: bearer secret key, JSON bodies, unwrapped answers."""

from .users import BAPI_HANDLERS

__all__ = ("BAPI_HANDLERS",)
