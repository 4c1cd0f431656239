"""Rate limits and lockout of a real ``totpkit serve`` process.

Both live in the database, so a restarted process on the same data directory still refuses; and the
caller's address is the connection's peer unless ``--trusted-proxy-header`` says otherwise (uvicorn's
own ``X-Forwarded-For`` handling, on by default for 127.0.0.1, must not let a local caller pick its
bucket). The processes use the real clock: windows are a day long, so a test of a few seconds stays
inside one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from totpkit.otp import totp_code
from totpkit_server.testing import serve

DAY = 24 * 3600
EMAIL = "throttled@example.com"
PASSWORD = "correct horse battery staple 9"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def wrong_code_now() -> str:
    """A code that matches no time step within ±2 of the real clock."""
    now = time.time()
    valid = {totp_code(SECRET, at=now + steps * 30) for steps in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in valid)


async def sign_in(device: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return await device.post("/v1/client/sign_ins", data={"identifier": EMAIL, "password": PASSWORD}, headers=headers)


async def test_limits_and_lockout_survive_a_restart(
    tmp_path: Path, native_device: Callable[[httpx.AsyncClient], Any]
) -> None:
    """Lock a user and use up the address's 14 requests, each probe with a different spoofed
    X-Forwarded-For; after a restart the address is still refused and the user still locked."""
    data_dir = tmp_path / "data"
    args = ["--rate-limit-per-ip", "14", "--rate-limit-window", str(DAY)]
    day = int(time.time()) // DAY
    with serve(data_dir, args=args) as server:
        bapi = {"Authorization": f"Bearer {server.secret_key}"}
        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as http:
            body = {"email_address": [EMAIL], "password": PASSWORD, "totp_secret": SECRET}
            user_id = (await http.post("/v1/users", json=body, headers=bapi)).json()["id"]
            device = native_device(http)
            sign_in_id = (await sign_in(device)).json()["response"]["id"]  # request 1
            path = f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor"
            wrong = {"strategy": "totp", "code": wrong_code_now()}
            statuses = [(await device.post(path, data=wrong)).status_code for _ in range(10)]  # requests 2-11
            assert statuses == [422] * 9 + [403]
            spoofed = [{"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"203.0.113.{n}"} for n in range(4)]
            statuses = [(await sign_in(native_device(http), headers)).status_code for headers in spoofed]
            assert statuses == [403, 403, 403, 429]  # requests 12-14 are counted for 127.0.0.1, the 15th refused
        assert server.is_alive()
    with serve(data_dir, args=args) as server:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as http:
            refused = await sign_in(native_device(http))
            assert refused.status_code == 429, refused.text
            assert 1 <= int(refused.headers["retry-after"]) <= DAY
            user = (await http.get(f"/v1/users/{user_id}", headers=bapi)).json()
            assert user["locked"] is True
            assert 3000 < user["lockout_expires_in_seconds"] <= 3600
    assert int(time.time()) // DAY == day, "the test straddled a rate-limit window; run it again"


async def test_trusted_proxy_header_from_the_command_line(
    tmp_path: Path, native_device: Callable[[httpx.AsyncClient], Any]
) -> None:
    """``--trusted-proxy-header x-forwarded-for``: each forwarded address has its own bucket."""
    args = ["--rate-limit-per-ip", "2", "--rate-limit-window", str(DAY), "--trusted-proxy-header", "X-Forwarded-For"]
    with serve(tmp_path / "data", args=args) as server:
        async with httpx.AsyncClient(base_url=server.url, trust_env=False, timeout=30) as http:
            first = [{"X-Forwarded-For": "spoof, 198.51.100.7"}] * 3
            statuses = [(await sign_in(native_device(http), headers)).status_code for headers in first]
            assert statuses == [422, 422, 429]
            other = await sign_in(native_device(http), {"X-Forwarded-For": "198.51.100.8"})
            assert other.status_code == 422, other.text
