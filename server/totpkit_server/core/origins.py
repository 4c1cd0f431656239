"""Browser origins of the CORS allow-list; the rules live in :mod:`totpkit.types.origins`, shared
with the SDK's fake so the two accept the same origins; this module re-exports them for the server."""

from totpkit.types.origins import is_loopback_origin, normalize_origin, origin_allowed

__all__ = ("is_loopback_origin", "normalize_origin", "origin_allowed")
