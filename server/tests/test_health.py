"""``GET /healthz`` and ``GET /readyz``: liveness and readiness under the plugin's path prefix.

In-process against the real app and a real SQLite file; the readiness failures are real ones (a
closed database, a schema one migration behind), not mocks.
"""

from __future__ import annotations

from collections.abc import Callable

import aiosqlite
from litestar.testing import AsyncTestClient

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.http.deps import INSTANCE_STATE_KEY
from totpkit_server.services import Instance
from totpkit_server.storage._sqlite_migrations import MIGRATIONS
from totpkit_server.storage.sqlite import SQLiteStore

BASE_URL = "http://testserver.local"


async def audit_event_count(config: TOTPKitConfig) -> int:
    async with SQLiteStore(config.sqlite_path) as store:
        return len(await store.list_audit_events(limit=1000))


class TestHealth:
    async def test_probes_answer_under_the_path_prefix(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """Both probes are mounted under ``path_prefix`` and answer 200 with a small JSON body."""
        config = make_config(path_prefix="/auth")
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as client:
            live = await client.get("/auth/healthz")
            ready = await client.get("/auth/readyz")
            assert (await client.get("/healthz")).status_code == 404
        assert live.status_code == 200
        assert live.json() == {"status": "ok"}
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "schema_version": len(MIGRATIONS)}

    async def test_probes_are_not_rate_limited_and_leave_no_trace(
        self, make_config: Callable[..., TOTPKitConfig]
    ) -> None:
        """Many probes from one address under a limit of 1 request: all 200, no cookie, no client, no audit event."""
        config = make_config(rate_limit_per_ip=1, rate_limit_per_client=1)
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as client:
            before = await audit_event_count(config)
            answers = [await client.get(path) for path in ("/healthz", "/readyz") * 10]
            assert await audit_event_count(config) == before
        assert {answer.status_code for answer in answers} == {200}
        assert not any("set-cookie" in answer.headers for answer in answers)
        async with aiosqlite.connect(config.sqlite_path) as db, db.execute("SELECT COUNT(*) FROM clients") as cursor:
            assert await cursor.fetchone() == (0,)

    async def test_not_ready_when_the_schema_is_behind(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """A database one migration behind this code: ``/readyz`` 503 (Clerk's format), ``/healthz`` still 200."""
        config = make_config()
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as client:
            async with aiosqlite.connect(config.sqlite_path) as db:
                await db.execute("DELETE FROM schema_migrations WHERE version = ?", (len(MIGRATIONS),))
                await db.commit()
            ready = await client.get("/readyz")
            live = await client.get("/healthz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["errors"][0]["code"] == "service_unavailable"
        assert f"version {len(MIGRATIONS) - 1}" in body["errors"][0]["long_message"]
        assert body["clerk_trace_id"] == ready.headers["x-clerk-trace-id"]
        assert live.status_code == 200

    async def test_not_ready_when_the_database_does_not_answer(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """A closed database connection: ``/readyz`` 503, never a 500."""
        config = make_config()
        app = create_app(config)
        async with AsyncTestClient(app, base_url=BASE_URL) as client:
            instance = app.state[INSTANCE_STATE_KEY]
            assert isinstance(instance, Instance)
            await instance.store.close()
            ready = await client.get("/readyz")
            await instance.store.open()
        assert ready.status_code == 503
        assert ready.json()["errors"][0]["code"] == "service_unavailable"
