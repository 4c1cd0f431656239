"""Expiry of what anonymous callers leave behind: abandoned sign-ins, idle clients, dev browsers, old windows.

Creating a client or a dev browser needs no credentials, so without expiry a caller could fill the
database (the creation rate limit only slows that down). :func:`sweep_expired` deletes, by the
injected clock, everything :meth:`Store.sweep_expired <totpkit_server.storage.base.Store.sweep_expired>`
describes, with the cut-offs from the configuration: sign-ins past ``abandon_at``; sessions ended or
expired ``idle_lifetime`` ago; clients idle that long with no session or sign-in left; dev browsers
bound to no client and that old; rate-limit rows of ended windows. Users, MFA credentials and the
audit log are never swept.

:class:`ExpirySweeper` runs it in the plugin's lifespan every ``sweep_interval`` seconds;
``totpkit gc`` runs it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..config import TOTPKitConfig
from ..core.throttling import RateLimitPolicy
from ..storage.base import Store
from ..storage.records import SweepCounts

__all__ = ("ExpirySweeper", "sweep_expired")

logger = logging.getLogger("totpkit.expiry")


async def sweep_expired(store: Store, config: TOTPKitConfig) -> SweepCounts:
    """Delete what expired by ``config.clock`` now (see the module docstring); returns the counts."""
    now = config.now_ms()
    window = RateLimitPolicy(window_seconds=config.rate_limit_window, per_client=0, per_ip=0)
    return await store.sweep_expired(
        now=now, idle_before=now - config.idle_lifetime * 1000, rate_limits_before=window.window_start(now)
    )


class ExpirySweeper:
    """A background task that sweeps every ``sweep_interval`` seconds after :meth:`start`.

    The first sweep waits one interval too, so that starting many processes at once (or an app
    next to another on the same database) does not start with a burst of write transactions.

    A sweep that fails (a busy database, say) is logged and retried at the next interval; the task
    never ends by itself. :meth:`stop` cancels it and waits for it, so the store can be closed next.
    """

    __slots__ = ("_config", "_store", "_task", "sweeps")

    def __init__(self, store: Store, config: TOTPKitConfig) -> None:
        self._store = store
        self._config = config
        self._task: asyncio.Task[None] | None = None
        self.sweeps = 0
        """Sweeps finished so far (successful or not)."""

    @property
    def running(self) -> bool:
        """Whether the background task is running."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start sweeping; nothing when ``sweep_interval`` is 0 or it runs already."""
        if self._config.sweep_interval > 0 and not self.running:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="totpkit-expiry-sweep")

    async def stop(self) -> None:
        """Stop sweeping and wait until a sweep in progress is cancelled."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._config.sweep_interval)
            await self._sweep_once()

    async def _sweep_once(self) -> None:
        try:
            counts = await sweep_expired(self._store, self._config)
        except Exception:
            logger.exception("the expiry sweep failed; retrying in %s s", self._config.sweep_interval)
        else:
            if counts.total:
                logger.info("expiry sweep deleted %s", counts)
        finally:
            self.sweeps += 1
