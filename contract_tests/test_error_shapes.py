"""Every error the Frontend API emits: status, ``ClerkErrors`` schema, code, ``param_name`` and golden JSON."""

from __future__ import annotations

from typing import Any

import httpx

from totpkit.otp import totp_code

PASSWORD = "correct horse battery"


def check_error(
    golden: Any, name: str, response: httpx.Response, status: int, code: str, param: str | None = None
) -> Any:
    """The shared assertions of an error answer, then the golden comparison."""
    body = golden.check(f"errors/{name}", response, status=status, schema="ClerkErrors")
    assert len(body["errors"]) == 1
    error = body["errors"][0]
    assert error["code"] == code
    assert error["message"]
    assert error["long_message"]
    assert error.get("meta", {}).get("param_name") == param
    trace = response.headers.get("x-clerk-trace-id")
    assert trace is None or trace == body["clerk_trace_id"]
    return body


def _wrong_code(secret: str, at: float) -> str:
    valid = {totp_code(secret, at=at + offset * 30) for offset in range(-3, 4)}
    candidate = 0
    while f"{candidate:06d}" in valid:
        candidate += 1
    return f"{candidate:06d}"


class TestTOTPErrors:
    """``/v1/me/totp*``: already enabled, nothing to verify or delete, wrong and missing codes."""

    async def test_verify_wrong_code(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        secret = await flows.create_totp(device)
        response = await device.post(
            "/v1/me/totp/attempt_verification", data={"code": _wrong_code(secret, target.now())}
        )
        check_error(golden, "form_code_incorrect", response, 422, "form_code_incorrect", "code")

    async def test_verify_missing_code(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        await flows.create_totp(device)
        response = await device.post("/v1/me/totp/attempt_verification")
        check_error(golden, "form_param_missing_code", response, 422, "form_param_missing", "code")

    async def test_verify_without_totp(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": "123456"})
        check_error(golden, "resource_not_found_totp_verify", response, 404, "resource_not_found")

    async def test_verify_already_verified(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret, _ = await flows.enrolled()
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": target.fresh_code(secret)})
        check_error(golden, "totp_already_enabled_verify", response, 400, "totp_already_enabled")

    async def test_create_when_enabled(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, _ = await flows.enrolled()
        response = await device.post("/v1/me/totp")
        check_error(golden, "totp_already_enabled", response, 400, "totp_already_enabled")

    async def test_delete_without_totp(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.delete("/v1/me/totp")
        check_error(golden, "resource_not_found_totp_delete", response, 404, "resource_not_found")

    async def test_backup_codes_without_mfa(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.post("/v1/me/backup_codes")
        check_error(golden, "backup_codes_not_available", response, 400, "backup_codes_not_available")


class TestAuthenticationErrors:
    """Requests that name no usable client or session."""

    async def test_me_without_session(self, target: Any, golden: Any, flows: Any) -> None:
        response = await flows.device().get("/v1/me")
        check_error(golden, "authentication_invalid", response, 401, "authentication_invalid")

    async def test_totp_after_sign_out(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        assert (await device.delete("/v1/client")).status_code == 200
        response = await device.post("/v1/me/totp")
        check_error(golden, "authentication_invalid_signed_out", response, 401, "authentication_invalid")

    async def test_token_of_ended_session(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        assert (await device.delete("/v1/client")).status_code == 200
        response = await device.post(f"/v1/client/sessions/{device.session_id}/tokens")
        check_error(golden, "authentication_invalid_session_ended", response, 401, "authentication_invalid")

    async def test_unknown_dev_browser(self, target: Any, golden: Any) -> None:
        response = await target.request("GET", "/v1/client", params={"__clerk_db_jwt": "dvb_unknown"})
        check_error(golden, "dev_browser_unauthenticated", response, 401, "dev_browser_unauthenticated")

    async def test_native_without_authorization(self, target: Any, golden: Any) -> None:
        response = await target.request("GET", "/v1/client", params={"_is_native": "1"})
        check_error(golden, "request_header_missing", response, 400, "request_header_missing")

    async def test_native_with_origin(self, target: Any, golden: Any) -> None:
        response = await target.request(
            "GET",
            "/v1/client",
            params={"_is_native": "1"},
            headers={"Authorization": "", "Origin": "http://localhost:3000"},
        )
        check_error(
            golden, "origin_authorization_headers_conflict", response, 400, "origin_authorization_headers_conflict"
        )


class TestNotFound:
    """Unknown or foreign ids and unknown paths are 404 ``resource_not_found``."""

    async def test_sign_in_of_another_client(self, target: Any, golden: Any, flows: Any) -> None:
        await flows.user()
        owner = flows.device()
        sign_in = (
            await owner.post("/v1/client/sign_ins", data={"identifier": target.email("jane@example.com")})
        ).json()["response"]
        other = flows.device()
        assert (await other.request("PUT", "/v1/client")).status_code == 200
        response = await other.get(f"/v1/client/sign_ins/{sign_in['id']}")
        check_error(golden, "resource_not_found_sign_in", response, 404, "resource_not_found")
        response = await other.post(
            f"/v1/client/sign_ins/{sign_in['id']}/attempt_first_factor",
            data={"strategy": "password", "password": PASSWORD},
        )
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "resource_not_found"

    async def test_unknown_session(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.get("/v1/client/sessions/sess_unknown")
        check_error(golden, "resource_not_found_session", response, 404, "resource_not_found")

    async def test_unknown_path(self, target: Any, golden: Any) -> None:
        response = await target.request("GET", "/v1/nope")
        check_error(golden, "resource_not_found_path", response, 404, "resource_not_found")


class TestSignInErrors:
    """``/v1/client/sign_ins`` and its attempts."""

    async def test_missing_identifier(self, target: Any, golden: Any, flows: Any) -> None:
        response = await flows.device().post("/v1/client/sign_ins", data={"password": PASSWORD})
        check_error(golden, "form_param_missing_identifier", response, 422, "form_param_missing", "identifier")

    async def test_unknown_identifier(self, target: Any, golden: Any, flows: Any) -> None:
        response = await flows.device().post(
            "/v1/client/sign_ins", data={"identifier": target.email("nobody@example.com"), "password": PASSWORD}
        )
        check_error(golden, "form_identifier_not_found", response, 422, "form_identifier_not_found", "identifier")

    async def test_wrong_password(self, target: Any, golden: Any, flows: Any) -> None:
        await flows.user()
        response = await flows.device().post(
            "/v1/client/sign_ins", data={"identifier": target.email("jane@example.com"), "password": "wrong password"}
        )
        check_error(golden, "form_password_incorrect", response, 422, "form_password_incorrect", "password")

    async def test_second_factor_wrong_code(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret, _, sign_in_id = await flows.needs_second_factor()
        response = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
            data={"strategy": "totp", "code": _wrong_code(secret, target.now())},
        )
        check_error(golden, "form_code_incorrect_sign_in", response, 422, "form_code_incorrect", "code")

    async def test_second_factor_used_backup_code(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, codes, sign_in_id = await flows.needs_second_factor()
        first = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
            data={"strategy": "backup_code", "code": codes[0]},
        )
        assert first.status_code == 200
        second_device = flows.device()
        sign_in = await flows.sign_in(second_device)
        response = await second_device.post(
            f"/v1/client/sign_ins/{sign_in['id']}/attempt_second_factor",
            data={"strategy": "backup_code", "code": codes[0]},
        )
        check_error(golden, "form_code_incorrect_backup_code_reused", response, 422, "form_code_incorrect", "code")

    async def test_second_factor_missing_code(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, _, sign_in_id = await flows.needs_second_factor()
        response = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor", data={"strategy": "totp"}
        )
        check_error(golden, "form_param_missing_code_sign_in", response, 422, "form_param_missing", "code")

    async def test_second_factor_missing_strategy(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, _, sign_in_id = await flows.needs_second_factor()
        response = await device.post(f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor", data={"code": "123456"})
        check_error(golden, "form_param_missing_strategy", response, 422, "form_param_missing", "strategy")

    async def test_second_factor_unknown_strategy(self, target: Any, golden: Any, flows: Any) -> None:
        device, _, _, sign_in_id = await flows.needs_second_factor()
        response = await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor", data={"strategy": "phone_code", "code": "1"}
        )
        check_error(golden, "form_param_value_invalid_strategy", response, 422, "form_param_value_invalid", "strategy")

    async def test_second_factor_strategy_user_lacks(self, target: Any, golden: Any, flows: Any) -> None:
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        await flows.user(totp_secret=secret)
        device = flows.device()
        sign_in = await flows.sign_in(device)
        assert sign_in["status"] == "needs_second_factor"
        assert sign_in["supported_second_factors"] == [{"strategy": "totp"}]
        response = await device.post(
            f"/v1/client/sign_ins/{sign_in['id']}/attempt_second_factor",
            data={"strategy": "backup_code", "code": "abcdefghjk"},
        )
        check_error(golden, "strategy_for_user_invalid", response, 400, "strategy_for_user_invalid", "strategy")

    async def test_second_factor_on_completed_sign_in(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret, _, sign_in_id = await flows.needs_second_factor()
        path = f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor"
        first = await device.post(path, data={"strategy": "totp", "code": target.fresh_code(secret)})
        assert first.status_code == 200
        response = await device.post(path, data={"strategy": "totp", "code": target.fresh_code(secret)})
        check_error(golden, "client_state_invalid", response, 400, "client_state_invalid")

    async def test_sign_in_unknown_strategy(self, target: Any, golden: Any, flows: Any) -> None:
        response = await flows.device().post(
            "/v1/client/sign_ins", data={"identifier": target.email("jane@example.com"), "strategy": "oauth_google"}
        )
        check_error(
            golden, "form_param_value_invalid_sign_in_strategy", response, 422, "form_param_value_invalid", "strategy"
        )


class TestBodyErrors:
    """Bodies that cannot be read: malformed, wrongly typed, too large, unsupported media type."""

    async def test_malformed_json(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        await flows.create_totp(device)
        response = await device.post(
            "/v1/me/totp/attempt_verification", content=b"{bad", headers={"Content-Type": "application/json"}
        )
        check_error(golden, "form_param_format_invalid_json", response, 422, "form_param_format_invalid", "body")

    async def test_json_array_body(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        await flows.create_totp(device)
        response = await device.post("/v1/me/totp/attempt_verification", json=["123456"])
        check_error(golden, "form_param_format_invalid_json_type", response, 422, "form_param_format_invalid", "body")

    async def test_wrong_json_type(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        await flows.create_totp(device)
        response = await device.post("/v1/me/totp/attempt_verification", json={"code": 123456})
        check_error(golden, "form_param_format_invalid_code", response, 422, "form_param_format_invalid", "code")

    async def test_body_too_large(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        await flows.create_totp(device)
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": "1" * (70 * 1024)})
        check_error(golden, "request_body_too_large", response, 413, "request_body_too_large")

    async def test_unsupported_content_type(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        await flows.create_totp(device)
        response = await device.post(
            "/v1/me/totp/attempt_verification", content=b"code=123456", headers={"Content-Type": "text/plain"}
        )
        check_error(golden, "unsupported_content_type", response, 415, "unsupported_content_type")

    async def test_method_not_allowed(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await device.post("/v1/me/totp", params={"_method": "PUT"})
        check_error(golden, "method_not_allowed", response, 405, "method_not_allowed")
