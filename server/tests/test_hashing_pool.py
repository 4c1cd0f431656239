"""Password and imported bcrypt backup-code checks run in the bounded hashing pool, off the event loop.

No timing: the hashes here wait on a ``threading.Event`` that the test opens. While they wait, other
requests must be answered (they could not be if a hash held the event loop); when the pool and its
queue are full, a sign-in is refused with 429 and leaves no trace.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import bcrypt
import httpx
import pytest
from litestar import Litestar

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.core.errors import ClerkAPIException
from totpkit_server.core.passwords import PasswordHasher
from totpkit_server.http.deps import INSTANCE_STATE_KEY
from totpkit_server.services.hashing import HashingPool

PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
GATE_TIMEOUT = 10.0
"""A safety net only: the tests open their gates themselves."""


class Gate:
    """Counts the callers waiting on it (and in which threads) until the test opens it."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.threads: list[str] = []
        self._waiting = 0
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._waiting

    def wait(self) -> None:
        with self._lock:
            self._waiting += 1
            self.threads.append(threading.current_thread().name)
        try:
            self.opened.wait(GATE_TIMEOUT)
        finally:
            with self._lock:
                self._waiting -= 1


class GatedHasher(PasswordHasher):
    """The cheap test hasher, except that every password check first waits at the gate."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024)
        self.gate = Gate()

    def __deepcopy__(self, memo: dict[int, Any]) -> GatedHasher:
        return self  # Litestar deep-copies the config with its router; the gate must stay shared

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.gate.wait()
        return super().verify(stored_hash, password)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the event loop run until ``condition()`` holds (fails after a few seconds)."""
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting until {what}"
        await asyncio.sleep(0.01)


@asynccontextmanager
async def running(config: TOTPKitConfig) -> AsyncIterator[tuple[Litestar, httpx.AsyncClient]]:
    """The app with its lifespan, and an in-loop client whose requests really run concurrently."""
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        yield app, http


def pool_of(app: Litestar) -> HashingPool:
    pool = app.state[INSTANCE_STATE_KEY].hashing
    assert isinstance(pool, HashingPool)
    return pool


async def create_user(http: httpx.AsyncClient, config: TOTPKitConfig, email: str, **extra: Any) -> None:
    body = {"email_address": [email], "password": PASSWORD, **extra}
    response = await http.post("/v1/users", json=body, headers={"Authorization": f"Bearer {config.secret_key}"})
    assert response.status_code == 200, response.text


async def sign_in(http: httpx.AsyncClient, email: str, token: str = "") -> httpx.Response:
    """A native password sign-in on a new device (or the device holding ``token``)."""
    return await http.post(
        "/v1/client/sign_ins",
        params={"_is_native": "1"},
        data={"identifier": email, "password": PASSWORD},
        headers={"Authorization": token},
    )


def counts(config: TOTPKitConfig) -> tuple[int, ...]:
    """Rows that a sign-in would add: clients, sign-ins, sessions, audit events."""
    with sqlite3.connect(config.sqlite_path) as db:
        return tuple(
            db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("clients", "sign_ins", "sessions", "audit_events")
        )


async def test_requests_are_served_while_password_checks_run(make_config: Callable[..., TOTPKitConfig]) -> None:
    """Two sign-ins stuck in argon2 do not hold up ``/v1/environment`` or ``/v1/client``."""
    hasher = GatedHasher()
    config = make_config(password_hasher=hasher, hashing_threads=2, hashing_queue=0)
    async with running(config) as (_, http):
        await create_user(http, config, "ada@example.com")
        sign_ins = [asyncio.create_task(sign_in(http, "ada@example.com")) for _ in range(2)]
        await until(lambda: hasher.gate.waiting == 2, "both password checks are running")
        environment = await http.get("/v1/environment")
        client = await http.get("/v1/client", params={"_is_native": "1"}, headers={"Authorization": ""})
        assert (environment.status_code, client.status_code) == (200, 200)
        assert hasher.gate.waiting == 2, "answered only after the password checks"
        hasher.gate.opened.set()
        answers = await asyncio.gather(*sign_ins)
    assert [a.json()["response"]["status"] for a in answers] == ["complete", "complete"]
    assert all(name.startswith("totpkit-hash") for name in hasher.gate.threads), hasher.gate.threads


