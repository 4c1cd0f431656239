"""Clerk's error envelope: ``{"errors": [...], "meta": {}, "clerk_trace_id": "..."}``."""

from __future__ import annotations

import msgspec

from ._base import ClerkStruct, JSONObject

__all__ = ("ClerkAPIError", "ClerkErrors")


class ClerkAPIError(ClerkStruct, kw_only=True):
    """One entry of ``errors[]``.

    ``meta.param_name`` names the offending form field for ``form_*`` codes.
    """

    message: str
    long_message: str
    code: str
    meta: JSONObject = msgspec.field(default_factory=dict)


class ClerkErrors(ClerkStruct, kw_only=True):
    """The body of every 4xx/5xx answer from the Frontend and Backend APIs."""

    errors: list[ClerkAPIError]
    meta: JSONObject = msgspec.field(default_factory=dict)
    clerk_trace_id: str | msgspec.UnsetType = msgspec.UNSET
