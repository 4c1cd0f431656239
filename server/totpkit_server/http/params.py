"""Reading request bodies: streamed with a size limit, then parsed by the shared FAPI rules.

The parsing rules (form and JSON, typed accessors, Clerk errors) live in
:mod:`totpkit.types.request_body`, shared with the SDK's fake. Here the body is read in chunks and
refused with 413 once it passes the limit, so a huge body never sits in memory.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from totpkit.types.request_body import Params, parse_body

from ..core import errors

__all__ = ("Params", "read_body", "read_params")


async def read_body(request: Request[Any, Any, Any], max_bytes: int) -> bytes:
    """The raw body, refused with 413 as soon as it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise errors.request_body_too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise errors.request_body_too_large(max_bytes)
    return bytes(body)


async def read_params(request: Request[Any, Any, Any], max_bytes: int) -> Params:
    """Read the body (at most ``max_bytes``) and parse it into :class:`Params`."""
    body = await read_body(request, max_bytes)
    return parse_body(body, request.headers.get("content-type", ""))
