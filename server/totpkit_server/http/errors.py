"""Rendering every failure of a totpkit route in Clerk's error format.

:class:`~totpkit_server.core.errors.ClerkAPIException` is rendered as is; Litestar's own HTTP
exceptions (unknown path, wrong method, too large) are mapped to Clerk codes; a client that hung up
mid-body gets no answer and one quiet log line; anything else is logged and answered with 500
``internal_clerk_error`` and no details.
"""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions.responses import create_exception_response
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

from totpkit.types import ClerkErrors

from ..core import errors
from ..core.request_context import current_request, random_trace_id
from .context import cors_headers
from .deps import INSTANCE_STATE_KEY
from .params import ClientDisconnected

__all__ = ("clerk_exception_handler", "prefixed_exception_handler", "to_clerk_exception")

logger = logging.getLogger("totpkit.errors")


def to_clerk_exception(exc: Exception, *, method: str = "") -> errors.ClerkAPIException:
    """Map any exception raised while serving a ``method`` request to a Clerk error."""
    if isinstance(exc, errors.ClerkAPIException):
        return exc
    if isinstance(exc, HTTPException):
        status = exc.status_code
        if status == 404:
            return errors.resource_not_found()
        if status == 405:
            return errors.method_not_allowed(method)
        if status == 413:
            return errors.request_body_too_large()
        if status < 500:
            return errors.form_param_format_invalid("request", "The request is invalid.")
    logger.error("unexpected error while serving a request", exc_info=exc)
    return errors.internal_error()


def _trace_id(request: Request[Any, Any, Any]) -> str:
    """The request's trace id (see :mod:`.tracing`); a new one where none is bound (an unmatched path)."""
    context = current_request()
    if context is not None:
        return context.trace_id
    instance = request.app.state.get(INSTANCE_STATE_KEY)
    return instance.config.trace_id_factory() if instance is not None else random_trace_id()


class _Unanswered(Response[bytes]):
    """What the handler returns for a client that hung up: a response that sends nothing."""

    def to_asgi_response(self, app: Any, request: Request[Any, Any, Any], **kwargs: Any) -> ASGIResponse:
        return _Silence(body=b"")


class _Silence(ASGIResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Send nothing: the connection is gone (the server closes it)."""


def clerk_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Answer ``exc`` as ``{"errors": [...], "meta": {}, "clerk_trace_id": ...}``.

    A client that hung up mid-body (:class:`~.params.ClientDisconnected`) is logged as one info line,
    without a traceback, and answered with nothing.
    """
    if isinstance(exc, ClientDisconnected):
        logger.info("client disconnected before the request body was complete: %s %s", request.method, request.url.path)
        return _Unanswered(b"")
    clerk = to_clerk_exception(exc, method=request.method)
    trace_id = _trace_id(request)
    body = ClerkErrors(
        errors=[clerk.to_error()],
        meta={},
        clerk_trace_id=trace_id,
    )
    instance = request.app.state.get(INSTANCE_STATE_KEY)
    allowed = instance.config.allowed_origins if instance is not None else ()
    headers = {**cors_headers(request, allowed), **clerk.headers, "X-Clerk-Trace-Id": trace_id}
    return Response(msgspec.json.encode(body), status_code=clerk.status, media_type="application/json", headers=headers)


def prefixed_exception_handler(prefix: str) -> Any:
    """An app-level handler that speaks Clerk under ``prefix`` and Litestar's default elsewhere.

    Used for unmatched paths (404/405), which never reach the plugin's own router.
    """
    prefix = prefix.rstrip("/")

    def handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        path = request.url.path
        if not prefix or path == prefix or path.startswith(prefix + "/"):
            return clerk_exception_handler(request, exc)
        return create_exception_response(request, exc)

    return handler
