"""Backend API ``POST /v1/users`` and ``GET /v1/users/{id}``: Clerk's BAPI ``User`` and ``ClerkErrors``."""

from __future__ import annotations

from typing import Any

import httpx

PASSWORD = "correct horse battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def check_bapi_error(golden: Any, name: str, response: httpx.Response, status: int, code: str) -> Any:
    body = golden.check(f"errors/{name}", response, status=status, schema="ClerkErrors", api="bapi")
    assert [error["code"] for error in body["errors"]] == [code]
    return body


class TestUsers:
    """Creating and reading users, with and without imported MFA state."""

    async def test_create(self, target: Any, golden: Any) -> None:
        response = await target.request(
            "POST",
            "/v1/users",
            json={"email_address": [target.email("jane@example.com")], "password": PASSWORD},
            headers=_bearer(target.secret_key),
        )
        body = golden.check("bapi_user_create", response, schema="User", api="bapi")
        assert (body["totp_enabled"], body["backup_code_enabled"], body["two_factor_enabled"]) == (False, False, False)

    async def test_create_with_mfa_import(self, target: Any, golden: Any) -> None:
        response = await target.request(
            "POST",
            "/v1/users",
            json={
                "email_address": [target.email("jane@example.com")],
                "password": PASSWORD,
                "totp_secret": SECRET,
                "backup_codes": ["abcdefghjk", "mnpqrstuvw"],
            },
            headers=_bearer(target.secret_key),
        )
        body = golden.check("bapi_user_create_mfa", response, schema="User", api="bapi")
        assert (body["totp_enabled"], body["backup_code_enabled"], body["two_factor_enabled"]) == (True, True, True)

    async def test_get(self, target: Any, golden: Any) -> None:
        user = await target.create_user("jane@example.com")
        response = await target.request("GET", f"/v1/users/{user['id']}", headers=_bearer(target.secret_key))
        body = golden.check("bapi_user_get", response, schema="User", api="bapi")
        assert body == user


class TestUserErrors:
    """Authentication and validation failures; none of them creates a user."""

    async def test_wrong_secret_key(self, target: Any, golden: Any) -> None:
        response = await target.request(
            "POST",
            "/v1/users",
            json={"email_address": [target.email("jane@example.com")], "password": PASSWORD},
            headers=_bearer("sk_test_wrong"),
        )
        check_bapi_error(golden, "bapi_authentication_invalid", response, 401, "authentication_invalid")
        await self._assert_no_user(target)

    async def test_missing_secret_key(self, target: Any, golden: Any) -> None:
        response = await target.request("GET", "/v1/users/user_unknown")
        check_bapi_error(golden, "bapi_authentication_invalid_missing", response, 401, "authentication_invalid")

    async def test_client_token_is_not_a_secret_key(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        assert device.token
        user = (await device.get("/v1/me")).json()["response"]
        response = await target.request("GET", f"/v1/users/{user['id']}", headers=_bearer(device.token))
        check_bapi_error(golden, "bapi_authentication_invalid_client_token", response, 401, "authentication_invalid")
        response = await target.request("GET", f"/v1/users/{user['id']}", headers={"Authorization": device.token})
        assert response.status_code == 401

    async def test_invalid_totp_secret(self, target: Any, golden: Any) -> None:
        response = await target.request(
            "POST",
            "/v1/users",
            json={
                "email_address": [target.email("jane@example.com")],
                "password": PASSWORD,
                "totp_secret": "not base32!",
            },
            headers=_bearer(target.secret_key),
        )
        body = check_bapi_error(golden, "bapi_invalid_totp_secret_code", response, 422, "invalid_totp_secret_code")
        assert body["errors"][0]["meta"] == {"param_name": "totp_secret"}
        await self._assert_no_user(target)

    async def test_email_taken(self, target: Any, golden: Any) -> None:
        await target.create_user("jane@example.com")
        response = await target.request(
            "POST",
            "/v1/users",
            json={"email_address": [target.email("jane@example.com")], "password": PASSWORD},
            headers=_bearer(target.secret_key),
        )
        body = check_bapi_error(golden, "bapi_form_identifier_exists", response, 422, "form_identifier_exists")
        assert body["errors"][0]["meta"] == {"param_name": "email_address"}

    async def test_unknown_user(self, target: Any, golden: Any) -> None:
        response = await target.request("GET", "/v1/users/user_unknown", headers=_bearer(target.secret_key))
        check_bapi_error(golden, "bapi_resource_not_found", response, 404, "resource_not_found")

    @staticmethod
    async def _assert_no_user(target: Any) -> None:
        """The rejected request created nothing: the address is still free."""
        user = await target.create_user("jane@example.com")
        assert user["email_addresses"][0]["email_address"] == target.email("jane@example.com")
