"""The examples in examples/ run, against the real app."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import pytest
from litestar.testing import AsyncTestClient

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
