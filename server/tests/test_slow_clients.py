"""Clients that hang up mid-body, and bodies that drip in too slowly.

A hang-up is not a server error: the real server process logs one quiet line (no ERROR, no
traceback) and answers nothing. A body that has not arrived within ``request_body_timeout`` gets a
Clerk-format 408 with ``Connection: close``; in-process, an ASGI ``receive`` that stalls forever
stands in for the slow client, so no test waits for the real bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.testing import serve

SIGN_IN = "/v1/client/sign_ins"
HANG_UP_LINE = "client disconnected before the request body was complete"


def request_head(host: str, content_length: int) -> bytes:
    return (
        f"POST {SIGN_IN}?_is_native=1 HTTP/1.1\r\nHost: {host}\r\nAuthorization: \r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {content_length}\r\n\r\n"
    ).encode()


def wait_for_log(path: Path, *needles: str) -> str:
    """The server's log once it contains one of ``needles`` (fails after a few seconds)."""
    deadline = time.monotonic() + 10
    while True:
        text = path.read_text(errors="replace")
        if any(needle in text for needle in needles):
            return text
        assert time.monotonic() < deadline, f"none of {needles} in the server log:\n{text}"
        time.sleep(0.05)


def test_hang_up_mid_body_is_logged_quietly(tmp_path: Path) -> None:
    """Three clients hang up halfway through their bodies: no ERROR, no traceback, server fine."""
    with serve(tmp_path / "data") as server:
        host, port = server.url.removeprefix("http://").split(":")
        for _ in range(3):
            with socket.create_connection((host, int(port)), timeout=5) as sock:
                sock.sendall(request_head(host, 1000) + b"identifier=ada%40example.com&pass")
        log = wait_for_log(server.log_path, HANG_UP_LINE, "Traceback", "ERROR")
        with socket.create_connection((host, int(port)), timeout=5) as sock:  # still serving
            sock.sendall(b"GET /v1/environment HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 200")
        assert server.is_alive()
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert " 500 " not in log


def asgi_scope(path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"_is_native=1",
        "headers": [
            (b"host", b"testserver.local"),
            (b"authorization", b""),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", b"1000"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(config: TOTPKitConfig, after_first_chunk: Callable[[], Any]) -> list[dict[str, Any]]:
    """POST a sign-in whose body sends one chunk, then whatever ``after_first_chunk`` awaits; the sent messages."""
    app = create_app(config)
    sent: list[dict[str, Any]] = []
    first = True

    async def receive() -> dict[str, Any]:
        nonlocal first
        if first:
            first = False
            return {"type": "http.request", "body": b"identifier=ada", "more_body": True}
        return dict(await after_first_chunk())

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async with app.lifespan():
        await asyncio.wait_for(app(asgi_scope(SIGN_IN), receive, send), timeout=10)  # type: ignore[arg-type]
    return sent


async def test_a_stalled_body_gets_408_and_connection_close(make_config: Callable[..., TOTPKitConfig]) -> None:
    stalled = asyncio.Event()

    async def never() -> dict[str, Any]:
        await stalled.wait()  # never set: the rest of the body never comes
        return {"type": "http.disconnect"}

    config = make_config(request_body_timeout=0.2, sweep_interval=0)
    started = time.monotonic()
    sent = await call(config, never)
    assert time.monotonic() - started < 5
    start, body = sent[0], sent[1]
    assert start["status"] == 408
    headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    assert headers["connection"] == "close"
    answer = json.loads(body["body"])
    assert answer["errors"][0]["code"] == "request_timeout"
    assert answer["errors"][0]["long_message"] == "The request body did not arrive within 0.2 seconds."
    assert answer["clerk_trace_id"]


class Records(logging.Handler):
    """Keeps every record of the logger it is attached to."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_hang_up_sends_nothing_and_logs_no_error(make_config: Callable[..., TOTPKitConfig]) -> None:
    async def hang_up() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    records = Records()
    logger = logging.getLogger("totpkit")
    logger.addHandler(records)
    try:
        sent = await call(make_config(sweep_interval=0), hang_up)
    finally:
        logger.removeHandler(records)
    assert sent == []
    assert [r.getMessage() for r in records.records if r.levelno >= logging.WARNING] == []
    quiet = [r for r in records.records if HANG_UP_LINE in r.getMessage()]
    assert len(quiet) == 1
    assert quiet[0].exc_info is None
    assert quiet[0].levelno == logging.INFO
