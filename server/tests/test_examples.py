"""The examples in examples/ run, against the real app."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from totpkit import AsyncFrontend
from totpkit.otp import totp_code
from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.core.passwords import PasswordHasher
from totpkit_server.services import Instance, UserService

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _load(name: str, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> ModuleType:
    monkeypatch.setenv("TOTPKIT_DATA_DIR", str(data_dir))
    spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_767_225_600.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="clock")
def fx_clock() -> Clock:
    return Clock()


@pytest.fixture(name="client")
async def fx_client(tmp_path: Path, clock: Clock) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    config = TOTPKitConfig(data_dir=tmp_path, clock=clock, password_hasher=PasswordHasher.fast_for_tests())
    async with AsyncTestClient(create_app(config)) as client:
        instance = client.app.state["totpkit_instance"]
        assert isinstance(instance, Instance)
        await UserService(instance).create_user(email="jane@example.com", password="correct horse battery")
        yield client


class TestSDKQuickstart:
    async def test_runs_the_whole_flow(
        self,
        client: AsyncTestClient,
        clock: Clock,
        monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path,  # type: ignore[type-arg]
    ) -> None:
        """The quickstart enrols, verifies, regenerates codes, passes the second factor and disables TOTP."""
        module = _load("sdk_quickstart", monkeypatch, tmp_path)
        report = await module.main(
            "http://testserver.local", "jane@example.com", "correct horse battery", http_client=client, clock=clock
        )
        assert report["first_sign_in"] == "complete"
        assert str(report["otpauth_uri"]).startswith("otpauth://totp/totpkit%20%28development%29:jane@example.com?")
        assert report["verified"] is True
        assert report["first_backup_codes"] == 10
        assert report["regenerated_backup_codes"] == 10
        assert report["second_sign_in"] == "needs_second_factor"
        assert report["after_second_factor"] == "complete"
        assert report["disabled"] is True
        assert report["totp_enabled_at_end"] is False


class TestPluginExample:
    async def test_host_routes_and_totpkit_routes_share_the_app(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """The host's own routes, totpkit under /auth and the injected store all work in one app."""
        module = _load("plugin_in_existing_app", monkeypatch, tmp_path)
        async with AsyncTestClient(module.create_app(tmp_path)) as client:
            index = await client.get("/")
            assert index.json() == {"app": "my-app", "auth": "/auth/v1/environment"}
            environment = await client.get("/auth/v1/environment")
            assert environment.status_code == 200
            assert environment.json()["display_config"]["application_name"] == "My App"
            missing = await client.get("/auth/v1/nope")
            assert missing.status_code == 404
            assert missing.json()["errors"][0]["code"] == "resource_not_found"
            mfa = await client.get("/admin/users/user_unknown/mfa")
            assert mfa.json() == {"user_id": "user_unknown", "totp_enabled": False, "backup_codes_left": 0}

    async def test_host_routes_behind_the_session_guards(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clock: Clock
    ) -> None:
        """/account needs a session token; /account/payouts a second factor, after which it lets the user in."""
        module = _load("plugin_in_existing_app", monkeypatch, tmp_path)
        async with AsyncTestClient(module.create_app(tmp_path, clock=clock)) as client:
            instance = client.app.state["totpkit_instance"]
            user = await UserService(instance).create_user(email="jane@example.com", password="correct horse battery")
            async with AsyncFrontend("http://testserver.local/auth", http_client=client) as fapi:
                await fapi.sign_in(identifier="jane@example.com", password="correct horse battery")
                bearer = {"Authorization": f"Bearer {await (await fapi.get_session()).get_token()}"}
                anonymous = await client.get("/account")
                assert (anonymous.status_code, anonymous.json()["errors"][0]["code"]) == (401, "authentication_invalid")
                account = await client.get("/account", headers=bearer)
                assert account.json() == {"user_id": user.id, "session_id": fapi.session_id}
                refused = await client.post("/account/payouts", headers=bearer)
                assert (refused.status_code, refused.json()["clerk_error"]["reason"]) == (403, "reverification-error")

                totp = await (await fapi.get_user()).create_totp()
                assert totp.secret is not None
                await (await fapi.get_user()).verify_totp(code=totp_code(totp.secret, at=clock.now))
                await fapi.sign_out()
                sign_in = await fapi.sign_in(identifier="jane@example.com", password="correct horse battery")
                await sign_in.attempt_second_factor(strategy="totp", code=totp_code(totp.secret, at=clock.now + 30))
                bearer = {"Authorization": f"Bearer {await (await fapi.get_session()).get_token()}"}
                paid = await client.post("/account/payouts", headers=bearer)
                assert paid.json() == {"paid_by": user.id}


class TestStarletteExample:
    async def test_routes_verify_tokens_of_a_real_server(
        self, totpkit_process: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Tokens from a real `totpkit serve` open the Starlette routes; missing, forged and pre-MFA ones do not."""
        module = _load("starlette_protected_route", monkeypatch, tmp_path)
        server = totpkit_process
        async with (
            httpx.AsyncClient(trust_env=False) as jwks_http,
            AsyncFrontend(server.url) as fapi,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=module.create_app(server.url, http_client=jwks_http)),
                base_url="http://host.test",
            ) as host,
        ):
            await fapi.sign_in(identifier=server.email, password=server.password)
            token = await (await fapi.get_session()).get_token()
            profile = await host.get("/profile", headers={"Authorization": f"Bearer {token}"})
            assert profile.json() == {"user_id": server.user_id, "session_id": fapi.session_id}
            from_cookie = await host.get("/profile", headers={"Cookie": f"__session={token}"})
            assert from_cookie.status_code == 200, from_cookie.text
            missing = await host.get("/profile")
            assert (missing.status_code, missing.headers["x-clerk-auth-reason"]) == (401, "session-token-missing")
            header, payload, signature = token.split(".")
            forged = await host.get(
                "/profile", headers={"Authorization": f"Bearer {header}.{payload}.{signature[::-1]}"}
            )
            assert (forged.status_code, forged.json()["errors"][0]["code"]) == (401, "authentication_invalid")
            payout = await host.post("/payouts", headers={"Authorization": f"Bearer {token}"})
            assert payout.status_code == 403
            assert payout.json()["clerk_error"]["metadata"]["reverification"] == {
                "level": "second_factor",
                "afterMinutes": 10,
            }

            user = await fapi.get_user()
            totp = await user.create_totp()
            assert totp.secret is not None
            await user.verify_totp(code=totp_code(totp.secret, at=time.time()))
            await fapi.sign_out()
            sign_in = await fapi.sign_in(identifier=server.email, password=server.password)
            await sign_in.attempt_second_factor(strategy="totp", code=totp_code(totp.secret, at=time.time() + 30))
            token = await (await fapi.get_session()).get_token()
            paid = await host.post("/payouts", headers={"Authorization": f"Bearer {token}"})
            assert paid.json() == {"paid_by": server.user_id}