async def test_full_pool_answers_429_and_changes_nothing(make_config: Callable[..., TOTPKitConfig]) -> None:
    """One check runs, one waits; a third sign-in gets 429 + Retry-After and stores nothing."""
    hasher = GatedHasher()
    config = make_config(password_hasher=hasher, hashing_threads=1, hashing_queue=1)
    async with running(config) as (app, http):
        await create_user(http, config, "ada@example.com")
        running_check = asyncio.create_task(sign_in(http, "ada@example.com"))
        await until(lambda: hasher.gate.waiting == 1, "the first check runs")
        waiting_check = asyncio.create_task(sign_in(http, "ada@example.com"))
        await until(lambda: pool_of(app).jobs == 2, "the second check waits for the thread")
        before = counts(config)
        refused = await sign_in(http, "ada@example.com")
        assert refused.status_code == 429, refused.text
        assert refused.json()["errors"][0]["code"] == "too_many_requests"
        assert refused.headers["retry-after"] == "1"
        assert "authorization" not in refused.headers
        assert counts(config) == before
        assert hasher.gate.waiting == 1
        hasher.gate.opened.set()
        answers = await asyncio.gather(running_check, waiting_check)
        assert [a.json()["response"]["status"] for a in answers] == ["complete", "complete"]
        assert pool_of(app).jobs == 0
        assert (await sign_in(http, "ada@example.com")).status_code == 200


async def test_bcrypt_backup_codes_are_checked_off_the_event_loop(
    make_config: Callable[..., TOTPKitConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backup code checked against imported bcrypt digests does not hold up other requests."""
    gate = Gate()
    checkpw = bcrypt.checkpw

    def gated_checkpw(password: bytes, hashed: bytes) -> bool:
        gate.wait()
        return checkpw(password, hashed)

    config = make_config()
    digests = [bcrypt.hashpw(f"imported{n}".encode(), bcrypt.gensalt(rounds=4)).decode() for n in range(2)]
    async with running(config) as (_, http):
        await create_user(http, config, "ada@example.com", totp_secret=SECRET, backup_codes=digests)
        started = await sign_in(http, "ada@example.com")
        assert started.json()["response"]["status"] == "needs_second_factor", started.text
        token, sign_in_id = started.headers["authorization"], started.json()["response"]["id"]
        monkeypatch.setattr(bcrypt, "checkpw", gated_checkpw)
        attempt = asyncio.create_task(
            http.post(
                f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
                params={"_is_native": "1"},
                data={"strategy": "backup_code", "code": "imported1"},
                headers={"Authorization": token},
            )
        )
        await until(lambda: gate.waiting == 1, "a bcrypt check runs")
        assert (await http.get("/v1/environment")).status_code == 200
        assert gate.waiting == 1, "answered only after the bcrypt check"
        gate.opened.set()
        answer = await attempt
    assert answer.status_code == 200, answer.text
    assert answer.json()["response"]["status"] == "complete"
    assert gate.threads
    assert all(name.startswith("totpkit-hash") for name in gate.threads), gate.threads


class TestHashingPool:
    async def test_bounds_running_and_waiting_jobs(self) -> None:
        """``threads + queue`` jobs at once; the next is refused without running; slots come back."""
        gate = Gate()
        pool = HashingPool(threads=1, queue=1)
        try:
            jobs = [asyncio.create_task(pool.run(gate.wait)) for _ in range(2)]
            await until(lambda: gate.waiting == 1 and pool.jobs == 2, "one job runs and one waits")
            with pytest.raises(ClerkAPIException) as refused:
                await pool.run(gate.wait)
            assert (refused.value.status, refused.value.headers) == (429, {"Retry-After": "1"})
            gate.opened.set()
            await asyncio.gather(*jobs)
            assert pool.jobs == 0
            assert await pool.run(sum, [1, 2]) == 3
        finally:
            gate.opened.set()
            pool.shutdown()

    async def test_a_cancelled_waiting_job_frees_its_slot(self) -> None:
        gate = Gate()
        pool = HashingPool(threads=1, queue=1)
        try:
            running_job = asyncio.create_task(pool.run(gate.wait))
            await until(lambda: gate.waiting == 1, "the first job runs")
            waiting_job = asyncio.create_task(pool.run(gate.wait))
            await until(lambda: pool.jobs == 2, "the second job waits")
            waiting_job.cancel()
            await until(lambda: pool.jobs == 1, "the cancelled job is gone")
            gate.opened.set()
            await running_job
            assert gate.threads == ["totpkit-hash_0"]
        finally:
            gate.opened.set()
            pool.shutdown()

    def test_defaults_to_the_cpu_count(self) -> None:
        import os

        pool = HashingPool()
        assert pool.threads == (os.cpu_count() or 1)
        with pytest.raises(ValueError, match="at least 1 thread"):
            HashingPool(threads=0)
