"""Per-request tracing: a trace id and the caller's address for every request to a totpkit route.

:class:`RequestTracing` is registered on the plugin's router, so it wraps totpkit's routes only (not
the host app's). For each HTTP request it binds a
:class:`~totpkit_server.core.request_context.RequestContext` (a fresh trace id from
``config.trace_id_factory``, the caller's address) for the handler, its dependencies and the error
handler, and adds ``X-Clerk-Trace-Id`` to the answer, successful or not, unless one is set already.
The address is found as the rate limits find it (:func:`~totpkit_server.core.throttling.client_address`):
the direct peer, or what ``config.trusted_proxy_header`` says.
"""

from __future__ import annotations

from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from ..config import TOTPKitConfig
from ..core.request_context import RequestContext, bind_request
from ..core.throttling import client_address

__all__ = ("TRACE_ID_HEADER", "RequestTracing", "caller_ip")

TRACE_ID_HEADER = "X-Clerk-Trace-Id"


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
        context = RequestContext(trace_id=self.config.trace_id_factory(), ip=caller_ip(scope, self.config))

        async def send_with_trace_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableScopeHeaders.from_message(message)
                if TRACE_ID_HEADER not in headers:
                    headers[TRACE_ID_HEADER] = context.trace_id
            await send(message)

        with bind_request(context):
            await next_app(scope, receive, send_with_trace_id)
