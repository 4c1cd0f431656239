"""Several real ``totpkit serve`` processes on one PostgreSQL database: every invariant holds across them.

The topology, started once for the module: two single-process servers and one ``--workers 4`` server,
all on one database (``--database-url``) and one keys file (the first server generates the
development keys in the shared data directory). Requests are spread over the three URLs; the four
requests of one race go to the first, the second and twice to the third (two of its workers, as the
kernel hands out the connections).

Races use the Backend API's ``verify_totp`` (the same compare-and-set as a sign-in's second factor:
each TOTP time step accepted once, each backup code consumed once) because it needs no password hash,
which lets one run hold hundreds of trials: many users race in parallel, each with the three time
steps of the current window and three backup codes. A replayed code counts as a failure towards the
lockout, and each trial's winner resets the count, so a user never reaches the limit of 10.

The processes read the real clock (codes from ``totpkit.otp`` for the step at submission, never a
sleep); every loop is bounded in count and time; every process is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import random
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from totpkit.otp import time_step, totp_code
from totpkit_server.testing import RunningServer, fresh_postgres_schema, serve

pytestmark = pytest.mark.processes

PASSWORD = "correct horse battery staple"
PERIOD = 30
TRIALS = 201
"""At least 200 races of each kind (TOTP, backup code): 67 users times three."""
USERS = 67
BUDGET_SECONDS = 240.0
LOCKOUT_MAX_ATTEMPTS = 10
RATE_LIMIT = 12
_IPS = itertools.count(1)


def environment() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("TOTPKIT_")}


@dataclass
class Cluster:
    """The running servers and one HTTP client per request route (first, second, third, third)."""

    servers: tuple[RunningServer, ...]
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def secret_key(self) -> str:
        return self.servers[0].secret_key

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret_key}"}

    def routes(self) -> list[httpx.AsyncClient]:
        """One client per server, the ``--workers 4`` server twice."""
        return [self.clients[0], self.clients[1], self.clients[2], self.clients[2]]


@pytest.fixture(scope="module")
def cluster_servers(tmp_path_factory: pytest.TempPathFactory, postgres_database: str) -> Iterator[Cluster]:
    """Three ``totpkit serve`` processes (the third with ``--workers 4``) on one fresh PostgreSQL schema."""
    data_dir = tmp_path_factory.mktemp("cluster") / "data"
    url = fresh_postgres_schema(postgres_database)
    common = [
        "--database-url",
        url,
        "--rate-limit-per-client",
        "0",
        "--rate-limit-per-ip",
        str(RATE_LIMIT),
        "--rate-limit-window",
        "3600",
        "--trusted-proxy-header",
        "x-real-ip",
    ]
    env = environment()
    with (
        serve(data_dir, args=common, env=env, ready_timeout=180) as first,
        serve(data_dir, args=common, env=env, ready_timeout=180) as second,
        serve(data_dir, args=[*common, "--workers", "4"], env=env, ready_timeout=180) as third,
    ):
        cluster = Cluster((first, second, third))
        yield cluster
        for server in cluster.servers:
            assert server.is_alive(), server.log_tail()


@pytest.fixture
async def cluster(cluster_servers: Cluster) -> Any:
    limits = httpx.Limits(max_connections=200, keepalive_expiry=1.0)  # below uvicorn's 5 s keep-alive
    async with (
        httpx.AsyncClient(base_url=cluster_servers.servers[0].url, timeout=120, trust_env=False, limits=limits) as a,
        httpx.AsyncClient(base_url=cluster_servers.servers[1].url, timeout=120, trust_env=False, limits=limits) as b,
        httpx.AsyncClient(base_url=cluster_servers.servers[2].url, timeout=120, trust_env=False, limits=limits) as c,
    ):
        cluster_servers.clients = [a, b, c]
        yield cluster_servers
        cluster_servers.clients = []


def fresh_ip() -> dict[str, str]:
    """An ``X-Real-IP`` of its own, so each test has its own per-IP rate-limit bucket."""
    return {"X-Real-IP": f"198.51.100.{next(_IPS)}"}


def current_step() -> int:
    return time_step(time.time(), PERIOD)


@dataclass
class MFAUser:
    user_id: str
    secret: str
    codes: list[str]
    last_step: int = -1


async def create_mfa_user(cluster: Cluster, rng: random.Random, n: int, *, password: str | None = None) -> MFAUser:
    """A user with an imported TOTP secret and ten backup codes, created through a server chosen by ``n``."""
    secret = base64.b32encode(rng.randbytes(20)).decode().rstrip("=")
    codes = [f"cluster{n}code{index}" for index in range(10)]
    body: dict[str, Any] = {"email_address": [f"cluster{n}.{rng.getrandbits(32)}@example.com"]}
    body |= {"totp_secret": secret, "backup_codes": codes}
    if password is not None:
        body["password"] = password
    created = await cluster.clients[n % 3].post("/v1/users", json=body, headers=cluster.bearer())
    assert created.status_code == 200, created.text
    return MFAUser(user_id=created.json()["id"], secret=secret, codes=codes)


async def race(cluster: Cluster, user: MFAUser, code: str) -> list[httpx.Response]:
    """``code`` sent for ``user`` to every route at once."""
    return list(
        await asyncio.gather(
            *(
                http.post(f"/v1/users/{user.user_id}/verify_totp", data={"code": code}, headers=cluster.bearer())
                for http in cluster.routes()
            )
        )
    )


def winners(responses: list[httpx.Response]) -> int:
    """How many answers accepted the code; every other answer is a Clerk-format 4xx, never 5xx or 401."""
    for response in responses:
        if response.status_code != 200:
            assert 400 <= response.status_code < 500, (response.status_code, response.text)
            assert response.status_code != 401, response.text
            assert response.json()["errors"][0]["code"], response.text
    return [response.status_code for response in responses].count(200)


async def totp_trials(cluster: Cluster, user: MFAUser, deadline: float) -> tuple[int, int]:
    """Races with the codes of this window's time steps, each step once: ``(counted trials, violations)``.

    A trial whose code left the ±1 window while the requests ran is not counted (no winner is then
    right too), but it must never have two winners.
    """
    trials = violations = 0
    while time.monotonic() < deadline:
        target = max(current_step() - 1, user.last_step + 1)
        if target > current_step() + 1:
            break
        won = winners(await race(cluster, user, totp_code(user.secret, at=target * PERIOD)))
        user.last_step = target
        if won > 1 or (won != 1 and current_step() <= target + 1):
            violations += 1
        elif current_step() <= target + 1:
            trials += 1
    return trials, violations


async def backup_code_trials(cluster: Cluster, user: MFAUser, count: int) -> tuple[int, int]:
    results = [winners(await race(cluster, user, code)) for code in user.codes[:count]]
    return len(results), sum(1 for won in results if won != 1)


class TestRacesAcrossProcesses:
    async def test_each_totp_step_and_backup_code_is_accepted_once(self, cluster: Cluster) -> None:
        """At least 200 races of each kind, one code sent at once to all three servers (four requests):
        exactly one request wins each race."""
        rng = random.Random(9)
        deadline = time.monotonic() + BUDGET_SECONDS
        users = await asyncio.gather(*(create_mfa_user(cluster, rng, n) for n in range(USERS)))
        totp = await asyncio.gather(*(totp_trials(cluster, user, deadline) for user in users))
        backup = await asyncio.gather(*(backup_code_trials(cluster, user, 3) for user in users))
        assert sum(violations for _, violations in totp) == 0
        assert sum(violations for _, violations in backup) == 0
        assert sum(trials for trials, _ in backup) >= 200
        assert sum(trials for trials, _ in totp) >= 200, "too few TOTP races stayed inside their window"


class TestSharedState:
    async def test_the_lockout_counter_is_shared(self, cluster: Cluster) -> None:
        """Wrong codes spread over the servers lock the user after ``LOCKOUT_MAX_ATTEMPTS`` in total; then
        a right code is refused by every server."""
        user = await create_mfa_user(cluster, random.Random(11), 1000)
        routes = cluster.routes()
        for attempt in range(LOCKOUT_MAX_ATTEMPTS - 1):
            wrong = await routes[attempt % 4].post(
                f"/v1/users/{user.user_id}/verify_totp", data={"code": "000000"}, headers=cluster.bearer()
            )
            assert wrong.status_code == 422, wrong.text
        last = await routes[1].post(
            f"/v1/users/{user.user_id}/verify_totp", data={"code": "000000"}, headers=cluster.bearer()
        )
        assert (last.status_code, last.json()["errors"][0]["code"]) == (403, "user_locked"), last.text
        for http in cluster.clients:
            right = await http.post(
                f"/v1/users/{user.user_id}/verify_totp",
                data={"code": totp_code(user.secret, at=time.time())},
                headers=cluster.bearer(),
            )
            assert right.status_code == 403, right.text

    async def test_a_lock_in_one_process_is_seen_by_the_next_request_in_another(self, cluster: Cluster) -> None:
        user = await create_mfa_user(cluster, random.Random(12), 1001)
        locked = await cluster.clients[0].post(f"/v1/users/{user.user_id}/lock", headers=cluster.bearer())
        assert locked.status_code == 200, locked.text
        for http in cluster.clients[1:]:
            refused = await http.post(
                f"/v1/users/{user.user_id}/verify_totp", data={"code": user.codes[0]}, headers=cluster.bearer()
            )
            assert (refused.status_code, refused.json()["errors"][0]["code"]) == (403, "user_locked"), refused.text

    async def test_rate_limits_are_shared(self, cluster: Cluster) -> None:
        """One caller's sign-in attempts spread over the servers: ``RATE_LIMIT`` in total, then 429 from all."""
        ip = fresh_ip()
        statuses = []
        for attempt in range(RATE_LIMIT + 3):
            response = await cluster.routes()[attempt % 4].post(
                "/v1/client/sign_ins",
                params={"_is_native": "1"},
                data={"identifier": "nobody@example.com", "password": "not the password"},
                headers={"Authorization": "", **ip},
            )
            statuses.append(response.status_code)
        assert statuses[:RATE_LIMIT] == [422] * RATE_LIMIT, statuses
        assert statuses[RATE_LIMIT:] == [429] * 3, statuses

    async def test_a_sign_out_in_one_process_is_seen_by_the_next_request_in_another(
        self, cluster: Cluster, native_device: Any
    ) -> None:
        email = f"signout.{random.Random(13).getrandbits(32)}@example.com"
        created = await cluster.clients[1].post(
            "/v1/users", json={"email_address": [email], "password": PASSWORD}, headers=cluster.bearer()
        )
        assert created.status_code == 200, created.text
        device = native_device(cluster.clients[0])
        signed_in = await device.post(
            "/v1/client/sign_ins", data={"identifier": email, "password": PASSWORD}, headers=fresh_ip()
        )
        assert signed_in.status_code == 200, signed_in.text
        session_id = signed_in.json()["response"]["created_session_id"]
        for http in cluster.clients[1:]:
            device.http = http
            assert (await device.get("/v1/me")).status_code == 200
        device.http = cluster.clients[2]
        ended = await device.post(f"/v1/client/sessions/{session_id}/end")
        assert ended.status_code == 200, ended.text
        for http in cluster.clients[:2]:
            device.http = http
            me = await device.get("/v1/me")
            assert me.status_code == 401, me.text


