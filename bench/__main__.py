"""``python -m bench``: throughput of the second-factor step with N worker processes against one.

    python -m bench [--backend sqlite|postgres] [--workers 1,2] [--duration 5] [--connections 32] [--smoke]

For each worker count, in one run: a fresh database (PostgreSQL: a database created through
``TOTPKIT_TEST_POSTGRES_DSN`` and dropped after; SQLite: a new file), ``totpkit serve --workers N`` on
127.0.0.1, users created through the Backend API, each with ten backup codes, then ``wrk`` sends
``POST /v1/users/{id}/verify_totp`` with a not-yet-used backup code per request (the second-factor
check of a sign-in: lockout check, constant-time digest comparison, one atomic consume, the audit
append) for ``--duration`` seconds. The table gives requests per second and the ratio to the first
worker count. The run fails (exit 1) if any request did not succeed. ``--smoke`` is a short run for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from totpkit_server.testing import (
    POSTGRES_DSN_VARIABLE,
    RunningServer,
    fresh_postgres_schema,
    postgres_test_database,
    serve,
)

LUA_SCRIPT = Path(__file__).with_name("second_factor.lua")
CODES_PER_USER = 10
WRK = "/usr/bin/wrk"


@dataclass(frozen=True)
class Result:
    """One measured configuration."""

    workers: int
    requests: int
    seconds: float
    failures: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--duration", type=int, default=5, help="seconds of load per worker count (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (default 32)")
    parser.add_argument("--capacity", type=int, default=800, help="most requests per second prepared for (default 800)")
    parser.add_argument("--smoke", action="store_true", help="a two-second run per worker count (CI)")
    args = parser.parse_args(argv)
    args.worker_counts = [int(n) for n in args.workers.split(",") if n.strip()]
    if args.smoke:
        args.duration, args.capacity = 2, 600
    return args


@contextlib.contextmanager
def _database(backend: str) -> Iterator[str | None]:
    """A ``--database-url`` for one run (``None``: SQLite in the data directory)."""
    if backend == "sqlite":
        yield None
        return
    admin = os.environ.get(POSTGRES_DSN_VARIABLE)
    if not admin:
        raise SystemExit(f"--backend postgres needs {POSTGRES_DSN_VARIABLE}=postgresql://user@host:port/db")
    with postgres_test_database(admin) as dsn:
        yield fresh_postgres_schema(dsn)


async def _prepare(server: RunningServer, users: int) -> str:
    """Create ``users`` users (ten backup codes each); returns one request line per code."""
    headers = {"Authorization": f"Bearer {server.secret_key}"}
    limits = asyncio.Semaphore(16)

    async def create(http: httpx.AsyncClient, n: int) -> list[str]:
        codes = [f"bench{n}code{i}" for i in range(CODES_PER_USER)]
        body = {"email_address": [f"bench{n}@example.com"], "backup_codes": codes, "totp_secret": "JBSWY3DPEHPK3PXP"}
        async with limits:
            response = await http.post("/v1/users", json=body, headers=headers)
        response.raise_for_status()
        user_id = response.json()["id"]
        return [f"/v1/users/{user_id}/verify_totp\tcode={code}" for code in codes]

    async with httpx.AsyncClient(base_url=server.url, timeout=120, trust_env=False) as http:
        batches = await asyncio.gather(*(create(http, n) for n in range(users)))
    # Interleave users so that concurrent requests mostly concern different users.
    lines = [batch[i] for i in range(CODES_PER_USER) for batch in batches]
    return "\n".join(lines) + "\n"


def _run_wrk(server: RunningServer, requests_file: Path, args: argparse.Namespace) -> tuple[int, float, int]:
    """``(requests, seconds, failures)`` of one bounded wrk run."""
    env = {**os.environ, "TOTPKIT_BENCH_REQUESTS": str(requests_file), "TOTPKIT_BENCH_SECRET_KEY": server.secret_key}
    command = [WRK, "-t1", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "30s"]
    command += ["-s", str(LUA_SCRIPT), server.url]
    done = subprocess.run(  # noqa: S603 - a fixed program with arguments made here
        command, capture_output=True, text=True, env=env, timeout=args.duration + 60, check=True
    )
    out = done.stdout
    match = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if match is None:
        raise SystemExit(f"cannot read wrk's output:\n{out}\n{done.stderr}")
    seconds = float(match.group(2)) / (1000 if match.group(3) == "ms" else 1)
    failures = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        failures += sum(int(n) for n in socket_errors.groups())
    if failures:
        print(out, file=sys.stderr)
    return int(match.group(1)), seconds, failures


def _measure(workers: int, args: argparse.Namespace, scratch: Path) -> Result:
    users = max(1, args.capacity * args.duration // CODES_PER_USER)
    data_dir = scratch / f"workers-{workers}" / "data"
    with _database(args.backend) as url:
        extra = ["--workers", str(workers), "--rate-limit-per-ip", "0", "--rate-limit-per-client", "0"]
        if url is not None:
            extra += ["--database-url", url]
        env = {name: value for name, value in os.environ.items() if not name.startswith("TOTPKIT_")}
        with serve(data_dir, args=[*extra, "--log-level", "warning"], env=env, ready_timeout=180) as server:
            requests_file = scratch / f"requests-{workers}.txt"
            requests_file.write_text(asyncio.run(_prepare(server, users)), "utf-8")
            sent, seconds, failures = _run_wrk(server, requests_file, args)
            if sent > users * CODES_PER_USER:  # the list wrapped: the excess were replays
                raise SystemExit(f"{sent} requests exceed the {users * CODES_PER_USER} prepared; raise --capacity")
    return Result(workers, sent, seconds, failures)


def _table(results: list[Result], backend: str) -> str:
    base = results[0].rate or 1.0
    lines = [f"second-factor step, backend {backend} ({os.cpu_count()} cores)", "workers  req/s    ratio  failed"]
    lines += [f"{r.workers:>7}  {r.rate:>7.1f}  {r.rate / base:>5.2f}  {r.failures:>6}" for r in results]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 when every request of every run succeeded."""
    args = _parse_args(argv)
    if shutil.which(WRK) is None:
        raise SystemExit(f"the benchmark needs wrk at {WRK} (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="totpkit-bench-") as scratch:
        results = [_measure(workers, args, Path(scratch)) for workers in args.worker_counts]
    print(_table(results, args.backend), flush=True)
    return 1 if any(r.failures for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
