"""Anonymous growth: creating clients and dev browsers is rate-limited, and leftovers expire.

The flood tests count rows in the real SQLite file; the sweep tests move the fake clock past the
configured lifetimes and sweep (directly, from the plugin's lifespan, and with ``totpkit gc``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.services.expiry import sweep_expired
from totpkit_server.storage.records import ClientRecord, SessionRecord, SignInRecord, SweepCounts, UserRecord
from totpkit_server.storage.sqlite import SQLiteStore

HOUR = 3600
DAY = 24 * HOUR
PASSWORD = "correct horse battery staple"
TABLES = ("users", "clients", "sessions", "sign_ins", "dev_browsers", "rate_limits", "audit_events")


def rows(path: Path) -> dict[str, int]:
    """Row count of every table a sweep could touch (and of those it must not)."""
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in TABLES}  # noqa: S608


def column(path: Path, sql: str, *params: Any) -> set[Any]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute(sql, params)}


async def sweep(config: TOTPKitConfig) -> SweepCounts:
    """One sweep by the config's clock, through a second connection to the app's database."""
    async with SQLiteStore(config.sqlite_path) as store:
        return await sweep_expired(store, config)


def assert_too_many(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["errors"][0]["code"] == "too_many_requests"
    assert 1 <= int(response.headers["retry-after"]) <= 60


class TestCreationLimit:
    @pytest.fixture
    def config(self, make_config: Callable[..., TOTPKitConfig]) -> TOTPKitConfig:
        return make_config(rate_limit_creations_per_ip=5, rate_limit_window=60, sweep_interval=0)

    async def test_put_client_flood_gets_429_and_creates_nothing(self, kit: Any) -> None:
        """Five new clients per window from one address; the sixth is refused until the next window."""
        for _ in range(5):
            assert (await kit.device().request("PUT", "/v1/client")).status_code == 200
        before = rows(kit.config.sqlite_path)
        assert before["clients"] == 5
        assert_too_many(await kit.device().request("PUT", "/v1/client"))
        assert_too_many(await kit.device().post("/v1/client"))
        assert_too_many(await kit.http.post("/v1/dev_browser"))
        after = rows(kit.config.sqlite_path)
        assert {**after, "rate_limits": 0} == {**before, "rate_limits": 0}
        kit.clock.advance(60)
        assert (await kit.device().request("PUT", "/v1/client")).status_code == 200

    async def test_existing_clients_are_not_charged(self, kit: Any) -> None:
        """A caller that has its client gets it back as is, also while its address may create no more."""
        device = kit.device()
        assert (await device.request("PUT", "/v1/client")).status_code == 200
        for _ in range(4):
            assert (await kit.http.post("/v1/dev_browser")).status_code == 200
        assert_too_many(await kit.http.post("/v1/dev_browser"))
        again = await device.request("PUT", "/v1/client")
        assert again.status_code == 200, again.text
        assert rows(kit.config.sqlite_path)["clients"] == 1

    async def test_first_sign_in_is_charged_for_its_client(self, kit: Any) -> None:
        """The implicit client of a sign-in counts too: past the limit neither client nor sign-in is made."""
        email = kit.new_email()
        await kit.create_user(email)
        for _ in range(5):
            assert (await kit.http.post("/v1/dev_browser")).status_code == 200
        before = rows(kit.config.sqlite_path)
        _, refused = await kit.start_sign_in(email)
        assert_too_many(refused)
        after = rows(kit.config.sqlite_path)
        assert (after["clients"], after["sign_ins"], after["audit_events"]) == (
            before["clients"],
            before["sign_ins"],
            before["audit_events"],
        )

    def test_the_limit_is_on_by_default(self) -> None:
        assert TOTPKitConfig().rate_limit_creations_per_ip > 0


class TestSweep:
    @pytest.fixture
    def config(self, make_config: Callable[..., TOTPKitConfig]) -> TOTPKitConfig:
        return make_config(idle_lifetime=HOUR, sweep_interval=0)

    async def test_expired_rows_go_and_live_ones_stay(self, kit: Any) -> None:
        path = kit.config.sqlite_path
        enrolled = await kit.enrolled_user()  # a client with an active session
        plain_email, ended = await kit.user_and_device()
        assert (await ended.delete("/v1/client")).status_code == 200  # its session ended
        anonymous = kit.device()
        assert (await anonymous.request("PUT", "/v1/client")).status_code == 200
        unbound = (await kit.http.post("/v1/dev_browser")).json()["id"]
        bound = (await kit.http.post("/v1/dev_browser")).json()["id"]
        signed_in = await kit.http.post(
            "/v1/client/sign_ins",
            params={"__clerk_db_jwt": bound},
            data={"identifier": plain_email, "password": PASSWORD},
        )
        assert signed_in.json()["response"]["status"] == "complete", signed_in.text
        reissued = signed_in.headers["clerk-db-jwt"]  # the sign-in moved to a new client and dev browser
        pending_device, pending_sign_in = await kit.second_factor_sign_in(enrolled.email)
        before = rows(path)

        kit.clock.advance(2 * HOUR)  # past idle_lifetime; before the sign-in's abandon_at and any expire_at
        counts = await sweep(kit.config)
        # the ended session, the anonymous client and the dev-browser sign-in's first client, which the
        # completed sign-in left empty (the signed-out one keeps its sign-in until abandon_at); the unbound
        # dev browser and the one that was bound to that emptied client
        assert counts == SweepCounts(sessions=1, clients=2, dev_browsers=2, rate_limits=before["rate_limits"])
        after = rows(path)
        assert after["users"] == before["users"]
        assert after["audit_events"] == before["audit_events"]
        assert column(path, "SELECT COUNT(*) FROM dev_browsers WHERE client_id IS NOT NULL") == {1}
        assert (await enrolled.device.get("/v1/me")).status_code == 200
        live = await kit.http.get("/v1/me", params={"__clerk_db_jwt": reissued})
        assert live.status_code == 200, live.text
        pending = await pending_device.get(f"/v1/client/sign_ins/{pending_sign_in}")
        assert pending.status_code == 200, pending.text
        gone = await anonymous.get("/v1/client")
        assert gone.status_code == 200
        assert gone.json()["response"] is None
        dropped = await kit.http.get("/v1/client", params={"__clerk_db_jwt": unbound})
        kit.error(dropped, 401, "dev_browser_unauthenticated")

        kit.clock.advance(DAY)  # past every sign-in's abandon_at: they go, then the clients left with nothing
        counts = await sweep(kit.config)
        assert (counts.sign_ins, counts.sessions, counts.clients) == (4, 0, 2)
        kit.error(await pending_device.get(f"/v1/client/sign_ins/{pending_sign_in}"), 404, "resource_not_found")
        assert (await enrolled.device.get("/v1/me")).status_code == 200

        kit.clock.advance(8 * DAY)  # every session expired more than idle_lifetime ago
        counts = await sweep(kit.config)
        assert (counts.sessions, counts.clients, counts.dev_browsers) == (2, 2, 1)
        after = rows(path)
        assert {table: after[table] for table in ("clients", "sessions", "sign_ins", "dev_browsers")} == dict.fromkeys(
            ("clients", "sessions", "sign_ins", "dev_browsers"), 0
        )
        assert after["users"] == before["users"]
        assert after["audit_events"] >= before["audit_events"]
        assert await sweep(kit.config) == SweepCounts()

    async def test_recent_rows_are_kept(self, kit: Any) -> None:
        """Nothing younger than the lifetimes goes, whatever its kind."""
        await kit.device().request("PUT", "/v1/client")
        await kit.http.post("/v1/dev_browser")
        email, ended = await kit.user_and_device()
        await ended.delete("/v1/client")
        await kit.start_sign_in(email, password="a wrong password")
        kit.clock.advance(HOUR - 1)
        before = rows(kit.config.sqlite_path)
        counts = await sweep(kit.config)
        assert counts.total == counts.rate_limits
        assert {**rows(kit.config.sqlite_path), "rate_limits": 0} == {**before, "rate_limits": 0}


@asynccontextmanager
async def running(config: TOTPKitConfig) -> AsyncIterator[tuple[Litestar, httpx.AsyncClient]]:
    """The app with its lifespan entered in this task, and an in-loop client."""
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
        yield app, http


def sweep_tasks() -> list[asyncio.Task[Any]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "totpkit-expiry-sweep" and not task.done()]


class TestLifespanSweeps:
    async def test_lifespan_sweeps_with_the_injected_clock_and_stops(
        self, make_config: Callable[..., TOTPKitConfig]
    ) -> None:
        """The background sweep runs every interval by the configured clock, and ends with the lifespan."""
        config = make_config(idle_lifetime=HOUR, sweep_interval=0.05)
        async with running(config) as (_, http):
            assert (
                await http.put("/v1/client", params={"_is_native": "1"}, headers={"Authorization": ""})
            ).status_code == 200
            assert len(sweep_tasks()) == 1
        assert sweep_tasks() == []
        assert rows(config.sqlite_path)["clients"] == 1
        config.clock.advance(2 * HOUR)  # type: ignore[attr-defined]
        async with running(config):
            deadline = time.monotonic() + 5
            while rows(config.sqlite_path)["clients"]:
                assert time.monotonic() < deadline, "no sweep deleted the idle client"
                await asyncio.sleep(0.01)
        assert sweep_tasks() == []

    async def test_no_sweeps_when_turned_off(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        async with running(make_config(sweep_interval=0)):
            assert sweep_tasks() == []


def gc(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """``totpkit gc --data-dir data_dir`` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "totpkit_server", "gc", "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestGcCommand:
    async def test_gc_prints_what_it_deleted(self, tmp_path: Path, make_config: Callable[..., TOTPKitConfig]) -> None:
        """``totpkit gc`` on a real data directory (real clock) deletes the idle rows and keeps the rest."""
        config = make_config(data_dir=tmp_path, clock=time.time, sweep_interval=0)
        async with running(config) as (_, http):
            native = {"params": {"_is_native": "1"}, "headers": {"Authorization": ""}}
            for _ in range(3):
                assert (await http.put("/v1/client", **native)).status_code == 200
            await http.post("/v1/dev_browser")
            body = {"email_address": ["ada@example.com"], "password": PASSWORD}
            bapi = {"Authorization": f"Bearer {config.secret_key}"}
            assert (await http.post("/v1/users", json=body, headers=bapi)).status_code == 200
            signed_in = await http.post(
                "/v1/client/sign_ins", data={"identifier": "ada@example.com", "password": PASSWORD}, **native
            )
            assert signed_in.json()["response"]["status"] == "complete"
        two_days_ms = 2 * DAY * 1000
        with sqlite3.connect(config.sqlite_path) as db:  # age the anonymous rows as two idle days would
            db.execute(
                "UPDATE clients SET updated_at = updated_at - ? WHERE id NOT IN (SELECT client_id FROM sessions)",
                (two_days_ms,),
            )
            db.execute("UPDATE dev_browsers SET created_at = created_at - ?", (two_days_ms,))
        before = rows(config.sqlite_path)
        result = await asyncio.to_thread(gc, tmp_path)
        assert result.returncode == 0, result.stderr
        assert "deleted 3 clients" in result.stdout.splitlines()
        assert "deleted 1 dev browsers" in result.stdout.splitlines()
        assert "deleted 0 sessions" in result.stdout.splitlines()
        after = rows(config.sqlite_path)
        assert (after["clients"], after["sessions"], after["users"]) == (1, 1, 1)
        assert after["audit_events"] == before["audit_events"]

    def test_gc_without_a_database_creates_none(self, tmp_path: Path) -> None:
        missing = tmp_path / "nothing-here"
        result = gc(missing)
        assert result.returncode == 2
        assert "no database" in result.stderr
        assert not missing.exists()


