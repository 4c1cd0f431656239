"""Request-rate limits of the sign-in and verification routes: per IP address and per client.

Apps here run in the test's event loop (``live_apps``), so their peer address is ``127.0.0.1``; the
fake clock decides the windows. A refused request answers 429 ``too_many_requests`` with
``Retry-After`` and never reaches its handler.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from totpkit import AsyncFrontend, RateLimitError, UnprocessableEntityError
from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.storage.sqlite import SQLiteStore

WINDOW = 60
PASSWORD = "correct horse battery staple"
TOO_MANY = {
    "message": "Too many requests",
    "long_message": "Too many requests, retry later",
    "code": "too_many_requests",
    "meta": {},
}
THROTTLED_ROUTES = {
    "sign_in_create": ("/v1/client/sign_ins", {"identifier": "nobody@example.com"}),
    "attempt_first_factor": (
        "/v1/client/sign_ins/sia_unknown/attempt_first_factor",
        {"strategy": "password", "password": "not it at all"},
    ),
    "attempt_second_factor": (
        "/v1/client/sign_ins/sia_unknown/attempt_second_factor",
        {"strategy": "totp", "code": "123456"},
    ),
    "totp_attempt_verification": ("/v1/me/totp/attempt_verification", {"code": "123456"}),
    "reverification_first_factor": (
        "/v1/client/sessions/sess_unknown/verify/attempt_first_factor",
        {"strategy": "password", "password": "not it at all"},
    ),
    "reverification_second_factor": (
        "/v1/client/sessions/sess_unknown/verify/attempt_second_factor",
        {"strategy": "totp", "code": "123456"},
    ),
}


def fresh_window(kit: Any, into: float = 0) -> None:
    """Move the fake clock to ``into`` seconds after the start of the next window."""
    kit.clock.advance(WINDOW - kit.clock.now % WINDOW + into)


async def probe(device: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """One throttled request that changes nothing: a sign-in for an identifier nobody has (422)."""
    return await device.post(
        "/v1/client/sign_ins",
        data={"identifier": "nobody@example.com", "password": "a wrong password"},
        headers=headers,
    )


def assert_too_many(response: httpx.Response, retry_after: int | None = None) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["errors"] == [TOO_MANY]
    assert response.headers["x-clerk-trace-id"]
    seconds = int(response.headers["retry-after"])
    assert 1 <= seconds <= WINDOW
    if retry_after is not None:
        assert seconds == retry_after


async def limited(live_apps: Any, make_config: Callable[..., TOTPKitConfig], **limits: Any) -> Any:
    """A running app with the given limits (the others off unless given), window ``WINDOW``."""
    settings = {"rate_limit_window": WINDOW, "rate_limit_per_ip": 0, "rate_limit_per_client": 0, **limits}
    return await live_apps.start(make_config(**settings))


def rate_limit_rows(config: TOTPKitConfig) -> int:
    with sqlite3.connect(config.sqlite_path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM rate_limits").fetchone()[0])


class TestPerAddress:
    async def test_limit_retry_after_and_window_end(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """3 requests per window from one address; the 4th is 429 until the window ends."""
        kit = await limited(live_apps, make_config, rate_limit_per_ip=3)
        fresh_window(kit, into=35)
        for _ in range(3):
            kit.error(await probe(kit.device()), 422, "form_identifier_not_found")
        assert_too_many(await probe(kit.device()), retry_after=25)
        browser = await kit.http.post(
            "/v1/client/sign_ins", data={"identifier": "x@example.com"}, headers={"Origin": "http://localhost:3000"}
        )
        assert_too_many(browser)
        assert browser.headers["access-control-allow-origin"] == "http://localhost:3000"
        assert "Retry-After" in browser.headers["access-control-expose-headers"]
        kit.clock.advance(24.5)
        assert_too_many(await probe(kit.device()), retry_after=1)
        kit.clock.advance(0.5)
        kit.error(await probe(kit.device()), 422, "form_identifier_not_found")

    @pytest.mark.parametrize("route", sorted(THROTTLED_ROUTES))
    async def test_every_sign_in_and_verification_route_is_limited(
        self, live_apps: Any, make_config: Callable[..., Any], route: str
    ) -> None:
        """Under the limit a route gives its own answer; over it, 429 before any other check."""
        kit = await limited(live_apps, make_config, rate_limit_per_ip=1)
        path, data = THROTTLED_ROUTES[route]
        fresh_window(kit)
        first = await kit.device().post(path, data=data)
        assert 400 <= first.status_code < 500, first.text
        assert first.status_code != 429, first.text
        assert_too_many(await kit.device().post(path, data=data))

    async def test_other_routes_are_not_limited(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """Reading, session and token routes never answer 429, even from an address over its limit."""
        kit = await limited(live_apps, make_config, rate_limit_per_ip=1)
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        assert_too_many(await probe(kit.device()))
        for _ in range(3):
            assert (await kit.http.get("/v1/environment")).status_code == 200
            assert (await device.get("/v1/me")).status_code == 200
            assert (await device.get("/v1/client")).status_code == 200
            tokens = await device.post(f"/v1/client/sessions/{session_id}/tokens", data={"organization_id": ""})
            assert tokens.status_code == 200, tokens.text
            assert (await kit.bapi_get_user((await device.me())["id"])).status_code == 200


class TestPerClient:
    async def test_one_client_is_limited_others_are_not(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """3 attempts per window per client; a refused attempt is not counted towards the lockout."""
        kit = await limited(live_apps, make_config, rate_limit_per_client=3)
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        fresh_window(kit)
        wrong = "000000" if kit.code(enrolled.secret) != "000000" else "111111"
        for _ in range(3):
            kit.error(await kit.attempt_second_factor(device, sign_in_id, "totp", wrong), 422)
        assert_too_many(await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret)))
        assert (await kit.bapi_get_user(enrolled.user_id)).json()["verification_attempts_remaining"] == 7
        other, other_sign_in = await kit.second_factor_sign_in(enrolled.email)
        done = await kit.attempt_second_factor(other, other_sign_in, "totp", kit.code(enrolled.secret))
        assert done.json()["response"]["status"] == "complete", done.text

    async def test_requests_without_a_client_have_only_an_address(
        self, live_apps: Any, make_config: Callable[..., Any]
    ) -> None:
        """A caller with no client yet (or an unknown token) is not held back by the per-client limit."""
        kit = await limited(live_apps, make_config, rate_limit_per_client=1)
        for token in ("", "made-up-token", ""):
            device = kit.device()
            device.token = token
            for _ in range(3):
                kit.error(await probe(device), 422, "form_identifier_not_found")


class TestCallerAddress:
    async def test_proxy_headers_are_ignored_by_default(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """Without a trusted proxy, X-Forwarded-For / X-Real-IP cannot move a caller to a new bucket."""
        kit = await limited(live_apps, make_config, rate_limit_per_ip=2)
        spoofed = [
            {"X-Forwarded-For": "203.0.113.1"},
            {"X-Real-IP": "203.0.113.2", "X-Forwarded-For": "203.0.113.2"},
            {"X-Forwarded-For": "203.0.113.3", "Forwarded": "for=203.0.113.3"},
        ]
        statuses = [(await probe(kit.device(), headers)).status_code for headers in spoofed]
        assert statuses == [422, 422, 429]

    async def test_unknown_peer(
        self, make_config: Callable[..., Any], native_device: Callable[[httpx.AsyncClient], Any]
    ) -> None:
        """A server that does not know the peer (no ``client`` in the ASGI scope): such callers share one
        ``unknown`` bucket, and nothing fails."""
        app = create_app(make_config(rate_limit_window=WINDOW, rate_limit_per_ip=2, rate_limit_per_client=0))
        transport = httpx.ASGITransport(app=app, client=None)  # type: ignore[arg-type]
        async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
            statuses = [(await probe(native_device(http))).status_code for _ in range(3)]
        assert statuses == [422, 422, 429]

    async def test_trusted_forwarded_for(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """With ``x-forwarded-for`` and one proxy, the rightmost entry is the caller; entries the client
        wrote to its left are ignored; a request without the header counts for the direct peer."""
        kit = await limited(
            live_apps, make_config, rate_limit_per_ip=2, trusted_proxy_header="x-forwarded-for", trusted_proxy_hops=1
        )
        same_caller = ["spoof-1, 203.0.113.1", "spoof-2, 203.0.113.1", "203.0.113.1"]
        statuses = [(await probe(kit.device(), {"X-Forwarded-For": chain})).status_code for chain in same_caller]
        assert statuses == [422, 422, 429]
        kit.error(await probe(kit.device(), {"X-Forwarded-For": "198.51.100.1"}), 422)
        kit.error(await probe(kit.device()), 422)

    async def test_trusted_forwarded_for_two_hops(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """With two proxies the caller is the second entry from the right, whichever proxy it came through."""
        kit = await limited(
            live_apps, make_config, rate_limit_per_ip=2, trusted_proxy_header="x-forwarded-for", trusted_proxy_hops=2
        )
        chains = ["203.0.113.5, 10.0.0.1", "evil, 203.0.113.5, 10.0.0.2", "203.0.113.5, 10.0.0.3"]
        statuses = [(await probe(kit.device(), {"X-Forwarded-For": chain})).status_code for chain in chains]
        assert statuses == [422, 422, 429]

    async def test_real_ip_header_and_ipv6_networks(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """A one-address header (``x-real-ip``); IPv6 callers count per /64 network."""
        kit = await limited(live_apps, make_config, rate_limit_per_ip=2, trusted_proxy_header="X-Real-IP")
        same_network = ["2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:1:ffff::3"]
        statuses = [(await probe(kit.device(), {"X-Real-IP": address})).status_code for address in same_network]
        assert statuses == [422, 422, 429]
        kit.error(await probe(kit.device(), {"X-Real-IP": "2001:db8:0:2::1"}), 422)


class TestSharedState:
    async def test_two_instances_count_atomically(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """24 concurrent requests through two app instances on one database: exactly 10 get through."""
        config = make_config(rate_limit_window=WINDOW, rate_limit_per_ip=10, rate_limit_per_client=0)
        first, second = await live_apps.start(config), await live_apps.start(config)
        responses = await asyncio.gather(*(probe((first, second)[i % 2].device()) for i in range(24)))
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [422] * 10 + [429] * 14

    async def test_ended_windows_are_pruned(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """The table keeps one row per bucket of the current window: old windows are deleted."""
        kit = await limited(live_apps, make_config, rate_limit_per_ip=100, trusted_proxy_header="x-real-ip")
        fresh_window(kit)
        for index in range(40):
            kit.error(await probe(kit.device(), {"X-Real-IP": f"198.51.100.{index}"}), 422)
        assert rate_limit_rows(kit.config) == 40
        fresh_window(kit)
        kit.error(await probe(kit.device(), {"X-Real-IP": "198.51.100.200"}), 422)
        assert rate_limit_rows(kit.config) == 1

    async def test_store_counts_across_connections(self, tmp_path: Path) -> None:
        """``hit_rate_limits`` on two connections to one file: concurrent hits get distinct counts; a
        new window starts at 1; a row of a later window (a clock running ahead) keeps counting there."""
        path = tmp_path / "limits.db"
        async with SQLiteStore(path) as one, SQLiteStore(path) as two:
            counts = await asyncio.gather(
                *((one, two)[i % 2].hit_rate_limits(["ip:a", "client:c"], window_start=60_000) for i in range(30))
            )
            assert sorted(count[0] for count in counts) == list(range(1, 31))
            assert sorted(count[1] for count in counts) == list(range(1, 31))
            assert await one.hit_rate_limits(["ip:a"], window_start=120_000) == [1]
            assert await two.hit_rate_limits(["ip:a"], window_start=60_000) == [2]
            assert await one.hit_rate_limits([], window_start=180_000) == []


def test_config_rejects_nonsense_limits(make_config: Callable[..., TOTPKitConfig]) -> None:
    """Rate-limit settings are validated when the config is made; the header name is normalised."""
    for overrides in (
        {"rate_limit_window": 0},
        {"rate_limit_per_ip": -1},
        {"rate_limit_per_client": -5},
        {"trusted_proxy_hops": 0},
        {"trusted_proxy_header": "  "},
    ):
        with pytest.raises(ValueError, match=r"rate_limit|trusted_proxy"):
            make_config(**overrides)
    assert make_config(trusted_proxy_header=" X-Real-IP ").trusted_proxy_header == "x-real-ip"


class TestSDK:
    async def test_the_sdk_waits_out_retry_after(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """The SDK raises RateLimitError with the server's Retry-After, or (with retries) sleeps exactly
        that long and succeeds in the next window."""
        kit = await limited(live_apps, make_config, rate_limit_per_ip=1)
        email = kit.new_email()
        await kit.create_user(email)
        fresh_window(kit, into=35)
        waits: list[float] = []

        async def sleep(seconds: float) -> None:
            waits.append(seconds)
            kit.clock.advance(seconds)

        async with AsyncFrontend(str(kit.http.base_url), http_client=kit.http, max_retries=0) as once:
            with pytest.raises(UnprocessableEntityError):
                await once.sign_in(identifier="nobody@example.com", password="a wrong password")
            with pytest.raises(RateLimitError) as refused:
                await once.sign_in(identifier=email, password=PASSWORD)
            assert (refused.value.code, refused.value.retry_after) == ("too_many_requests", 25.0)
        async with AsyncFrontend(str(kit.http.base_url), http_client=kit.http, max_retries=1, _sleep=sleep) as patient:
            sign_in = await patient.sign_in(identifier=email, password=PASSWORD)
        assert (sign_in.status, waits) == ("complete", [25.0])
