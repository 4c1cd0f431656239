"""``GET /healthz`` and ``GET /readyz`` under the plugin's path prefix, for orchestrators and load balancers.

``/healthz`` (liveness) answers 200 ``{"status": "ok"}`` while the process serves requests; it reads
nothing. ``/readyz`` (readiness) answers 200 ``{"status": "ready", "schema_version": N}`` when the
database answers within :data:`READY_TIMEOUT` seconds and has every migration this code knows
applied, else 503 ``service_unavailable`` in Clerk's error format. Neither is rate limited, reads a
client or session, or writes an audit event, so probing them is cheap and leaves no trace.
"""

from __future__ import annotations

import asyncio
import logging

from litestar import get
from litestar.datastructures import State

from ..core.errors import ClerkAPIException
from ..services import Instance
from .deps import INSTANCE_STATE_KEY

__all__ = ("HEALTH_HANDLERS", "READY_TIMEOUT")

READY_TIMEOUT = 2.0
"""Seconds ``/readyz`` waits for the database before answering 503."""

logger = logging.getLogger("totpkit.health")


def _not_ready(reason: str) -> ClerkAPIException:
    return ClerkAPIException(503, "service_unavailable", "Not ready", f"The server is not ready: {reason}.")


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Liveness: 200 while the process serves requests. Reads nothing."""
    return {"status": "ok"}


@get("/readyz")
async def readyz(state: State) -> dict[str, str | int]:
    """Readiness: 200 when the database answers and its migrations are current, else 503."""
    instance = state.get(INSTANCE_STATE_KEY)
    if not isinstance(instance, Instance):
        raise _not_ready("the database is not open")
    store = instance.store
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            version = await store.schema_version()
        expected = store.latest_schema_version
    except Exception as exc:  # any failure to answer means "not ready", never a 500
        logger.warning("readiness check failed: %s: %s", type(exc).__name__, exc)
        raise _not_ready("the database does not answer") from None
    if version != expected:
        raise _not_ready(f"the database schema is at version {version}, this server needs {expected}")
    return {"status": "ready", "schema_version": version}


HEALTH_HANDLERS = (healthz, readyz)
