"""The standalone server: exactly what a plugin user gets, and nothing more."""

from __future__ import annotations

from litestar import Litestar

from .config import TOTPKitConfig
from .plugin import TOTPKitPlugin

__all__ = ("create_app",)


def create_app(config: TOTPKitConfig | None = None) -> Litestar:
    """``Litestar(plugins=[TOTPKitPlugin(config)])``; ``litestar run`` discovers this factory."""
    return Litestar(plugins=[TOTPKitPlugin(config)], openapi_config=None)
