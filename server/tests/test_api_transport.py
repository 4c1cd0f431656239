"""How clients are identified and requests are shaped: cookies, dev browsers, native mode, CORS, overrides."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from totpkit_server import TOTPKitConfig, create_app

pytestmark = pytest.mark.both_backends

PASSWORD = "correct horse battery staple"
ORIGIN = "http://localhost:3000"


async def cookie_sign_in(kit: Any, email: str, headers: dict[str, str] | None = None) -> Any:
    kit.http.cookies.clear()
    return await kit.http.post(
        "/v1/client/sign_ins", data={"identifier": email, "password": PASSWORD}, headers=headers or {}
    )


class TestCookieMode:
    async def test_sign_in_sets_httponly_client_cookie(self, kit: Any) -> None:
        """A browser sign-in sets an HttpOnly ``__client`` cookie and no Authorization header."""
        email = kit.new_email()
        await kit.create_user(email)
        response = await cookie_sign_in(kit, email)
        assert response.status_code == 200, response.text
        set_cookie = response.headers["set-cookie"]
        assert set_cookie.startswith("__client=")
        attributes = [part.strip().lower() for part in set_cookie.split(";")]
        assert "httponly" in attributes
        assert "path=/" in attributes
        assert "samesite=lax" in attributes
        assert "authorization" not in response.headers

    async def test_cookie_alone_identifies_the_client(self, kit: Any) -> None:
        """Later requests that carry only the cookie act on the signed-in user."""
        email = kit.new_email()
        user = await kit.create_user(email)
        response = await cookie_sign_in(kit, email)
        token = response.cookies["__client"]
        kit.http.cookies.clear()
        me = await kit.http.get("/v1/me", headers={"Cookie": f"__client={token}"})
        assert me.status_code == 200, me.text
        assert me.json()["response"]["id"] == user["id"]
        kit.http.cookies.clear()
        anonymous = await kit.http.get("/v1/me")
        kit.error(anonymous, 401, "authentication_invalid")

    async def test_unknown_cookie_is_no_client(self, kit: Any) -> None:
        """An unknown ``__client`` cookie means "no client": GET /v1/client answers null, not an error."""
        kit.http.cookies.clear()
        response = await kit.http.get("/v1/client", headers={"Cookie": "__client=not-a-real-token"})
        assert response.status_code == 200, response.text
        assert response.json() == {"response": None, "client": None}

    async def test_secure_cookie_flag(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """secure_cookies=True marks the cookie Secure."""
        config = make_config(secure_cookies=True)
        async with AsyncTestClient(create_app(config), base_url="http://testserver.local") as http:
            response = await http.post("/v1/client")
            assert response.status_code == 200, response.text
            assert "secure" in [p.strip().lower() for p in response.headers["set-cookie"].split(";")]


class TestDevBrowser:
    async def test_dev_browser_token_identifies_the_client(self, kit: Any) -> None:
        """After POST /v1/dev_browser, ``__clerk_db_jwt`` carries the client (no cookie needed)."""
        email = kit.new_email()
        user = await kit.create_user(email)
        kit.http.cookies.clear()
        created = await kit.http.post("/v1/dev_browser")
        assert created.status_code == 200, created.text
        dev = created.json()["id"]
        signed = await kit.http.post(
            "/v1/client/sign_ins", params={"__clerk_db_jwt": dev}, data={"identifier": email, "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        assert "__client" not in signed.headers.get("set-cookie", "")
        kit.http.cookies.clear()
        dev = signed.headers["clerk-db-jwt"]  # re-issued by the sign-in, as clerk-js adopts it
        me = await kit.http.get("/v1/me", params={"__clerk_db_jwt": dev})
        assert me.status_code == 200, me.text
        assert me.json()["response"]["id"] == user["id"]
        alias = await kit.http.get("/v1/me", params={"__dev_session": dev})
        assert alias.status_code == 200, alias.text

    async def test_fresh_dev_browser_has_no_client(self, kit: Any) -> None:
        """A dev browser that never signed in has no client."""
        dev = (await kit.http.post("/v1/dev_browser")).json()["id"]
        response = await kit.http.get("/v1/client", params={"__clerk_db_jwt": dev})
        assert response.status_code == 200, response.text
        assert response.json()["response"] is None

    async def test_unknown_dev_browser_token(self, kit: Any) -> None:
        """An unknown dev-browser token is 401 dev_browser_unauthenticated."""
        response = await kit.http.get("/v1/client", params={"__clerk_db_jwt": "dvb_unknown"})
        kit.error(response, 401, "dev_browser_unauthenticated")


class TestNativeMode:
    async def test_token_is_echoed(self, kit: Any) -> None:
        """Native answers carry the client token in Authorization, and it identifies the client later."""
        email = kit.new_email()
        await kit.create_user(email)
        response = await kit.http.post(
            "/v1/client/sign_ins",
            params={"_is_native": "1"},
            data={"identifier": email, "password": PASSWORD},
            headers={"Authorization": ""},
        )
        assert response.status_code == 200, response.text
        token = response.headers["authorization"]
        assert token
        assert not token.lower().startswith("bearer")
        assert "set-cookie" not in response.headers
        me = await kit.http.get("/v1/me", params={"_is_native": "true"}, headers={"Authorization": token})
        assert me.status_code == 200, me.text
        assert me.headers["authorization"] == token

    async def test_bearer_prefix_accepted(self, kit: Any) -> None:
        """``Authorization: Bearer <token>`` works like the bare token."""
        _, device = await kit.user_and_device()
        response = await kit.http.get(
            "/v1/me", params={"_is_native": "1"}, headers={"Authorization": f"Bearer {device.token}"}
        )
        assert response.status_code == 200, response.text

    async def test_missing_authorization_header(self, kit: Any) -> None:
        """Native mode without an Authorization header is 400 request_header_missing."""
        kit.http.cookies.clear()
        response = await kit.http.get("/v1/client", params={"_is_native": "1"})
        kit.error(response, 400, "request_header_missing")

    async def test_origin_and_authorization_conflict(self, kit: Any) -> None:
        """Origin together with a native Authorization header is 400 origin_authorization_headers_conflict."""
        _, device = await kit.user_and_device()
        response = await device.get("/v1/me", headers={"Origin": ORIGIN})
        kit.error(response, 400, "origin_authorization_headers_conflict")

    async def test_unknown_token_is_no_client(self, kit: Any) -> None:
        """An unknown native token means "no client", not an error."""
        response = await kit.http.get(
            "/v1/client", params={"_is_native": "1"}, headers={"Authorization": "unknown-token"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["response"] is None


class TestMethodOverride:
    async def test_delete_client_via_post(self, kit: Any) -> None:
        """POST /v1/client?_method=DELETE signs out."""
        _, device = await kit.user_and_device()
        response = await device.post("/v1/client", params={"_method": "DELETE"})
        assert response.status_code == 200, response.text
        kit.error(await device.get("/v1/me"), 401, "authentication_invalid")

    @pytest.mark.parametrize("override", [True, False])
    async def test_remove_all_sessions_keeps_the_client(self, kit: Any, override: bool) -> None:
        """DELETE /v1/client/sessions (clerk-js signOut; also POST ?_method=DELETE) ends sessions, keeps the client."""
        _, device = await kit.user_and_device()
        client_id = (await device.get("/v1/client")).json()["response"]["id"]
        if override:
            response = await device.post("/v1/client/sessions", params={"_method": "DELETE"})
        else:
            response = await device.delete("/v1/client/sessions")
        assert response.status_code == 200, response.text
        assert response.json()["response"]["id"] == client_id
        assert response.json()["response"]["sessions"] == []
        kit.error(await device.get("/v1/me"), 401, "authentication_invalid")
        assert (await device.get("/v1/client")).json()["response"]["id"] == client_id

    async def test_plain_post_to_sessions_is_not_allowed(self, kit: Any) -> None:
        """POST /v1/client/sessions without an override is 405 and signs nobody out."""
        _, device = await kit.user_and_device()
        kit.error(await device.post("/v1/client/sessions"), 405, "method_not_allowed")
        assert (await device.get("/v1/me")).status_code == 200

    async def test_put_client_via_post(self, kit: Any) -> None:
        """POST /v1/client?_method=PUT creates a client."""
        device = kit.device()
        response = await device.post("/v1/client", params={"_method": "PUT"})
        assert response.status_code == 200, response.text
        assert response.json()["response"]["id"].startswith("client_")
        assert device.token

    async def test_delete_totp_via_post(self, kit: Any) -> None:
        """POST /v1/me/totp?_method=DELETE disables TOTP."""
        enrolled = await kit.enrolled_user()
        response = await enrolled.device.post("/v1/me/totp", params={"_method": "DELETE"})
        assert response.status_code == 200, response.text
        assert response.json()["response"]["deleted"] is True
        assert (await enrolled.device.me())["totp_enabled"] is False

    async def test_patch_environment_via_post(self, kit: Any) -> None:
        """POST /v1/environment?_method=PATCH answers like GET."""
        got = await kit.http.get("/v1/environment")
        patched = await kit.http.post("/v1/environment", params={"_method": "PATCH"})
        assert patched.status_code == 200, patched.text
        assert patched.json() == got.json()

    async def test_unsupported_override(self, kit: Any) -> None:
        """An override the path does not support is 405 method_not_allowed and changes nothing."""
        _, device = await kit.user_and_device()
        response = await device.post("/v1/me/totp", params={"_method": "PATCH"})
        kit.error(response, 405, "method_not_allowed")
        assert (await device.me())["totp_enabled"] is False


class TestPathsAndBodies:
    @pytest.mark.parametrize("path", ["/v1/me/backup_codes", "/v1/me/backup_codes/"])
    async def test_backup_codes_with_and_without_slash(self, kit: Any, path: str) -> None:
        """Both spellings of the backup-codes path work."""
        enrolled = await kit.enrolled_user()
        response = await enrolled.device.post(path)
        assert response.status_code == 200, response.text
        assert len(response.json()["response"]["codes"]) == kit.config.backup_code_count

    async def test_json_bodies(self, kit: Any) -> None:
        """JSON bodies work for sign-in, enrolment and second factor."""
        email = kit.new_email()
        await kit.create_user(email)
        device = kit.device()
        signed = await device.post("/v1/client/sign_ins", json={"identifier": email, "password": PASSWORD})
        assert signed.json()["response"]["status"] == "complete", signed.text
        secret = (await device.post("/v1/me/totp", json={})).json()["response"]["secret"]
        verified = await device.post("/v1/me/totp/attempt_verification", json={"code": kit.code(secret)})
        assert verified.status_code == 200, verified.text
        kit.next_step()
        other = kit.device()
        started = await other.post("/v1/client/sign_ins", json={"identifier": email, "password": PASSWORD})
        sign_in_id = started.json()["response"]["id"]
        done = await other.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
            json={"strategy": "totp", "code": kit.code(secret)},
        )
        assert done.status_code == 200, done.text

    async def test_form_content_type_with_charset(self, kit: Any) -> None:
        """A form body with a charset parameter is read as a form."""
        email = kit.new_email()
        await kit.create_user(email)
        device = kit.device()
        body = f"identifier={email.replace('@', '%40')}&password=correct+horse+battery+staple".encode()
        response = await device.post(
            "/v1/client/sign_ins",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete"

    async def test_version_and_unknown_params_are_ignored(self, kit: Any) -> None:
        """Clerk's version parameters, its header and unknown fields do not change the outcome."""
        email = kit.new_email()
        await kit.create_user(email)
        device = kit.device()
        response = await device.post(
            "/v1/client/sign_ins",
            params={"__clerk_api_version": "2099-01-01", "_clerk_js_version": "9.9.9", "whatever": "x"},
            data={"identifier": email, "password": PASSWORD, "locale": "de-DE", "unknown_field": "1"},
            headers={"clerk-api-version": "2025-04-10"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete"
        me = await device.get("/v1/me", params={"__clerk_api_version": "2021-02-05", "_clerk_js_version": "5.0.0"})
        assert me.status_code == 200, me.text


class TestCORS:
    def assert_cors(self, response: Any) -> None:
        assert response.headers.get("access-control-allow-origin") == ORIGIN, response.headers
        assert response.headers.get("access-control-allow-credentials") == "true", response.headers

    async def test_success_answers_echo_origin(self, kit: Any) -> None:
        """Successful answers echo the Origin and allow credentials."""
        email = kit.new_email()
        await kit.create_user(email)
        self.assert_cors(await kit.http.get("/v1/environment", headers={"Origin": ORIGIN}))
        self.assert_cors(await kit.http.get("/.well-known/jwks.json", headers={"Origin": ORIGIN}))
        signed = await cookie_sign_in(kit, email, {"Origin": ORIGIN})
        assert signed.status_code == 200, signed.text
        self.assert_cors(signed)
        self.assert_cors(await kit.http.get("/v1/me", headers={"Origin": ORIGIN}))

    async def test_error_answers_echo_origin(self, kit: Any) -> None:
        """Error answers (422, 401, 404, 405) echo the Origin too, so the browser can read them."""
        email = kit.new_email()
        await kit.create_user(email)
        kit.http.cookies.clear()
        wrong = await kit.http.post(
            "/v1/client/sign_ins", data={"identifier": email, "password": "nope nope"}, headers={"Origin": ORIGIN}
        )
        kit.error(wrong, 422)
        self.assert_cors(wrong)
        kit.http.cookies.clear()
        unauthenticated = await kit.http.get("/v1/me", headers={"Origin": ORIGIN})
        kit.error(unauthenticated, 401)
        self.assert_cors(unauthenticated)
        missing = await kit.http.get("/v1/no/such/path", headers={"Origin": ORIGIN})
        kit.error(missing, 404, "resource_not_found")
        self.assert_cors(missing)
        not_allowed = await kit.http.put("/v1/me", headers={"Origin": ORIGIN})
        kit.error(not_allowed, 405)
        self.assert_cors(not_allowed)

    async def test_allowed_origins(self, make_config: Callable[..., TOTPKitConfig], clerk_error: Any) -> None:
        """With allowed_origins, other origins get 400 origin_invalid; listed origins and no origin work."""
        config = make_config(allowed_origins=(ORIGIN,))
        async with AsyncTestClient(create_app(config), base_url="http://testserver.local") as http:
            evil = await http.post("/v1/client", headers={"Origin": "http://evil.example"})
            clerk_error(evil, 400, "origin_invalid")
            assert "set-cookie" not in evil.headers
            good = await http.post("/v1/client", headers={"Origin": ORIGIN})
            assert good.status_code == 200, good.text
            http.cookies.clear()
            native = await http.get("/v1/client", params={"_is_native": "1"}, headers={"Authorization": ""})
            assert native.status_code == 200, native.text