def worker_pids(parent: int) -> list[int]:
    """The PIDs of the child processes of ``parent`` (uvicorn's workers), from /proc."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                children.append(int(entry.name))
    return children


class TestCrashSafety:
    async def test_sigkill_of_a_worker_under_load_loses_no_acknowledged_write(self, cluster: Cluster) -> None:
        """Users are created concurrently through the ``--workers 4`` server while one of its workers is
        killed with SIGKILL; every user whose creation was answered 200 exists afterwards."""
        third = cluster.servers[2]
        workers = worker_pids(third.process.pid)
        assert len(workers) >= 4, workers
        acknowledged: list[str] = []
        counter = itertools.count()
        enough = asyncio.Event()

        async def writer() -> None:
            for _ in range(15):
                email = f"crash{next(counter)}.{os.getpid()}@example.com"
                try:
                    response = await cluster.clients[2].post(
                        "/v1/users", json={"email_address": [email]}, headers=cluster.bearer()
                    )
                except httpx.TransportError:
                    continue  # not acknowledged: the worker died with the connection
                if response.status_code == 200:
                    acknowledged.append(response.json()["id"])
                    if len(acknowledged) >= 10:
                        enough.set()

        load = asyncio.gather(*(writer() for _ in range(8)))
        await asyncio.wait_for(enough.wait(), timeout=120)
        os.kill(random.Random(14).choice(workers), signal.SIGKILL)
        await load
        assert len(acknowledged) >= 10
        for user_id in acknowledged:
            found = await cluster.clients[0].get(f"/v1/users/{user_id}", headers=cluster.bearer())
            assert found.status_code == 200, found.text
        assert third.is_alive(), third.log_tail()
