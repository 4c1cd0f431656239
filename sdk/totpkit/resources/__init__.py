"""Behaviour on top of the wire structs: live handles on a user, a sign-in and a session."""

from .session import AsyncSession
from .sign_in import AsyncSignIn, SecondFactorStrategy
from .user import AsyncUser

__all__ = ("AsyncSession", "AsyncSignIn", "AsyncUser", "SecondFactorStrategy")
