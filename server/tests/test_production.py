"""The browser-facing hardening: origin allow-list, dev browser off in production, Secure cookies,
the issuer from configuration, step-up by default in production, and production keys files."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.cli import main
from totpkit_server.keys import KeyConfigurationError, load_keys, read_keys_file, write_keys_file

BASE_URL = "http://testserver.local"
PASSWORD = "correct horse battery staple"
ISSUER = "https://auth.example.com"
APP_ORIGIN = "https://app.example.com"
LOOPBACK_ORIGINS = [
    "http://localhost:3000",
    "https://localhost",
    "http://127.0.0.1:5173",
    "http://127.9.8.7",
    "http://[::1]:8080",
]
REFUSED_ORIGINS = [
    "null",
    "http://evil.example",
    "http://localhost.evil.example",
    "http://127.0.0.1.evil.example",
    "file://",
    "chrome-extension://abcdef",
]


def no_cors(response: httpx.Response) -> None:
    """The answer carries no CORS header at all."""
    assert not [name for name in response.headers if name.lower().startswith("access-control-")], response.headers


def rows(config: TOTPKitConfig, table: str) -> int:
    with sqlite3.connect(config.sqlite_path) as db:
        count: int = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608 - fixed names
        return count


def production(make_config: Callable[..., TOTPKitConfig], **overrides: Any) -> TOTPKitConfig:
    """A production configuration with every required setting (explicit keys from ``make_config``)."""
    settings: dict[str, Any] = {"production": True, "allowed_origins": (APP_ORIGIN,), "issuer_url": ISSUER}
    return make_config(**{**settings, **overrides})


async def sign_in_cookie(http: Any, kit: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """A new user signed in through the cookie transport."""
    email = kit.new_email()
    await kit.create_user(email)
    http.cookies.clear()
    return await http.post("/v1/client/sign_ins", data={"identifier": email, "password": PASSWORD}, headers=headers)


class TestOrigins:
    @pytest.mark.parametrize("origin", LOOPBACK_ORIGINS)
    async def test_development_accepts_loopback_origins(self, kit: Any, origin: str) -> None:
        """Without allowed_origins a development server answers loopback pages with credentialed CORS."""
        response = await kit.http.post("/v1/client", headers={"Origin": origin})
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-credentials"] == "true"

    @pytest.mark.parametrize("origin", REFUSED_ORIGINS)
    async def test_refused_origin_gets_no_cors_and_creates_nothing(self, kit: Any, origin: str) -> None:
        """Any other origin (``null`` included): 400 origin_invalid without CORS headers or cookie, no client
        stored; public GETs are answered without CORS headers (the browser keeps them from the page)."""
        kit.http.cookies.clear()
        for method, path in (("POST", "/v1/client"), ("PUT", "/v1/client"), ("POST", "/v1/dev_browser")):
            response = await kit.http.request(method, path, headers={"Origin": origin})
            kit.error(response, 400, "origin_invalid")
            no_cors(response)
            assert "set-cookie" not in response.headers
        assert rows(kit.config, "clients") == 0
        assert rows(kit.config, "dev_browsers") == 0
        environment = await kit.http.get("/v1/environment", headers={"Origin": origin})
        assert environment.status_code == 200
        no_cors(environment)
        kit.error(await kit.http.get("/v1/client", headers={"Origin": origin}), 400, "origin_invalid")

    async def test_refused_origin_cannot_change_a_signed_in_client(self, kit: Any) -> None:
        """With the victim's cookie, every state-changing form (method overrides included) from a refused
        origin is 400 origin_invalid and the session survives."""
        signed = await sign_in_cookie(kit.http, kit)
        assert signed.status_code == 200, signed.text
        session_id = signed.json()["response"]["created_session_id"]
        evil = {"Origin": "http://evil.example"}
        attacks = [
            ("POST", "/v1/client", {"_method": "DELETE"}),
            ("DELETE", "/v1/client", {}),
            ("POST", "/v1/client/sessions", {"_method": "DELETE"}),
            ("POST", f"/v1/client/sessions/{session_id}/end", {}),
            ("POST", f"/v1/client/sessions/{session_id}/tokens", {}),
            ("POST", "/v1/me/totp", {}),
            ("POST", "/v1/environment", {"_method": "PATCH"}),
        ]
        for method, path, params in attacks:
            response = await kit.http.request(method, path, params=params, headers=evil)
            kit.error(response, 400, "origin_invalid")
            no_cors(response)
        client = await kit.http.get("/v1/client")
        assert [s["id"] for s in client.json()["response"]["sessions"]] == [session_id]
        me = await kit.http.get("/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["response"]["totp_enabled"] is False

    async def test_preflight_follows_the_same_policy(self, kit: Any) -> None:
        """OPTIONS preflights: an accepted origin gets 204 with the CORS grant, a refused one 400 without."""
        request = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        allowed = await kit.http.options("/v1/client/sign_ins", headers={"Origin": LOOPBACK_ORIGINS[0], **request})
        assert allowed.status_code == 204, allowed.text
        assert allowed.headers["access-control-allow-origin"] == LOOPBACK_ORIGINS[0]
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "POST" in allowed.headers["access-control-allow-methods"]
        assert allowed.headers["access-control-allow-headers"] == "content-type"
        for origin in ("http://evil.example", "null"):
            refused = await kit.http.options("/v1/client/sign_ins", headers={"Origin": origin, **request})
            kit.error(refused, 400, "origin_invalid")
            no_cors(refused)
        plain = await kit.http.options("/v1/client")
        assert plain.status_code == 204
        no_cors(plain)

    async def test_allow_list_is_exact_and_replaces_loopback(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """A configured list accepts exactly its origins (scheme, host and port), and no longer loopback."""
        config = make_config(allowed_origins=("HTTPS://App.Example.com:443/",))
        assert config.allowed_origins == (APP_ORIGIN,)
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as http:
            good = await http.post("/v1/client", headers={"Origin": APP_ORIGIN})
            assert good.status_code == 200, good.text
            assert good.headers["access-control-allow-origin"] == APP_ORIGIN
            for origin in ("http://app.example.com", "https://app.example.com:8443", "https://x.app.example.com"):
                refused = await http.post("/v1/client", headers={"Origin": origin})
                assert refused.status_code == 400, (origin, refused.text)
                no_cors(refused)
            loopback = await http.post("/v1/client", headers={"Origin": "http://localhost:3000"})
            assert loopback.status_code == 400

    async def test_requests_without_origin_are_unaffected(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """Native apps, servers and curl send no Origin: an empty allow-list still serves them."""
        config = make_config(allowed_origins=())
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as http:
            native = await http.post("/v1/client", params={"_is_native": "1"}, headers={"Authorization": ""})
            assert native.status_code == 200, native.text
            assert native.headers["authorization"]
            cookie = await http.post("/v1/client")
            assert cookie.status_code == 200, cookie.text

    @pytest.mark.parametrize(
        "origins", [("app.example.com",), ("https://app.example.com/path",), ("ftp://app.example.com",), "https://a.b"]
    )
    def test_malformed_allow_list_is_a_configuration_error(
        self, make_config: Callable[..., TOTPKitConfig], origins: Any
    ) -> None:
        with pytest.raises(ValueError, match="origin"):
            make_config(allowed_origins=origins)


class TestProductionSettings:
    @pytest.mark.parametrize(
        ("overrides", "missing"),
        [
            ({"allowed_origins": None}, "allowed_origins"),
            ({"issuer_url": None}, "issuer_url"),
        ],
    )
    def test_production_refuses_to_start_without_origins_or_issuer(
        self, make_config: Callable[..., TOTPKitConfig], overrides: dict[str, Any], missing: str
    ) -> None:
        with pytest.raises(ValueError, match=f"production mode needs {missing}"):
            production(make_config, **overrides)

    def test_production_without_keys_refuses(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """Production settings complete but no keys: the start stops naming the missing keys."""
        config = production(make_config, dev_keys=True)
        with pytest.raises(KeyConfigurationError, match="production mode needs explicit keys"):
            load_keys(config)
        assert not (config.data_dir / "keys.json").exists()


class TestDevBrowserInProduction:
    async def test_dev_browser_endpoint_is_refused(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """POST /v1/dev_browser answers 400 request_invalid_for_environment and stores nothing."""
        config = production(make_config)
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as http:
            for headers in ({}, {"Origin": APP_ORIGIN}):
                response = await http.post("/v1/dev_browser", headers=headers)
                assert response.status_code == 400, response.text
                assert response.json()["errors"][0]["code"] == "request_invalid_for_environment"
        assert rows(config, "dev_browsers") == 0

    async def test_dev_browser_token_never_identifies_a_client(
        self, make_config: Callable[..., TOTPKitConfig], kit: Any
    ) -> None:
        """A dev-browser token bound to a signed-in client (made while the instance was in development)
        reaches nothing once the same database runs in production."""
        dev_token = (await kit.http.post("/v1/dev_browser")).json()["id"]
        email = kit.new_email()
        await kit.create_user(email)
        kit.http.cookies.clear()
        form = {"identifier": email, "password": PASSWORD}
        signed = await kit.http.post("/v1/client/sign_ins", params={"__clerk_db_jwt": dev_token}, data=form)
        assert signed.json()["response"]["status"] == "complete", signed.text
        config = production(make_config, seed=1, data_dir=kit.config.data_dir)
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as http:
            client = await http.get("/v1/client", params={"__clerk_db_jwt": dev_token})
            assert client.status_code == 200, client.text
            assert client.json() == {"response": None, "client": None}
            me = await http.get("/v1/me", params={"__clerk_db_jwt": dev_token})
            assert me.status_code == 401


class TestCookiesAndIssuer:
    async def test_production_cookie_is_secure(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """Production sets __client Secure (without secure_cookies), HttpOnly, SameSite=Lax, host-only."""
        config = production(make_config)
        assert config.secure_cookies is False
        async with AsyncTestClient(create_app(config), base_url=ISSUER) as http:
            response = await http.post("/v1/client", headers={"Origin": APP_ORIGIN})
            assert response.status_code == 200, response.text
            attributes = [part.strip().lower() for part in response.headers["set-cookie"].split(";")]
            assert {"secure", "httponly", "samesite=lax", "path=/"} <= set(attributes)
            assert not [a for a in attributes if a.startswith("domain=")]

    @staticmethod
    async def token_issuer(http: Any, secret_key: str, headers: dict[str, str]) -> str:
        """The ``iss`` of a session token minted natively while sending ``headers``."""
        email = "iss.user@example.com"
        await http.post(
            "/v1/users",
            json={"email_address": [email], "password": PASSWORD},
            headers={"Authorization": f"Bearer {secret_key}"},
        )
        signed = await http.post(
            "/v1/client/sign_ins",
            params={"_is_native": "1"},
            data={"identifier": email, "password": PASSWORD},
            headers={"Authorization": "", **headers},
        )
        assert signed.status_code == 200, signed.text
        token = signed.json()["client"]["sessions"][0]["last_active_token"]["jwt"]
        payload = token.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iss"])

    @pytest.mark.parametrize("forged", ["evil.example", "evil.example:8443", "127.0.0.1"])
    async def test_forged_host_does_not_change_iss_in_development(self, kit: Any, forged: str) -> None:
        """Without issuer_url the issuer is the socket address the server accepted on, not the Host header."""
        issuer = await self.token_issuer(kit.http, kit.secret_key, {"Host": forged})
        assert issuer == BASE_URL

    @pytest.mark.parametrize("forged", ["evil.example", "auth.example.com.evil.example"])
    async def test_forged_host_does_not_change_iss_in_production(
        self, make_config: Callable[..., TOTPKitConfig], forged: str
    ) -> None:
        config = production(make_config)
        assert config.secret_key is not None
        async with AsyncTestClient(create_app(config), base_url=BASE_URL) as http:
            assert await self.token_issuer(http, config.secret_key, {"Host": forged}) == ISSUER


class TestStepUpInProduction:
    async def test_mfa_changes_need_a_recent_verification_by_default(
        self, make_config: Callable[..., TOTPKitConfig], live_apps: Any
    ) -> None:
        """Production without reverification_max_age gates MFA changes at Clerk's strict 10 minutes
        (development does not), and the environment says reverification is on."""
        config = production(make_config)
        assert config.reverification_max_age is None
        assert config.step_up_max_age == 10
        kit = await live_apps.start(config)
        enrolled = await kit.enrolled_user()
        kit.clock.advance(10 * 60)
        for response in (
            await enrolled.device.post("/v1/me/backup_codes"),
            await enrolled.device.delete("/v1/me/totp"),
        ):
            kit.error(response, 403, "session_reverification_required")
            assert response.json()["errors"][0]["meta"]["reverification"]["afterMinutes"] == 10
        environment = (await kit.http.get("/v1/environment")).json()
        assert environment["auth_config"]["reverification"] is True
        assert make_config().step_up_max_age is None

    async def test_explicit_setting_wins(self, make_config: Callable[..., TOTPKitConfig], live_apps: Any) -> None:
        """An explicit 0 turns the gate off in production; an explicit number is used as is."""
        assert production(make_config, reverification_max_age=30).step_up_max_age == 30
        kit = await live_apps.start(production(make_config, reverification_max_age=0))
        enrolled = await kit.enrolled_user()
        kit.clock.advance(3600)
        response = await enrolled.device.delete("/v1/me/totp")
        assert response.status_code == 200, response.text


class TestProductionKeysFile:
    @staticmethod
    def production_keys(tmp_path: Path) -> Path:
        path = tmp_path / "prod" / "keys.json"
        write_keys_file(path, TOTPKitConfig(data_dir=path.parent), production=True)
        return path

    @pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o620])
    def test_group_or_world_access_is_refused(self, tmp_path: Path, mode: int) -> None:
        path = self.production_keys(tmp_path)
        path.chmod(mode)
        with pytest.raises(KeyConfigurationError, match="chmod 600"):
            read_keys_file(path, production=True)
        assert read_keys_file(path).environment == "production"  # development reads it as before

    def test_private_production_keys_are_accepted(self, tmp_path: Path) -> None:
        path = self.production_keys(tmp_path)
        for mode in (0o600, 0o400):
            path.chmod(mode)
            keys = read_keys_file(path, production=True)
            assert keys.secret_key.startswith("sk_live_")

    @pytest.mark.parametrize(("secret_prefix", "accepted"), [("sk_live_", True), ("sk_test_", False)])
    def test_unmarked_files_count_as_production_only_with_a_live_key(
        self, tmp_path: Path, secret_prefix: str, accepted: bool
    ) -> None:
        """A keys file written before the marker existed: production accepts it only with an sk_live_ key
        and otherwise says how to mark it."""
        path = self.production_keys(tmp_path)
        document = json.loads(path.read_text("utf-8"))
        del document["environment"]
        document["secret_key"] = secret_prefix + "legacy"
        path.write_text(json.dumps(document), "utf-8")
        if accepted:
            assert read_keys_file(path, production=True).environment == "production"
        else:
            with pytest.raises(KeyConfigurationError, match='add "environment": "production"'):
                read_keys_file(path, production=True)
            assert read_keys_file(path).environment == "development"

    def test_unknown_marker_is_refused(self, tmp_path: Path) -> None:
        path = self.production_keys(tmp_path)
        document = json.loads(path.read_text("utf-8"))
        document["environment"] = "staging"
        path.write_text(json.dumps(document), "utf-8")
        with pytest.raises(KeyConfigurationError, match="environment"):
            read_keys_file(path)

    def test_rotation_keeps_the_marker(self, tmp_path: Path) -> None:
        """``totpkit keys rotate`` rewrites the file still marked production, still private."""
        path = self.production_keys(tmp_path)
        assert main(["keys", "rotate", "--keys-file", str(path), "--data-dir", str(tmp_path)]) == 0
        assert json.loads(path.read_text("utf-8"))["environment"] == "production"
        assert len(read_keys_file(path, production=True).signing_keys) == 2


class TestServeProcessIssuer:
    def test_forged_host_does_not_change_iss(self, totpkit_process: Any) -> None:
        """A real ``totpkit serve`` mints ``iss`` = its bound address whatever ``Host`` a caller sends."""
        with httpx.Client(base_url=totpkit_process.url, timeout=10, trust_env=False) as http:
            signed = http.post(
                "/v1/client/sign_ins",
                params={"_is_native": "1"},
                data={"identifier": totpkit_process.email, "password": totpkit_process.password},
                headers={"Authorization": "", "Host": "evil.example"},
            )
        assert signed.status_code == 200, signed.text
        token = signed.json()["client"]["sessions"][0]["last_active_token"]["jwt"]
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["iss"] == totpkit_process.url
