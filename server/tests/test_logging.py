"""Logs an operator can ship: JSON lines carrying ``clerk_trace_id``, and traces continued from ``traceparent``.

The trace header in-process (the answer's ``X-Clerk-Trace-Id`` and the audit event), the log format
in a real ``totpkit serve --log-format json`` process.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.core.request_context import RequestContext, TraceIdFilter, bind_request
from totpkit_server.logging_config import JsonLinesFormatter
from totpkit_server.storage.sqlite import SQLiteStore
from totpkit_server.testing import serve

BASE_URL = "http://testserver.local"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE}-00f067aa0ba902b7-01"
EMAIL = "traced@example.com"
PASSWORD = "correct horse battery staple 7"


class TestTraceparent:
    async def test_a_valid_traceparent_continues_the_callers_trace(
        self,
        kit: Any,
        client: AsyncTestClient[Litestar],
        config: TOTPKitConfig,
        native_device: Callable[[httpx.AsyncClient], Any],
    ) -> None:
        """The answer's ``X-Clerk-Trace-Id``, the error body and the audit event carry the caller's trace id."""
        await kit.create_user(EMAIL)
        async with SQLiteStore(config.sqlite_path) as store:
            seen = len(await store.list_audit_events(limit=1000))
        wrong = {"identifier": EMAIL, "password": "not the password"}
        answer = await native_device(client).post(
            "/v1/client/sign_ins", data=wrong, headers={"traceparent": TRACEPARENT}
        )
        assert answer.status_code == 422
        assert answer.headers["x-clerk-trace-id"] == TRACE
        assert answer.json()["clerk_trace_id"] == TRACE
        async with SQLiteStore(config.sqlite_path) as store:
            events = (await store.list_audit_events(limit=1000))[seen:]
        assert events
        assert {event.trace_id for event in events} == {TRACE}

    @pytest.mark.parametrize(
        "header",
        [
            f"00-{TRACE.upper()}-00f067aa0ba902b7-01",  # upper-case hex
            f"00-{'0' * 32}-00f067aa0ba902b7-01",  # all-zero trace id
            f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
            f"ff-{TRACE}-00f067aa0ba902b7-01",  # forbidden version
            f"00-{TRACE}-00f067aa0ba902b7-01-extra",  # version 00 has exactly four fields
            f"00-{TRACE[:-1]}-00f067aa0ba902b7-01",  # short trace id
            TRACE,
        ],
    )
    async def test_an_invalid_traceparent_is_ignored(
        self, make_config: Callable[..., TOTPKitConfig], header: str
    ) -> None:
        """A malformed ``traceparent`` gets a fresh trace id, never an error."""
        async with AsyncTestClient(create_app(make_config()), base_url=BASE_URL) as client:
            answer = await client.get("/v1/environment", headers={"traceparent": header})
        assert answer.status_code == 200
        assert answer.headers["x-clerk-trace-id"] != TRACE

    async def test_a_later_version_may_append_fields(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        async with AsyncTestClient(create_app(make_config()), base_url=BASE_URL) as client:
            answer = await client.get("/v1/environment", headers={"traceparent": f"01-{TRACE}-00f067aa0ba902b7-01-xyz"})
        assert answer.headers["x-clerk-trace-id"] == TRACE


class TestJsonFormatter:
    def test_a_record_is_one_json_line_with_the_trace_id(self) -> None:
        record = logging.LogRecord("totpkit.audit", logging.INFO, __file__, 1, "audit %s", ("x\ny",), None)
        with bind_request(RequestContext(trace_id=TRACE)):
            TraceIdFilter().filter(record)
        line = JsonLinesFormatter().format(record)
        assert "\n" not in line
        document = json.loads(line)
        assert document["clerk_trace_id"] == TRACE
        assert document["message"] == "audit x\ny"
        assert (document["level"], document["logger"]) == ("INFO", "totpkit.audit")
        assert document["time"].endswith("Z")


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line of ``text`` as JSON (fails on a line that is not)."""
    documents = []
    for line in text.splitlines():
        if line.strip():
            try:
                documents.append(json.loads(line))
            except json.JSONDecodeError:
                pytest.fail(f"not a JSON line: {line!r}\n{text}")
    return documents


class TestJsonLogsOfAServer:
    async def test_every_line_is_json_and_request_lines_carry_the_callers_trace(
        self, tmp_path: Path, native_device: Callable[[httpx.AsyncClient], Any]
    ) -> None:
        """``TOTPKIT_LOG_FORMAT=json``: the banner, uvicorn's and totpkit's records are JSON lines; the
        audit record of a request sent with ``traceparent`` carries that trace id."""
        env = {**os.environ, "TOTPKIT_LOG_FORMAT": "json"}
        with serve(tmp_path / "data", env=env, ready_timeout=60) as server:
            bapi = {"Authorization": f"Bearer {server.secret_key}"}
            async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as http:
                created = await http.post(
                    "/v1/users", json={"email_address": [EMAIL], "password": PASSWORD}, headers=bapi
                )
                assert created.status_code == 200
                device = native_device(http)
                wrong = {"identifier": EMAIL, "password": PASSWORD + "x"}
                answer = await device.post("/v1/client/sign_ins", data=wrong, headers={"traceparent": TRACEPARENT})
                assert answer.status_code == 422
        records = json_lines(server.log_path.read_text())
        assert any(r["logger"] == "totpkit.serve" and r["message"].startswith("totpkit listening on") for r in records)
        assert any(r["logger"].startswith("uvicorn") for r in records)
        traced = [r for r in records if r["clerk_trace_id"] == TRACE]
        assert traced, records
        assert all(r["logger"].startswith("totpkit") for r in traced)
        assert all("clerk_trace_id" in r for r in records)


_CONFIGURE_LIKE_SERVE = """
import logging, logging.config, sys
from pathlib import Path
from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.logging_config import serve_log_config
create_app(TOTPKitConfig(data_dir=Path(sys.argv[1])))  # Litestar configures its text logging here
logging.config.dictConfig(serve_log_config("info", "json"))  # then uvicorn applies totpkit's
logging.getLogger("litestar").error("from litestar")
logging.getLogger("some.library").warning("from a library")
logging.getLogger("uvicorn.error").info("from uvicorn")
logging.getLogger("totpkit.audit").info("from totpkit")
"""


def test_json_format_covers_litestar_and_library_loggers(tmp_path: Path) -> None:
    """Records of Litestar's logger and of libraries (root) are JSON lines too, not Litestar's text format."""
    result = subprocess.run(
        [sys.executable, "-c", _CONFIGURE_LIKE_SERVE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    records = json_lines(result.stderr + result.stdout)
    assert [r["message"] for r in records] == ["from litestar", "from a library", "from uvicorn", "from totpkit"]
    assert all(r["clerk_trace_id"] is None for r in records)
