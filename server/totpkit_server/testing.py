"""Run a real ``totpkit serve`` process from tests: on 127.0.0.1, a free port, stopped by its PID.

For tests that are about the process (the CLI, clerk-js against a real server, your own
end-to-end tests); everything else is faster in-process with ``litestar.testing.AsyncTestClient``.

Usage::

    user_id = create_user(tmp_path, "jane@example.com", "correct horse battery")
    with serve(tmp_path) as server:
        httpx.get(f"{server.url}/v1/environment")
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = (
    "POSTGRES_DSN_VARIABLE",
    "RunningServer",
    "ServerProcessError",
    "create_user",
    "free_port",
    "fresh_postgres_schema",
    "postgres_test_database",
    "seeded_random",
    "serve",
)

POSTGRES_DSN_VARIABLE = "TOTPKIT_TEST_POSTGRES_DSN"
"""Where tests find a PostgreSQL server they may create databases on (``postgresql://user@host:port/db``)."""

LOCALHOST = "127.0.0.1"
_COMMAND = (sys.executable, "-m", "totpkit_server")


class ServerProcessError(RuntimeError):
    """The server process did not start, died, or a CLI command failed (the message has its output)."""


@dataclass(frozen=True)
class RunningServer:
    """A started ``totpkit serve`` process."""

    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def is_alive(self) -> bool:
        """Whether the process is still running."""
        return self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` lines of the process's output."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no server log>"

    @property
    def secret_key(self) -> str:
        """The Backend API key of a server started with generated development keys."""
        document = json.loads((self.data_dir / "keys.json").read_text("utf-8"))
        return str(document["secret_key"])


def seeded_random(seed: bytes = b"seed") -> Callable[[int], bytes]:
    """A deterministic ``random_bytes`` for ``TOTPKitConfig`` in tests (SHA-256 in counter mode).

    The same seed gives the same bytes, so secrets, codes, ids and nonces repeat from run to run.
    Never use it outside tests.
    """
    counter = 0

    def random_bytes(n: int) -> bytes:
        nonlocal counter
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + counter.to_bytes(8, "big")).digest()
            counter += 1
        return out[:n]

    return random_bytes


def free_port(host: str = LOCALHOST) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def create_user(data_dir: Path, email: str, password: str, *, timeout: float = 60.0) -> str:
    """``totpkit create-user`` in a child process; returns the new user's id.

    Creates ``data_dir`` first if needed (``create-user`` itself refuses to make a new one).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [*_COMMAND, "create-user", "--data-dir", str(data_dir), "--email", email, "--password", password],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    ids = [word for word in result.stdout.split() if word.startswith("user_")]
    if result.returncode != 0 or not ids:
        raise ServerProcessError(f"create-user failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return ids[0]


@contextmanager
def serve(
    data_dir: Path,
    *,
    port: int | None = None,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    ready_timeout: float = 60.0,
    stop_timeout: float = 10.0,
) -> Iterator[RunningServer]:
    """Start ``totpkit serve`` on 127.0.0.1 and wait until ``GET /v1/environment`` answers 200.

    On leaving, the process is terminated by its PID (killed if it does not stop within
    ``stop_timeout``). :class:`ServerProcessError` if it exits early or is not ready in time.
    """
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"totpkit-serve-{port}.log"
    command = [*_COMMAND, "serve", "--host", LOCALHOST, "--port", str(port), "--data-dir", str(data_dir), *args]
    with log_path.open("wb") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**(env if env is not None else os.environ), "PYTHONUNBUFFERED": "1"},
        )
    server = RunningServer(url=f"http://{LOCALHOST}:{port}", data_dir=data_dir, log_path=log_path, process=process)
    try:
        _wait_ready(server, ready_timeout)
        yield server
    finally:
        _stop(process, stop_timeout)


def _wait_ready(server: RunningServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no attempt"
    with httpx.Client(trust_env=False, timeout=2.0) as probe:
        while time.monotonic() < deadline:
            if not server.is_alive():
                raise ServerProcessError(
                    f"totpkit serve exited with {server.process.returncode} before it was ready:\n{server.log_tail()}"
                )
            try:
                response = probe.get(f"{server.url}/v1/environment")
            except httpx.TransportError as exc:
                last_error = repr(exc)
            else:
                if response.status_code == 200:
                    return
                last_error = f"HTTP {response.status_code}"
            time.sleep(0.1)
    raise ServerProcessError(f"totpkit serve not ready within {timeout} s ({last_error}):\n{server.log_tail()}")


def _stop(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


# --- PostgreSQL ----------------------------------------------------------------------------------


def _with_query(dsn: str, **params: str) -> str:
    parts = urllib.parse.urlsplit(dsn)
    query = urllib.parse.urlencode([*urllib.parse.parse_qsl(parts.query), *params.items()])
    return urllib.parse.urlunsplit(parts._replace(query=query))


async def _admin(dsn: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@contextmanager
def postgres_test_database(admin_dsn: str) -> Iterator[str]:
    """Create a new database through ``admin_dsn``; yields its DSN and drops it (and its connections) after.

    Call it outside a running event loop (e.g. from a session-scoped synchronous fixture).
    """
    name = f"totpkit_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield urllib.parse.urlunsplit(urllib.parse.urlsplit(admin_dsn)._replace(path=f"/{name}"))
    finally:
        asyncio.run(_admin(admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def fresh_postgres_schema(database_dsn: str) -> str:
    """A new, empty schema in ``database_dsn``; returns a DSN whose connections use it (``search_path``).

    Gives each test an empty database at the cost of one ``CREATE SCHEMA``. Call it outside a running
    event loop.
    """
    schema = f"t_{secrets.token_hex(6)}"
    asyncio.run(_admin(database_dsn, f'CREATE SCHEMA "{schema}"'))
    return _with_query(database_dsn, search_path=schema)
