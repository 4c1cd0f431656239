"""The request-rate limit of the sign-in and verification routes, as a Litestar guard.

Put :func:`rate_limited` in the ``guards`` of every route that checks a password or a code. It runs
before the handler reads the body or resolves anything else: it finds the caller's address (the
direct peer unless ``config.trusted_proxy_header`` names a proxy header, see
:mod:`totpkit_server.core.throttling`) and client, charges the request to their buckets through the
store's atomic :meth:`~totpkit_server.storage.base.Store.hit_rate_limits`, and answers 429
``too_many_requests`` with ``Retry-After`` when a bucket is over its limit. A refused request reaches
no handler, so it changes nothing else (no attempt counted, no lockout).

With the per-client limit on, the guard resolves the client context itself; it stays on the request
and the handler's ``ctx`` dependency reuses it (:func:`~totpkit_server.http.deps.provide_context`).
Errors resolving it (a foreign ``Origin``, an unknown dev-browser token) are then raised as the
handler would raise them, before anything is counted. With only the per-address limit on, no
context is needed and such requests are counted before the handler refuses them.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from ..config import TOTPKitConfig
from ..core import errors
from ..core.throttling import RateLimitPolicy, client_address
from ..services import Instance
from .context import resolve_context
from .deps import CLIENT_CONTEXT_STATE_KEY, INSTANCE_STATE_KEY

__all__ = ("caller_address", "rate_limit_policy", "rate_limited")


def rate_limit_policy(config: TOTPKitConfig) -> RateLimitPolicy:
    """The configured limits (``rate_limit_window``, ``rate_limit_per_client``, ``rate_limit_per_ip``)."""
    return RateLimitPolicy(
        window_seconds=config.rate_limit_window,
        per_client=config.rate_limit_per_client,
        per_ip=config.rate_limit_per_ip,
    )


def caller_address(connection: ASGIConnection[Any, Any, Any, Any], config: TOTPKitConfig) -> str:
    """The caller's address as configured: the direct peer, or the trusted proxy's header."""
    peer = connection.client.host if connection.client else None
    header = config.trusted_proxy_header
    values = connection.headers.getall(header, []) if header else []
    return client_address(peer, values, header=header, hops=config.trusted_proxy_hops)


async def rate_limited(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard: count this request for its client and its address; 429 once either is over its limit."""
    instance = connection.app.state.get(INSTANCE_STATE_KEY)
    if not isinstance(instance, Instance) or not isinstance(connection, Request):
        return
    policy = rate_limit_policy(instance.config)
    if policy.per_client == 0 and policy.per_ip == 0:
        return
    client_id = await _client_id(connection, instance) if policy.per_client else None
    buckets = policy.buckets(address=caller_address(connection, instance.config), client_id=client_id)
    now = instance.now_ms()
    counts = await instance.store.hit_rate_limits([b.key for b in buckets], window_start=policy.window_start(now))
    if policy.exceeded(buckets, counts):
        raise errors.too_many_requests(policy.retry_after(now))


async def _client_id(request: Request[Any, Any, Any], instance: Instance) -> str | None:
    context = await resolve_context(request, instance)
    request.state[CLIENT_CONTEXT_STATE_KEY] = context
    return context.client.id if context.client is not None else None
