"""Who is asking, for the duration of one request: trace id, client IP, client and session.

The plugin's request middleware (:mod:`totpkit_server.http.tracing`) binds a :class:`RequestContext`
to every HTTP request served by a totpkit route. Services read it with :func:`current_request` to
stamp audit events; the error handler answers with its trace id; :class:`TraceIdFilter` copies the
trace id onto log records as ``clerk_trace_id``. Outside a request (the CLI, start-up) there is none.

Framework-free: a :class:`contextvars.ContextVar`, so concurrent requests never see each other's
context, and a task started inside a request inherits a copy of it.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = (
    "TRACE_ID_ATTRIBUTE",
    "RequestContext",
    "TraceIdFilter",
    "bind_request",
    "current_request",
    "install_trace_id_filter",
    "note_caller",
    "random_trace_id",
    "sequential_trace_ids",
)

TRACE_ID_ATTRIBUTE = "clerk_trace_id"
"""Name of the log-record attribute carrying the request's trace id (``None`` outside a request)."""

_CURRENT: ContextVar[RequestContext | None] = ContextVar("totpkit_request_context", default=None)


@dataclass(slots=True)
class RequestContext:
    """The caller of the request being served.

    ``trace_id`` is fixed when the request starts; ``client_id`` and ``session_id`` are filled in
    once the request's client and session are known (see :func:`note_caller`).
    """

    trace_id: str
    ip: str | None = None
    client_id: str | None = None
    session_id: str | None = None


def current_request() -> RequestContext | None:
    """The context of the request being served, or ``None`` outside a request."""
    return _CURRENT.get()


@contextmanager
def bind_request(context: RequestContext) -> Iterator[RequestContext]:
    """Make ``context`` the current request's for the ``with`` block (restored on exit, also on error)."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def note_caller(*, client_id: str | None = None, session_id: str | None = None) -> None:
    """Record the client and/or session the current request acts for; a no-op outside a request.

    ``None`` leaves a value already known unchanged.
    """
    context = _CURRENT.get()
    if context is None:
        return
    if client_id is not None:
        context.client_id = client_id
    if session_id is not None:
        context.session_id = session_id


def random_trace_id() -> str:
    """32 random lowercase hex characters, the shape of Clerk's ``clerk_trace_id``."""
    return secrets.token_hex(16)


def sequential_trace_ids() -> Callable[[], str]:
    """A deterministic trace-id source for tests: ``000…001``, ``000…002``, … (32 hex characters)."""
    counter = itertools.count(1)
    return lambda: f"{next(counter):032x}"


class TraceIdFilter(logging.Filter):
    """Adds ``clerk_trace_id`` (the current request's trace id, or ``None``) to every record it sees.

    Never drops a record, and keeps a ``clerk_trace_id`` the caller passed in ``extra``. Attach it to
    a handler to stamp every record that handler writes (Litestar's and uvicorn's too).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, TRACE_ID_ATTRIBUTE):
            context = _CURRENT.get()
            setattr(record, TRACE_ID_ATTRIBUTE, context.trace_id if context is not None else None)
        return True


def install_trace_id_filter(root: str = "totpkit") -> None:
    """Attach one :class:`TraceIdFilter` to the logger ``root`` and every existing logger below it.

    Idempotent. A logger's filters see only the records logged on that logger, so each module
    logger gets its own; loggers created after this call (none in totpkit: its modules create
    theirs at import) are not covered.
    """
    names = [root] + [name for name in logging.root.manager.loggerDict if name.startswith(root + ".")]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, TraceIdFilter) for existing in logger.filters):
            logger.addFilter(TraceIdFilter())
