"""Slow hashing (argon2id passwords, imported bcrypt backup codes) off the event loop.

One argon2id check takes ~200 ms of CPU and a bcrypt check up to a few hundred; run inside an async
handler, each one stalls every other request of the process. :class:`HashingPool` runs them in a
small pool of worker threads instead (argon2-cffi and bcrypt release the GIL, so ``n`` cores hash
``n`` passwords at once) while the event loop keeps serving.

The pool is bounded twice: ``threads`` jobs run, at most ``queue`` more wait for a thread. A job
beyond that is refused at once with 429 ``too_many_requests`` (``Retry-After: 1``) before it does
anything, so callers must submit the hash before they change any state. A job whose request is
cancelled while it waits is dropped; one already running finishes in its thread and keeps its
place in the bound until it does (the bound counts real work, not requests).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ..core import errors

__all__ = ("RETRY_AFTER_SECONDS", "HashingPool")

T = TypeVar("T")

RETRY_AFTER_SECONDS = 1
"""``Retry-After`` of the 429 answered when the pool is full (a queued hash is done within ~a second)."""


class HashingPool:
    """A bounded thread pool for CPU-heavy hashing, shared by every request of one instance."""

    __slots__ = ("_count_lock", "_executor", "_jobs", "_slots", "capacity", "threads")

    def __init__(self, *, threads: int | None = None, queue: int = 32) -> None:
        """Create the pool; no thread starts before the first job.

        Args:
            threads: Worker threads (jobs hashed at once); ``None`` = the machine's CPU count.
            queue: Jobs that may wait for a free thread; ``0`` refuses every job while all threads are busy.

        Raises:
            ValueError: If ``threads`` is below 1 or ``queue`` below 0.
        """
        self.threads = threads if threads is not None else (os.cpu_count() or 1)
        if self.threads < 1 or queue < 0:
            raise ValueError("the hashing pool needs at least 1 thread and a queue of 0 or more")
        self.capacity = self.threads + queue
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._jobs = 0
        self._count_lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="totpkit-hash")

    @property
    def jobs(self) -> int:
        """Jobs running or waiting right now."""
        return self._jobs

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """Run ``function(*args)`` in a worker thread and return its result (or raise its exception).

        Raises:
            ClerkAPIException: 429 ``too_many_requests`` when ``threads + queue`` jobs are already in
                the pool; ``function`` is then not called.
        """
        if not self._slots.acquire(blocking=False):
            raise errors.too_many_requests(RETRY_AFTER_SECONDS)
        with self._count_lock:
            self._jobs += 1
        try:
            future: Future[T] = self._executor.submit(function, *args)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())  # in the worker thread, or here if cancelled
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        with self._count_lock:
            self._jobs -= 1
        self._slots.release()

    def shutdown(self) -> None:
        """Drop waiting jobs and let running ones finish in the background; later jobs raise RuntimeError."""
        self._executor.shutdown(wait=False, cancel_futures=True)
