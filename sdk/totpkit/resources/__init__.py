"""Behaviour on top of the wire structs: live handles on a user, a sign-in, a session and its reverification."""

from .session import AsyncSession
from .session_verification import AsyncSessionVerification
from .sign_in import AsyncSignIn, SecondFactorStrategy
from .user import AsyncUser

__all__ = ("AsyncSession", "AsyncSessionVerification", "AsyncSignIn", "AsyncUser", "SecondFactorStrategy")
