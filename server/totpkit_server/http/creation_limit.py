"""The rate limit on anonymous creations: clients and dev browsers, per caller address.

Creating a client (``PUT`` / ``POST /v1/client``, the client a first sign-in makes) or a dev browser
(``POST /v1/dev_browser``) needs no credentials, so each creation is charged to the caller's address
in its own bucket (``new:ip:<address key>``), in the same fixed windows as the other limits
(:mod:`totpkit_server.core.throttling`, counted by :meth:`Store.hit_rate_limits
<totpkit_server.storage.base.Store.hit_rate_limits>`). Past ``config.rate_limit_creations_per_ip``
per window the caller gets 429 ``too_many_requests`` with ``Retry-After``, before anything is
created. Requests that find an existing client create nothing and are not charged.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection

from ..core import errors
from ..core.throttling import RateLimitPolicy, address_key
from ..services import Instance
from .tracing import caller_ip

__all__ = ("charge_creation",)


async def charge_creation(connection: ASGIConnection[Any, Any, Any, Any], instance: Instance) -> None:
    """Count one creation for the caller's address; 429 once it is over the limit of the window."""
    config = instance.config
    limit = config.rate_limit_creations_per_ip
    if limit == 0:
        return
    policy = RateLimitPolicy(window_seconds=config.rate_limit_window, per_client=0, per_ip=limit)
    now = instance.now_ms()
    bucket = f"new:ip:{address_key(caller_ip(connection.scope, config))}"
    (count,) = await instance.store.hit_rate_limits([bucket], window_start=policy.window_start(now))
    if count > limit:
        raise errors.too_many_requests(policy.retry_after(now))
