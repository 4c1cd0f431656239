"""The browser-origin policy of every totpkit route: refused origins change nothing, preflights answer.

:class:`OriginPolicy` runs on the plugin's router, inside :class:`~.tracing.RequestTracing` (so its
answers carry the request's trace id) and before any handler, dependency or body read:

* A request whose ``Origin`` is refused by :func:`~totpkit_server.core.origins.origin_allowed`
  (``null`` included) and whose method may change state (``POST``, ``PUT``, ``PATCH``, ``DELETE``;
  a ``POST`` with ``?_method=`` is a ``POST``) or is a preflight ``OPTIONS`` answers 400
  ``origin_invalid`` in Clerk's format, without CORS headers, and the handler never runs. Refused
  ``GET``\\ s of public resources (environment, JWKS) are served without CORS headers (the browser
  keeps them from the page); the client-bound ones answer ``origin_invalid`` too
  (:func:`~.context.resolve_context`).
* A preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) from an accepted
  origin answers 204 with the CORS headers, the methods and the request headers asked for.
* A request without ``Origin`` (native apps, servers, curl, the SDK) is not affected.
"""

from __future__ import annotations

import msgspec
from litestar.datastructures import Headers
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from totpkit.types import ClerkErrors

from ..config import TOTPKitConfig
from ..core import errors
from ..core.origins import origin_allowed
from ..core.request_context import current_request
from ..services import Instance
from .context import EXPOSED_HEADERS
from .deps import INSTANCE_STATE_KEY

__all__ = ("STATE_CHANGING_METHODS", "OriginPolicy")

STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
_PREFLIGHT_MAX_AGE = "600"


class OriginPolicy(ASGIMiddleware):
    """Refuses state-changing requests and preflights from refused origins; answers accepted preflights."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, config: TOTPKitConfig) -> None:
        self.config = config

    def _running_config(self, scope: Scope) -> TOTPKitConfig:
        """The running instance's configuration (Litestar may hand the middleware a copy of ours)."""
        instance = scope["app"].state.get(INSTANCE_STATE_KEY)
        return instance.config if isinstance(instance, Instance) else self.config

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        headers = Headers.from_scope(scope)
        origin = headers.get("origin")
        method = str(scope.get("method", "GET")).upper()
        preflight = method == "OPTIONS" and origin is not None and "access-control-request-method" in headers
        if origin is None or not (preflight or method in STATE_CHANGING_METHODS):
            await next_app(scope, receive, send)
        elif not origin_allowed(origin, self._running_config(scope).allowed_origins):
            await self._refuse(origin, send)
        elif preflight:
            await self._preflight(origin, headers.get("access-control-request-headers"), send)
        else:
            await next_app(scope, receive, send)

    async def _refuse(self, origin: str, send: Send) -> None:
        exception = errors.origin_invalid(origin)
        context = current_request()
        trace_id = context.trace_id if context is not None else self.config.trace_id_factory()
        body = msgspec.json.encode(ClerkErrors(errors=[exception.to_error()], meta={}, clerk_trace_id=trace_id))
        await _send(send, exception.status, [(b"content-type", b"application/json")], body)

    @staticmethod
    async def _preflight(origin: str, requested_headers: str | None, send: Send) -> None:
        headers = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", _ALLOWED_METHODS.encode()),
            (b"access-control-expose-headers", EXPOSED_HEADERS.encode()),
            (b"access-control-max-age", _PREFLIGHT_MAX_AGE.encode()),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
        ]
        if requested_headers:
            headers.append((b"access-control-allow-headers", requested_headers.encode("latin-1")))
        await _send(send, 204, headers, b"")


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    all_headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
