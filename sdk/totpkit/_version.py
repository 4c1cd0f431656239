"""The version of the installed totpkit distribution."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ("__version__",)

try:
    __version__: str = version("totpkit")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"
