"""Success answers of every Frontend API endpoint: status, content type, Clerk's schema and golden JSON."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey, RSAPublicNumbers

from totpkit_server.core.tokens import verify_jwt

PASSWORD = "correct horse battery"


def _public_keys(jwks: dict[str, Any]) -> dict[str, RSAPublicKey]:
    def number(text: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

    return {key["kid"]: RSAPublicNumbers(number(key["e"]), number(key["n"])).public_key() for key in jwks["keys"]}


class TestUnwrappedEndpoints:
    """Environment, JWKS and dev-browser answers are bare JSON, not ``{response, client}``."""

    async def test_environment(self, target: Any, golden: Any) -> None:
        response = await target.request("GET", "/v1/environment")
        golden.check("environment", response, schema="Client.Environment")

    async def test_environment_patch(self, target: Any, golden: Any) -> None:
        response = await target.request("PATCH", "/v1/environment")
        golden.check("environment", response, schema="Client.Environment")

    async def test_jwks(self, target: Any, golden: Any) -> None:
        response = await target.request("GET", "/.well-known/jwks.json")
        golden.check("jwks", response, schema="JWKS")

    async def test_dev_browser(self, target: Any, golden: Any) -> None:
        response = await target.request("POST", "/v1/dev_browser")
        body = golden.check("dev_browser", response)
        assert isinstance(body["id"], str)
        assert len(body["id"]) >= 20


class TestClient:
    """``/v1/client`` before and after signing in, and after signing out."""

    async def test_no_client_yet(self, target: Any, golden: Any, flows: Any) -> None:
        device = flows.device()
        response = await device.get("/v1/client")
        golden.check("client_empty", response, schema="Client.ClientWrappedClient")
        assert "authorization" not in response.headers or response.headers["authorization"] == ""

    async def test_create_client(self, target: Any, golden: Any, flows: Any) -> None:
        device = flows.device()
        response = await device.request("PUT", "/v1/client")
        golden.check("client_created", response, schema="Client.ClientWrappedClient")
        assert device.token, "the new client's token comes back in the Authorization header"

    async def test_signed_in(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.get("/v1/client")
        golden.check("client_signed_in", response, schema="Client.ClientWrappedClient")

    async def test_sign_out(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.delete("/v1/client")
        body = golden.check("client_signed_out", response, schema="Client.ClientWrappedClient")
        assert body["client"]["sessions"] == [] or all(s["status"] == "ended" for s in body["client"]["sessions"])
        assert body["client"]["last_active_session_id"] is None

    async def test_remove_sessions_keeps_the_client(self, target: Any, golden: Any, flows: Any) -> None:
        """clerk-js ``signOut()``: ``POST /v1/client/sessions?_method=DELETE`` ends every session, keeps the client."""
        device = await flows.signed_in()
        response = await device.post("/v1/client/sessions", params={"_method": "DELETE"})
        body = golden.check("client_sessions_removed", response, schema="Client.DeleteSession")
        assert body["response"]["sessions"] == []
        assert body["response"]["last_active_session_id"] is None
        assert device.token, "the client token is kept"


class TestSignIn:
    """``/v1/client/sign_ins``: password first factor, TOTP and backup-code second factor."""

    async def test_complete_without_mfa(self, target: Any, golden: Any, flows: Any) -> None:
        await flows.user()
        device = flows.device()
        response = await device.post(
            "/v1/client/sign_ins", data={"identifier": target.email("jane@example.com"), "password": PASSWORD}
        )
        body = golden.check("sign_in_complete", response, schema="Client.ClientWrappedSignIn")
        assert body["response"]["status"] == "complete"
        assert body["client"]["last_active_session_id"] == body["response"]["created_session_id"]
        assert body["client"]["sign_in"] is None
        assert device.token

    async def test_needs_first_factor(self, target: Any, golden: Any, flows: Any) -> None:
        await flows.user()
        device = flows.device()
        response = await device.post("/v1/client/sign_ins", data={"identifier": target.email("jane@example.com")})
        body = golden.check("sign_in_needs_first_factor", response, schema="Client.ClientWrappedSignIn")
        assert body["response"]["status"] == "needs_first_factor"
        sign_in_id = body["response"]["id"]
        response = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_first_factor",
            data={"strategy": "password", "password": PASSWORD},
        )
        body = golden.check("sign_in_first_factor_complete", response, schema="Client.ClientWrappedSignIn")
        assert body["response"]["status"] == "complete"

    async def test_needs_second_factor(self, target: Any, golden: Any, flows: Any) -> None:
        _, _, _ = await flows.enrolled()
        device = flows.device()
        response = await device.post(
            "/v1/client/sign_ins", data={"identifier": target.email("jane@example.com"), "password": PASSWORD}
        )
        body = golden.check("sign_in_needs_second_factor", response, schema="Client.ClientWrappedSignIn")
        sign_in = body["response"]
        assert sign_in["status"] == "needs_second_factor"
        assert sign_in["supported_second_factors"] == [{"strategy": "totp"}, {"strategy": "backup_code"}]
        assert body["client"]["sign_in"] == sign_in
        response = await device.get(f"/v1/client/sign_ins/{sign_in['id']}")
        golden.check("sign_in_get", response, schema="Client.ClientWrappedSignIn")

    async def test_second_factor_totp(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret, _, sign_in_id = await flows.needs_second_factor()
        response = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
            data={"strategy": "totp", "code": target.fresh_code(secret)},
        )
        body = golden.check("sign_in_complete_totp", response, schema="Client.ClientWrappedSignIn")
        sign_in = body["response"]
        assert sign_in["status"] == "complete"
        assert sign_in["second_factor_verification"]["object"] == "verification_totp"
        assert sign_in["second_factor_verification"]["status"] == "verified"
        assert body["client"]["last_active_session_id"] == sign_in["created_session_id"]

    async def test_second_factor_backup_code(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, codes, sign_in_id = await flows.needs_second_factor()
        response = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
            data={"strategy": "backup_code", "code": codes[0]},
        )
        body = golden.check("sign_in_complete_backup_code", response, schema="Client.ClientWrappedSignIn")
        assert body["response"]["second_factor_verification"]["strategy"] == "backup_code"


class TestSession:
    """Sessions: read, touch and mint session tokens that verify against the JWKS."""

    async def test_get(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.get(f"/v1/client/sessions/{device.session_id}")
        golden.check("session", response, schema="Client.ClientWrappedSession")

    async def test_touch(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        if target.time_travel:
            target.advance(30)
        response = await device.post(
            f"/v1/client/sessions/{device.session_id}/touch",
            data={"active_organization_id": "", "intent": "select_session"},
        )
        golden.check("session_touch", response, schema="Client.TouchWrappedSession")

    async def test_end(self, target: Any, golden: Any, flows: Any) -> None:
        """``/end`` answers the ended session; the client no longer lists it."""
        device = await flows.signed_in()
        response = await device.post(f"/v1/client/sessions/{device.session_id}/end")
        body = golden.check("session_end", response, schema="Client.ClientWrappedSession")
        assert body["response"]["status"] == "ended"
        assert body["client"]["sessions"] == []

    async def test_remove(self, target: Any, golden: Any, flows: Any) -> None:
        """``/remove`` (clerk-js ``session.remove()``) answers the session with status ``removed``."""
        device = await flows.signed_in()
        response = await device.post(f"/v1/client/sessions/{device.session_id}/remove")
        body = golden.check("session_remove", response, schema="Client.ClientWrappedSession")
        assert body["response"]["status"] == "removed"
        assert body["response"]["last_active_token"] is None

    async def test_token(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.post(f"/v1/client/sessions/{device.session_id}/tokens", data={"organization_id": ""})
        body = golden.check("token", response, schema="Token")
        jwks = (await target.request("GET", "/.well-known/jwks.json")).json()
        claims = verify_jwt(body["jwt"], _public_keys(jwks), now=target.now())
        user = (await device.get("/v1/me")).json()["response"]
        assert claims["sub"] == user["id"]
        assert claims["sid"] == device.session_id
        assert claims["v"] == 2
        assert claims["exp"] - claims["iat"] == 60
        assert claims["nbf"] == claims["iat"] - 10
        assert claims["fva"] == [0, -1]
        assert "azp" not in claims

    async def test_last_active_token_verifies(self, target: Any, flows: Any) -> None:
        device = await flows.signed_in()
        body = (await device.get(f"/v1/client/sessions/{device.session_id}")).json()
        jwks = (await target.request("GET", "/.well-known/jwks.json")).json()
        claims = verify_jwt(body["response"]["last_active_token"]["jwt"], _public_keys(jwks), now=target.now())
        assert claims["sid"] == device.session_id

    async def test_template_token(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.post(f"/v1/client/sessions/{device.session_id}/tokens/my_template")
        golden.check("token_template", response, schema="Token")


class TestMe:
    """``/v1/me``: the user, TOTP enrolment, backup codes and disabling TOTP."""

    async def test_me(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.get("/v1/me")
        body = golden.check("me", response, schema="Client.ClientWrappedUser")
        user = body["response"]
        assert (user["totp_enabled"], user["backup_code_enabled"], user["two_factor_enabled"]) == (False, False, False)

    async def test_totp_create(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.post("/v1/me/totp")
        body = golden.check("totp_create", response, schema="Client.ClientWrappedTOTP")
        totp = body["response"]
        assert totp["verified"] is False
        assert len(totp["secret"]) == 32
        assert totp["uri"].endswith(f"&period=30&secret={totp['secret']}")
        assert body["client"]["sessions"][0]["user"]["totp_enabled"] is False

    async def test_totp_verify(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        secret = await flows.create_totp(device)
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": target.fresh_code(secret)})
        body = golden.check("totp_verify", response, schema="Client.ClientWrappedTOTP")
        totp = body["response"]
        assert (totp["verified"], totp["secret"], totp["uri"]) == (True, None, None)
        assert len(totp["backup_codes"]) == 10
        user = body["client"]["sessions"][0]["user"]
        assert (user["totp_enabled"], user["backup_code_enabled"], user["two_factor_enabled"]) == (True, True, True)
        response = await device.get("/v1/me")
        golden.check("me_mfa_enabled", response, schema="Client.ClientWrappedUser")

    async def test_backup_codes_create(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, old_codes = await flows.enrolled()
        response = await device.post("/v1/me/backup_codes")
        body = golden.check("backup_codes_create", response, schema="Client.ClientWrappedBackupCodes")
        assert len(body["response"]["codes"]) == 10
        assert set(body["response"]["codes"]).isdisjoint(old_codes)

    async def test_totp_delete(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, _ = await flows.enrolled()
        response = await device.delete("/v1/me/totp")
        body = golden.check("totp_delete", response, schema="Client.ClientWrappedDeletedObject")
        assert body["response"]["object"] == "totp"
        assert body["response"]["deleted"] is True
        user = body["client"]["sessions"][0]["user"]
        assert (user["totp_enabled"], user["backup_code_enabled"], user["two_factor_enabled"]) == (False, False, False)
        assert user["mfa_disabled_at"] is not None
        response = await device.get("/v1/me")
        golden.check("me_mfa_disabled", response, schema="Client.ClientWrappedUser")
