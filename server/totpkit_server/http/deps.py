"""Dependency providers: the running :class:`Instance` and the caller's :class:`ClientContext`."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency

from ..services import Instance
from .context import ClientContext, resolve_context

__all__ = ("CLIENT_CONTEXT_STATE_KEY", "INSTANCE_STATE_KEY", "provide_context", "provide_instance")

INSTANCE_STATE_KEY = "totpkit_instance"
"""Key of the running instance in ``app.state`` (set by the plugin's lifespan)."""

CLIENT_CONTEXT_STATE_KEY = "totpkit_client_context"
"""Key in ``request.state`` of a client context resolved before the handler (by the rate-limit guard)."""


def provide_instance(request: Request[Any, Any, Any]) -> Instance:
    """The instance opened by the plugin's lifespan."""
    instance = request.app.state.get(INSTANCE_STATE_KEY)
    if not isinstance(instance, Instance):
        raise RuntimeError("the totpkit plugin's lifespan has not started (is the app running?)")
    return instance


async def provide_context(request: Request[Any, Any, Any], instance: NamedDependency[Instance]) -> ClientContext:
    """The caller's client context (see :mod:`totpkit_server.http.context`), resolved once per request."""
    resolved = request.state.get(CLIENT_CONTEXT_STATE_KEY)
    if isinstance(resolved, ClientContext):
        return resolved
    return await resolve_context(request, instance)
