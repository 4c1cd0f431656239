"""Crash safety: a real ``totpkit serve`` killed with SIGKILL in the middle of a stream of enrolments and
verifications loses no acknowledged write and leaves no half-enrolled user.

Four workers run the whole life of new users concurrently (create, sign in, start and verify TOTP
enrolment, sign in with a TOTP code and a backup code, replace the backup codes, use a new one) and
record every answer 200 in a ledger. After a seeded number of acknowledged writes the process is
killed by its PID with SIGKILL; a new process on the same data directory must then show everything
in the ledger, and the database must hold no user whose MFA state is half written.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from totpkit.otp import time_step, totp_code
from totpkit_server.testing import RunningServer, serve

PASSWORD = "correct horse battery staple"
PERIOD = 30
UNLIMITED = ("--rate-limit-per-ip", "0", "--rate-limit-per-client", "0", "--rate-limit-creations-per-ip", "0")
CRASH_SEED = 20_240_607
WORKERS = 4
MAX_USERS_PER_WORKER = 25
STREAM_BUDGET_SECONDS = 90.0
BACKUP_CODES_PER_SET = 10


def environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "TOTPKIT_KEYS_FILE"}


def current_step() -> int:
    return time_step(time.time(), PERIOD)


@dataclass
class Enrolment:
    totp_id: str
    secret: str
    step: int


@dataclass
class Ledger:
    """Every write the server acknowledged with a 200 before it was killed."""

    acknowledged: int = 0
    users: dict[str, str] = field(default_factory=dict)
    """user id -> email"""
    sessions: list[tuple[str, str]] = field(default_factory=list)
    """(client token, session id)"""
    pending: dict[str, str] = field(default_factory=dict)
    """user id -> id of the TOTP whose enrolment started"""
    enrolled: dict[str, Enrolment] = field(default_factory=dict)
    accepted_steps: dict[str, tuple[int, str]] = field(default_factory=dict)
    """user id -> (time step, code) accepted at a second-factor sign-in"""
    used_codes: dict[str, list[str]] = field(default_factory=dict)
    replaced_sets: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)
    """user id -> (old set, new set) of an acknowledged backup-code replacement"""


class Killed(Exception):
    """The server is gone: the worker stops."""


class Stream:
    """The workers, the ledger, and the SIGKILL after ``kill_after`` acknowledged writes."""

    def __init__(self, server: RunningServer, http: httpx.AsyncClient, device: Any, kill_after: int) -> None:
        self.server = server
        self.http = http
        self.device = device
        self.kill_after = kill_after
        self.ledger = Ledger()
        self.killed = False

    def ack(self) -> None:
        """Count one acknowledged write; the ``kill_after``-th kills the server at once."""
        self.ledger.acknowledged += 1
        if self.ledger.acknowledged == self.kill_after:
            os.kill(self.server.process.pid, signal.SIGKILL)
            self.killed = True

    async def call(self, response: Awaitable[httpx.Response]) -> httpx.Response:
        """Await a request: a transport error means the server is dead; anything but 200 fails the test."""
        try:
            answer = await response
        except httpx.TransportError as exc:
            raise Killed from exc
        assert answer.status_code == 200, (answer.status_code, answer.text)
        return answer

    async def worker(self, number: int, deadline: float) -> None:
        for index in range(MAX_USERS_PER_WORKER):
            if self.killed or time.monotonic() > deadline:
                return
            try:
                await self.user_life(f"crash{number}-{index}@example.com")
            except Killed:
                return

    async def sign_in(self, email: str) -> tuple[Any, dict[str, Any]]:
        device = self.device(self.http)
        started = await self.call(device.post("/v1/client/sign_ins", data={"identifier": email, "password": PASSWORD}))
        return device, started.json()["response"]

    async def second_factor(self, email: str, strategy: str, code: str) -> tuple[Any, dict[str, Any]]:
        device, sign_in = await self.sign_in(email)
        assert sign_in["status"] == "needs_second_factor", sign_in
        done = await self.call(
            device.post(
                f"/v1/client/sign_ins/{sign_in['id']}/attempt_second_factor",
                data={"strategy": strategy, "code": code},
            )
        )
        return device, done.json()["response"]

    async def user_life(self, email: str) -> None:
        """One user from creation to a used second backup-code set, recording each acknowledged write."""
        ledger = self.ledger
        created = await self.call(
            self.http.post(
                "/v1/users",
                json={"email_address": [email], "password": PASSWORD},
                headers={"Authorization": f"Bearer {self.server.secret_key}"},
            )
        )
        user_id = created.json()["id"]
        ledger.users[user_id] = email
        self.ack()
        device, sign_in = await self.sign_in(email)
        ledger.sessions.append((device.token, sign_in["created_session_id"]))
        self.ack()
        totp = (await self.call(device.post("/v1/me/totp"))).json()["response"]
        ledger.pending[user_id] = totp["id"]
        self.ack()
        step = current_step()
        verified = await self.call(
            device.post("/v1/me/totp/attempt_verification", data={"code": totp_code(totp["secret"], at=step * PERIOD)})
        )
        codes = verified.json()["response"]["backup_codes"]
        ledger.enrolled[user_id] = Enrolment(totp["id"], totp["secret"], step)
        self.ack()
        target = max(step + 1, current_step() - 1)
        code = totp_code(totp["secret"], at=target * PERIOD)
        second_device, _ = await self.second_factor(email, "totp", code)
        ledger.accepted_steps[user_id] = (target, code)
        self.ack()
        await self.second_factor(email, "backup_code", codes[0])
        ledger.used_codes.setdefault(user_id, []).append(codes[0])
        self.ack()
        new_codes = (await self.call(second_device.post("/v1/me/backup_codes"))).json()["response"]["codes"]
        ledger.replaced_sets[user_id] = (codes, new_codes)
        self.ack()
        await self.second_factor(email, "backup_code", new_codes[0])
        ledger.used_codes[user_id].append(new_codes[0])
        self.ack()


class TestSigkillDuringTraffic:
    async def test_no_acknowledged_write_is_lost_and_no_user_is_half_enrolled(
        self, tmp_path: Path, native_device: Any
    ) -> None:
        """SIGKILL after a seeded number of acknowledged writes; a restarted server shows all of them."""
        data_dir = tmp_path / "data"
        kill_after = random.Random(CRASH_SEED).randint(12, 40)
        with serve(data_dir, args=UNLIMITED, env=environment()) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=60, trust_env=False) as http:
                stream = Stream(server, http, native_device, kill_after)
                deadline = time.monotonic() + STREAM_BUDGET_SECONDS
                await asyncio.gather(*(stream.worker(number, deadline) for number in range(WORKERS)))
            assert stream.killed, f"the stream ended after {stream.ledger.acknowledged} writes, before the kill"
            assert server.process.wait(timeout=30) == -signal.SIGKILL
        ledger = stream.ledger
        assert ledger.acknowledged >= kill_after
        assert ledger.users

        with serve(data_dir, args=UNLIMITED, env=environment()) as restarted:
            database = data_dir / "totpkit.db"
            assert rows(database, "PRAGMA integrity_check") == [("ok",)]
            assert_no_half_enrolled_user(database)
            assert_acknowledged_state_in_database(database, ledger)
            async with httpx.AsyncClient(base_url=restarted.url, timeout=60, trust_env=False) as http:
                await assert_acknowledged_state_in_api(restarted, http, native_device, ledger)
            assert restarted.is_alive(), restarted.log_tail()


def rows(database: Path, sql: str, *params: Any) -> list[Any]:
    with sqlite3.connect(database, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def assert_no_half_enrolled_user(database: Path) -> None:
    """Verified TOTP <=> MFA enabled <=> one whole backup-code set; a pending TOTP has neither."""
    for user_id, mfa_enabled_at in rows(database, "SELECT id, mfa_enabled_at FROM users"):
        verified = rows(database, "SELECT verified FROM totp_credentials WHERE user_id = ?", user_id)
        sets = rows(database, "SELECT set_id, COUNT(*) FROM backup_codes WHERE user_id = ? GROUP BY set_id", user_id)
        if verified and verified[0][0]:
            assert mfa_enabled_at is not None, user_id
            assert [count for _, count in sets] == [BACKUP_CODES_PER_SET], (user_id, sets)
        else:
            assert mfa_enabled_at is None, user_id
            assert sets == [], (user_id, sets)


def assert_acknowledged_state_in_database(database: Path, ledger: Ledger) -> None:
    """Acknowledged users, enrolment starts, enrolments and accepted steps are all on disk."""
    users = {user_id for (user_id,) in rows(database, "SELECT id FROM users")}
    assert set(ledger.users) <= users
    for user_id in ledger.pending:
        assert rows(database, "SELECT id FROM totp_credentials WHERE user_id = ?", user_id), user_id
    for user_id, enrolment in ledger.enrolled.items():
        stored = rows(database, "SELECT id, verified, last_used_step FROM totp_credentials WHERE user_id = ?", user_id)
        assert stored, user_id
        totp_id, verified, last_used_step = stored[0]
        assert (totp_id, verified) == (enrolment.totp_id, 1), user_id
        assert last_used_step >= enrolment.step, user_id
    for user_id, (step, _) in ledger.accepted_steps.items():
        ((last_used_step,),) = rows(database, "SELECT last_used_step FROM totp_credentials WHERE user_id = ?", user_id)
        assert last_used_step >= step, user_id


async def assert_acknowledged_state_in_api(
    server: RunningServer, http: httpx.AsyncClient, device_factory: Any, ledger: Ledger
) -> None:
    """Through the API of the restarted server: users, sessions, MFA state, and every used code stays used."""
    bearer = {"Authorization": f"Bearer {server.secret_key}"}
    for user_id, email in ledger.users.items():
        user = await http.get(f"/v1/users/{user_id}", headers=bearer)
        assert user.status_code == 200, user.text
        assert user.json()["email_addresses"][0]["email_address"] == email
        if user_id in ledger.enrolled:
            flags = {name: user.json()[name] for name in ("totp_enabled", "backup_code_enabled", "two_factor_enabled")}
            assert flags == dict.fromkeys(flags, True), (user_id, flags)
    for token, session_id in ledger.sessions:
        device = device_factory(http)
        device.token = token
        client = (await device.get("/v1/client")).json()["response"]
        assert client is not None, session_id
        assert session_id in {session["id"] for session in client["sessions"]}, session_id

    async def attempt(email: str, strategy: str, code: str) -> int:
        device = device_factory(http)
        started = await device.post("/v1/client/sign_ins", data={"identifier": email, "password": PASSWORD})
        assert started.json()["response"]["status"] == "needs_second_factor", started.text
        sign_in_id = started.json()["response"]["id"]
        done = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor", data={"strategy": strategy, "code": code}
        )
        return int(done.status_code)

    for user_id, (_, code) in ledger.accepted_steps.items():
        assert await attempt(ledger.users[user_id], "totp", code) == 422, user_id
    for user_id, codes in ledger.used_codes.items():
        for code in codes:
            assert await attempt(ledger.users[user_id], "backup_code", code) == 422, (user_id, code)
    for user_id, (old_set, new_set) in ledger.replaced_sets.items():
        assert await attempt(ledger.users[user_id], "backup_code", old_set[1]) == 422, user_id
        assert await attempt(ledger.users[user_id], "backup_code", new_set[1]) == 200, user_id
