"""totpkit's server: a Litestar plugin speaking Clerk's Frontend API for TOTP MFA."""

from .app import create_app
from .config import TOTPKitConfig
from .plugin import TOTPKitPlugin

__all__ = ("TOTPKitConfig", "TOTPKitPlugin", "create_app")