class TestStoreSweepContract:
    """:meth:`Store.sweep_expired` on its own: each rule at its boundary (``<=`` cut-offs, ``<`` windows)."""

    NOW = 10_000_000
    IDLE = 9_000_000

    async def test_each_rule_at_its_boundary(self, tmp_path: Path) -> None:
        now, idle = self.NOW, self.IDLE
        async with SQLiteStore(tmp_path / "sweep.db") as store:
            await store.create_user(
                UserRecord(
                    id="user_1", email="a@x.io", email_id="idn_1", password_hash=None, created_at=0, updated_at=0
                )
            )
            for client_id, updated_at in (
                ("client_idle", idle),
                ("client_recent", idle + 1),
                ("client_live", 0),
                ("client_signing_in", 0),
            ):
                await store.create_client(
                    ClientRecord(id=client_id, token_hash=client_id, created_at=0, updated_at=updated_at)
                )
            sessions = (
                ("sess_live", "active", 0, now),  # not expired yet: kept
                ("sess_expired_long_ago", "active", 0, idle),  # expired at the cut-off: deleted
                ("sess_ended_long_ago", "ended", idle, now * 2),  # ended at the cut-off: deleted
                ("sess_ended_recently", "removed", idle + 1, now * 2),  # kept
            )
            for session_id, status, updated_at, expire_at in sessions:
                await store.create_session(
                    SessionRecord(
                        id=session_id,
                        client_id="client_live",
                        user_id="user_1",
                        status=status,
                        created_at=0,
                        updated_at=updated_at,
                        last_active_at=0,
                        expire_at=expire_at,
                        abandon_at=expire_at,
                    )
                )
            for sign_in_id, abandon_at in (("sia_abandoned", now), ("sia_running", now + 1)):
                await store.create_sign_in(
                    SignInRecord(
                        id=sign_in_id,
                        client_id="client_signing_in",
                        user_id="user_1",
                        identifier="a@x.io",
                        status="needs_second_factor",
                        created_at=0,
                        updated_at=0,
                        abandon_at=abandon_at,
                    )
                )
            await store.create_dev_browser("dvb_old", idle)
            await store.create_dev_browser("dvb_new", idle + 1)
            await store.create_dev_browser("dvb_bound", 0)
            await store.bind_dev_browser("dvb_bound", "client_live")
            await store.hit_rate_limits(["ip:current"], window_start=now)
            await store.hit_rate_limits(["ip:old"], window_start=now - 60_000)  # (a process whose clock lags)

            counts = await store.sweep_expired(now=now, idle_before=idle, rate_limits_before=now)

            assert counts == SweepCounts(sign_ins=1, sessions=2, clients=1, dev_browsers=1, rate_limits=1)
            assert {s.id for s in await store.list_client_sessions("client_live")} == {
                "sess_live",
                "sess_ended_recently",
            }
            assert await store.get_sign_in("sia_abandoned") is None
            assert await store.get_sign_in("sia_running") is not None
            assert await store.get_client("client_idle") is None
            for kept in ("client_recent", "client_live", "client_signing_in"):
                assert await store.get_client(kept) is not None, kept
            assert await store.get_dev_browser("dvb_old") == (False, None)
            assert await store.get_dev_browser("dvb_new") == (True, None)
            assert await store.get_dev_browser("dvb_bound") == (True, "client_live")
            assert await store.get_user("user_1") is not None
            assert await store.sweep_expired(now=now, idle_before=idle, rate_limits_before=now) == SweepCounts()
