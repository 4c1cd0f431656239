"""Reading request bodies like the server: its size limit, then the shared FAPI parsing rules."""

from __future__ import annotations

import httpx

from ..types.request_body import Params, parse_body
from . import errors

__all__ = ("Params", "read_params")


def read_params(request: httpx.Request, max_bytes: int) -> Params:
    """Parse the body into :class:`Params`; 413 over ``max_bytes`` (declared or actual)."""
    declared = request.headers.get("content-length")
    body = request.content
    if (declared is not None and declared.strip().isdigit() and int(declared) > max_bytes) or len(body) > max_bytes:
        raise errors.request_body_too_large(max_bytes)
    return parse_body(body, request.headers.get("content-type", ""))
