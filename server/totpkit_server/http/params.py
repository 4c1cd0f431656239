"""Reading request bodies: streamed with a size and a time limit, then parsed by the shared FAPI rules.

The parsing rules (form and JSON, typed accessors, Clerk errors) live in
:mod:`totpkit.types.request_body`, shared with the SDK's fake. Here the body is read message by
message from the ASGI server:

* past ``max_bytes`` it is refused with 413, so a huge body never sits in memory;
* if it has not fully arrived ``config.request_body_timeout`` seconds after reading began (a
  "slow-loris" client dripping bytes), it is refused with 408 ``request_timeout`` and
  ``Connection: close``, so the server drops the connection instead of waiting for the rest;
* if the client hangs up before the body is complete, :class:`ClientDisconnected` is raised: the
  error handler logs one quiet line and answers nothing (there is nobody to answer).
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request

from totpkit.types.request_body import Params, parse_body

from ..core import errors
from .deps import INSTANCE_STATE_KEY

__all__ = ("DEFAULT_BODY_TIMEOUT", "ClientDisconnected", "Params", "read_body", "read_params")

DEFAULT_BODY_TIMEOUT = 10.0
"""Seconds a body may take when no totpkit instance is running (the configured value otherwise)."""


class ClientDisconnected(Exception):
    """The client hung up before its request body was complete; nothing can be answered."""


async def read_body(request: Request[Any, Any, Any], max_bytes: int) -> bytes:
    """The raw body: 413 past ``max_bytes``, 408 after the configured ``request_body_timeout``,
    :class:`ClientDisconnected` if the client hangs up meanwhile."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise errors.request_body_too_large(max_bytes)
    seconds = _configured_timeout(request)
    try:
        async with asyncio.timeout(seconds):
            return await _receive_body(request, max_bytes)
    except TimeoutError:
        raise errors.request_timeout(seconds) from None


async def read_params(request: Request[Any, Any, Any], max_bytes: int) -> Params:
    """Read the body (at most ``max_bytes``, within the configured time) and parse it into :class:`Params`."""
    body = await read_body(request, max_bytes)
    return parse_body(body, request.headers.get("content-type", ""))


async def _receive_body(request: Request[Any, Any, Any], max_bytes: int) -> bytes:
    body = bytearray()
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        if message["type"] != "http.request":
            continue
        body.extend(message.get("body", b""))
        if len(body) > max_bytes:
            raise errors.request_body_too_large(max_bytes)
        if not message.get("more_body", False):
            return bytes(body)


def _configured_timeout(request: Request[Any, Any, Any]) -> float:
    instance = request.app.state.get(INSTANCE_STATE_KEY)
    timeout = getattr(getattr(instance, "config", None), "request_body_timeout", None)
    return float(timeout) if isinstance(timeout, int | float) else DEFAULT_BODY_TIMEOUT
