"""Per-request tracing: a trace id and the caller's address for every request to a totpkit route.

:class:`RequestTracing` is registered on the plugin's router, so it wraps totpkit's routes only (not
the host app's). For each HTTP request it binds a
:class:`~totpkit_server.core.request_context.RequestContext` (a fresh trace id from
``config.trace_id_factory``, the caller's address) for the handler, its dependencies and the error
handler, and adds ``X-Clerk-Trace-Id`` to the answer, successful or not, unless one is set already.

A request carrying a valid W3C Trace Context ``traceparent`` header continues the caller's trace:
its 32-hex-digit trace id (the shape of ``clerk_trace_id``) becomes the request's trace id, so log
lines, audit events and ``X-Clerk-Trace-Id`` match the caller's own trace. An invalid header (wrong
shape, upper-case hex, an all-zero id, version ``ff``, or more than one ``traceparent``) is ignored
and a fresh id is made, as the specification asks.
The address is found as the rate limits find it (:func:`~totpkit_server.core.throttling.client_address`):
the direct peer, or what ``config.trusted_proxy_header`` says.
"""

from __future__ import annotations

import re

from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ..config import TOTPKitConfig
from ..core.request_context import RequestContext, bind_request
from ..core.throttling import client_address

__all__ = ("TRACEPARENT_HEADER", "TRACE_ID_HEADER", "RequestTracing", "caller_ip", "continued_trace_id")

TRACE_ID_HEADER = "X-Clerk-Trace-Id"
TRACEPARENT_HEADER = "traceparent"

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")
_ZERO_TRACE, _ZERO_PARENT = "0" * 32, "0" * 16


def continued_trace_id(scope: Scope) -> str | None:
    """The trace id of the request's W3C ``traceparent`` header, or ``None`` if it has no valid one.

    Version ``00`` must have exactly four fields; later versions may append more (ignored), and
    ``ff`` is invalid. All-zero trace or parent ids are invalid.
    """
    values = Headers.from_scope(scope).getall(TRACEPARENT_HEADER, [])
    if len(values) != 1:
        return None
    match = _TRACEPARENT.fullmatch(values[0].strip())
    if match is None:
        return None
    version, trace_id, parent_id, _flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == _ZERO_TRACE or parent_id == _ZERO_PARENT:
        return None
    return trace_id


def caller_ip(scope: Scope, config: TOTPKitConfig) -> str:
    """The caller's address: the direct peer, or the trusted proxy's header (``unknown`` without either)."""
    client = scope.get("client")
    header = config.trusted_proxy_header
    values = Headers.from_scope(scope).getall(header, []) if header else []
    return client_address(client[0] if client else None, values, header=header, hops=config.trusted_proxy_hops)


class RequestTracing(ASGIMiddleware):
    """Binds a request context to each HTTP request and answers with its trace id."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, config: TOTPKitConfig) -> None:
        self.config = config

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        trace_id = continued_trace_id(scope) or self.config.trace_id_factory()
        context = RequestContext(trace_id=trace_id, ip=caller_ip(scope, self.config))

        async def send_with_trace_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if TRACE_ID_HEADER not in headers:
                    headers[TRACE_ID_HEADER] = context.trace_id
            await send(message)

        with bind_request(context):
            await next_app(scope, receive, send_with_trace_id)
