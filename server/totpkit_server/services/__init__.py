"""Application services: the domain operations, on top of the Store and ``core``; no Litestar here."""

from .auth import AuthService
from .instance import Instance
from .mfa import MFAService, MFAState
from .render import Renderer
from .users import UserService

__all__ = ("AuthService", "Instance", "MFAService", "MFAState", "Renderer", "UserService")
