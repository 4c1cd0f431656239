"""How clients reach the API (native, cookie, dev browser, ``_method``, bodies); and errors change nothing."""

from __future__ import annotations

from typing import Any

import pytest

from totpkit.otp import time_step, totp_code

PASSWORD = "correct horse battery"


def _without_jwts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<jwt>" if k == "jwt" else _without_jwts(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_jwts(item) for item in value]
    return value


class TestNativeMode:
    """``_is_native=1``: the client token travels in the ``Authorization`` header both ways."""

    async def test_token_is_echoed(self, target: Any, flows: Any) -> None:
        device = await flows.signed_in()
        token = device.token
        assert token
        assert not token.lower().startswith("bearer")
        response = await device.get("/v1/client")
        assert response.status_code == 200
        assert response.headers["authorization"] == token
        assert "set-cookie" not in response.headers

    async def test_bearer_prefix_is_accepted(self, target: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await target.request(
            "GET", "/v1/me", params={"_is_native": "1"}, headers={"Authorization": f"Bearer {device.token}"}
        )
        assert response.status_code == 200
        assert response.json()["response"]["email_addresses"][0]["email_address"] == target.email("jane@example.com")

    async def test_unknown_token_means_no_client(self, target: Any, golden: Any) -> None:
        response = await target.request(
            "GET", "/v1/client", params={"_is_native": "true"}, headers={"Authorization": "not-a-real-client-token"}
        )
        golden.check("client_empty", response, schema="Client.ClientWrappedClient")

    async def test_browser_extras_are_tolerated(self, target: Any, flows: Any) -> None:
        await flows.user()
        device = flows.device()
        response = await device.post(
            "/v1/client/sign_ins",
            params={"__clerk_api_version": "2026-05-12", "_clerk_js_version": "5.0.0"},
            data={"identifier": target.email("jane@example.com"), "password": PASSWORD, "locale": "en-US"},
            headers={"clerk-api-version": "2026-05-12", "x-mobile": "1"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete"


class TestBrowserOrigin:
    """Cross-origin browsers get CORS answers that allow credentials and expose the token headers, but
    only from allowed origins: others get no CORS headers and their state-changing requests 400
    ``origin_invalid``. Both targets run with ``allowed_origins=("https://app.example.com",)``."""

    @pytest.fixture
    def target_options(self) -> dict[str, Any]:
        return {"allowed_origins": ("https://app.example.com",)}

    async def test_origin_is_echoed(self, target: Any) -> None:
        origin = "https://app.example.com"
        response = await target.request("GET", "/v1/client", headers={"Origin": origin})
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["access-control-allow-credentials"] == "true"
        exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
        assert {"authorization", "clerk-db-jwt", "retry-after"} <= exposed

    async def test_refused_origin_gets_no_cors_and_changes_nothing(self, target: Any) -> None:
        for origin in ("https://evil.example.com", "null", "http://localhost:3000"):
            for method, path in (("POST", "/v1/client"), ("POST", "/v1/client/sign_ins"), ("GET", "/v1/client")):
                response = await target.request(method, path, headers={"Origin": origin})
                assert response.status_code == 400, (origin, method, path, response.text)
                assert response.json()["errors"][0]["code"] == "origin_invalid"
                assert not [h for h in response.headers if h.lower().startswith("access-control-")]
                assert "set-cookie" not in response.headers
            environment = await target.request("GET", "/v1/environment", headers={"Origin": origin})
            assert environment.status_code == 200
            assert "access-control-allow-origin" not in environment.headers

    async def test_preflight(self, target: Any) -> None:
        ask = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}
        allowed = await target.request("OPTIONS", "/v1/client", headers={"Origin": "https://app.example.com", **ask})
        assert allowed.status_code == 204
        assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert allowed.headers["access-control-allow-headers"] == "content-type"
        refused = await target.request("OPTIONS", "/v1/client", headers={"Origin": "https://evil.example.com", **ask})
        assert refused.status_code == 400
        assert refused.json()["errors"][0]["code"] == "origin_invalid"
        assert "access-control-allow-origin" not in refused.headers


class TestCookieMode:
    """Browsers in production: the ``__client`` cookie is set HttpOnly and sent back."""

    async def test_sign_in_sets_cookie(self, target: Any, golden: Any, flows: Any) -> None:
        await flows.user()
        response = await target.request(
            "POST", "/v1/client/sign_ins", data={"identifier": target.email("jane@example.com"), "password": PASSWORD}
        )
        golden.check("cookie_sign_in", response, schema="Client.ClientWrappedSignIn")
        set_cookie = response.headers["set-cookie"]
        name_value, *attributes = [part.strip() for part in set_cookie.split(";")]
        name, _, token = name_value.partition("=")
        assert name == "__client"
        assert token
        lowered = [attribute.lower() for attribute in attributes]
        assert "httponly" in lowered
        assert "path=/" in lowered
        assert "samesite=lax" in lowered
        assert "authorization" not in response.headers

        cookie = {"Cookie": f"__client={token}"}
        response = await target.request("GET", "/v1/client", headers=cookie)
        body = golden.check("cookie_client", response, schema="Client.ClientWrappedClient")
        assert len(body["client"]["sessions"]) == 1
        response = await target.request("GET", "/v1/me", headers=cookie)
        assert response.status_code == 200
        assert response.json()["response"]["id"] == body["client"]["sessions"][0]["user"]["id"]

    async def test_without_cookie_there_is_no_client(self, target: Any, golden: Any) -> None:
        response = await target.request("GET", "/v1/client")
        golden.check("client_empty", response, schema="Client.ClientWrappedClient")
        assert "set-cookie" not in response.headers


class TestDevBrowser:
    """Development instances: ``POST /v1/dev_browser``, then ``__clerk_db_jwt`` on every request."""

    async def test_sign_in_through_dev_browser(self, target: Any, golden: Any, flows: Any) -> None:
        await flows.user()
        dev = (await target.request("POST", "/v1/dev_browser")).json()["id"]
        query = {"__clerk_db_jwt": dev}
        response = await target.request(
            "POST",
            "/v1/client/sign_ins",
            params=query,
            data={"identifier": target.email("jane@example.com"), "password": PASSWORD},
        )
        golden.check("dev_browser_sign_in", response, schema="Client.ClientWrappedSignIn")
        assert "set-cookie" not in response.headers
        assert "authorization" not in response.headers
        reissued = response.headers["clerk-db-jwt"]  # session fixation: clerk-js adopts the new dev browser
        assert reissued != dev
        planted = await target.request("GET", "/v1/client", params=query)
        assert planted.json()["client"]["sessions"] == []
        query = {"__clerk_db_jwt": reissued}
        response = await target.request("GET", "/v1/client", params=query)
        body = golden.check("dev_browser_client", response, schema="Client.ClientWrappedClient")
        assert len(body["client"]["sessions"]) == 1
        response = await target.request("GET", "/v1/me", params=query)
        assert response.status_code == 200

    async def test_fresh_dev_browser_has_no_client(self, target: Any, golden: Any) -> None:
        dev = (await target.request("POST", "/v1/dev_browser")).json()["id"]
        response = await target.request("GET", "/v1/client", params={"__clerk_db_jwt": dev})
        golden.check("client_empty", response, schema="Client.ClientWrappedClient")


class TestMethodOverrideAndPaths:
    """clerk-js sends ``POST ?_method=DELETE`` and ``/v1/me/backup_codes/`` with a trailing slash."""

    async def test_delete_totp_with_method_override(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, _ = await flows.enrolled()
        response = await device.post("/v1/me/totp", params={"_method": "DELETE"})
        golden.check("totp_delete_method_override", response, schema="Client.ClientWrappedDeletedObject")
        assert (await device.get("/v1/me")).json()["response"]["totp_enabled"] is False

    async def test_sign_out_with_method_override(self, target: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.post("/v1/client", params={"_method": "DELETE"})
        assert response.status_code == 200
        assert response.json()["client"]["last_active_session_id"] is None
        assert (await device.get("/v1/me")).status_code == 401

    async def test_backup_codes_trailing_slash(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, _ = await flows.enrolled()
        response = await device.post("/v1/me/backup_codes/")
        golden.check("backup_codes_create_trailing_slash", response, schema="Client.ClientWrappedBackupCodes")


class TestBodies:
    """Form bodies (what Clerk's clients send) and JSON bodies are read alike; empty POST bodies are fine."""

    async def test_json_sign_in_and_verify(self, target: Any, flows: Any) -> None:
        await flows.user()
        device = flows.device()
        response = await device.post(
            "/v1/client/sign_ins", json={"identifier": target.email("jane@example.com"), "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        device.session_id = response.json()["response"]["created_session_id"]
        secret = await flows.create_totp(device)
        response = await device.post("/v1/me/totp/attempt_verification", json={"code": target.fresh_code(secret)})
        assert response.status_code == 200, response.text
        assert response.json()["response"]["verified"] is True

    async def test_empty_form_body(self, target: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.post(
            "/v1/me/totp", content=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert response.status_code == 200, response.text
        assert response.json()["response"]["verified"] is False


class TestErrorsChangeNothing:
    """A 4xx answer leaves the state as it was; the next correct request still works."""

    async def test_wrong_enrolment_code(self, target: Any, flows: Any) -> None:
        device = await flows.signed_in()
        secret = await flows.create_totp(device)
        before = _without_jwts((await device.get("/v1/client")).json())
        step = time_step(target.now(), 30)
        right = totp_code(secret, at=target.now())
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        if wrong in {totp_code(secret, at=(step + offset) * 30) for offset in (-1, 0, 1)}:
            wrong = f"{(int(right) + 2) % 1_000_000:06d}"
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": wrong})
        assert response.status_code == 422
        me = (await device.get("/v1/me")).json()
        assert (me["response"]["totp_enabled"], me["response"]["two_factor_enabled"]) == (False, False)
        if target.exact:
            # Only the lockout counter moves (a failed attempt counts towards the lockout).
            after = _without_jwts((await device.get("/v1/client")).json())
            for snapshot, remaining in ((before, 10), (after, 9)):
                for wrapped in (snapshot["response"], snapshot["client"]):
                    user = wrapped["sessions"][0]["user"]
                    assert user.pop("verification_attempts_remaining") == remaining
            assert after == before
        # The failed attempt burned nothing: the code of the same step still works.
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": right})
        assert response.status_code == 200, response.text
        assert response.json()["response"]["verified"] is True

    async def test_replayed_code_is_rejected(self, target: Any, flows: Any) -> None:
        _, secret, _ = await flows.enrolled()
        device = flows.device()
        sign_in = await flows.sign_in(device)
        replay = totp_code(secret, at=target.now())
        response = await device.post(
            f"/v1/client/sign_ins/{sign_in['id']}/attempt_second_factor", data={"strategy": "totp", "code": replay}
        )
        if response.status_code == 200:
            # Live: enrolment used an earlier step, so this is the first use of this one; use it again.
            other = flows.device()
            sign_in = await flows.sign_in(other)
            response = await other.post(
                f"/v1/client/sign_ins/{sign_in['id']}/attempt_second_factor",
                data={"strategy": "totp", "code": replay},
            )
        assert response.status_code == 422
        assert response.json()["errors"][0]["code"] == "form_code_incorrect"

    async def test_wrong_second_factor(self, target: Any, flows: Any) -> None:
        device, secret, _, sign_in_id = await flows.needs_second_factor()
        path = f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor"
        response = await device.post(path, data={"strategy": "backup_code", "code": "not-a-code"})
        assert response.status_code == 422
        sign_in = (await device.get(f"/v1/client/sign_ins/{sign_in_id}")).json()
        assert sign_in["response"]["status"] == "needs_second_factor"
        assert sign_in["client"]["sessions"] == []
        assert sign_in["response"]["second_factor_verification"]["attempts"] == 1
        response = await device.post(path, data={"strategy": "totp", "code": target.fresh_code(secret)})
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete"

    async def test_totp_already_enabled_keeps_the_secret(self, target: Any, flows: Any) -> None:
        device, secret, _ = await flows.enrolled()
        assert (await device.post("/v1/me/totp")).status_code == 400
        other = flows.device()
        sign_in = await flows.sign_in(other)
        response = await other.post(
            f"/v1/client/sign_ins/{sign_in['id']}/attempt_second_factor",
            data={"strategy": "totp", "code": target.fresh_code(secret)},
        )
        assert response.status_code == 200, response.text

    async def test_backup_codes_not_available_creates_none(self, target: Any, flows: Any) -> None:
        device = await flows.signed_in()
        assert (await device.post("/v1/me/backup_codes")).status_code == 400
        me = (await device.get("/v1/me")).json()["response"]
        assert (me["backup_code_enabled"], me["two_factor_enabled"]) == (False, False)

    async def test_invalid_json_changes_nothing(self, target: Any, flows: Any) -> None:
        device = await flows.signed_in()
        secret = await flows.create_totp(device)
        response = await device.post(
            "/v1/me/totp/attempt_verification", content=b"{bad", headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": target.fresh_code(secret)})
        assert response.status_code == 200, response.text
