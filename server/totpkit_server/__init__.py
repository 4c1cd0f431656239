"""totpkit's server: a Litestar plugin speaking Clerk's Frontend API for TOTP MFA.

Host routes are protected with the guards :func:`requires_session` and
:func:`requires_second_factor`, and read the request's :class:`VerifiedSession`.
"""

from .app import create_app
from .config import TOTPKitConfig
from .guards import VerifiedSession, requires_second_factor, requires_session
from .plugin import TOTPKitPlugin

__all__ = (
    "TOTPKitConfig",
    "TOTPKitPlugin",
    "VerifiedSession",
    "create_app",
    "requires_second_factor",
    "requires_session",
)
