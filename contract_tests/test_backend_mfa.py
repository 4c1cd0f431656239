"""Backend API MFA administration: every success and error shape, pinned and checked against Clerk's BAPI document.

``verify_totp`` and the three deletions answer inline schemas of their paths (validated as
``"<METHOD> <path> <status>"``); lock, unlock and update answer the BAPI ``User``; errors are
``ClerkErrors``. The Frontend API side of a lock (a sign-in refused with the time left) is pinned too.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from totpkit import AsyncBackend, PermissionDeniedError, UnprocessableEntityError
from totpkit.otp import totp_code

PASSWORD = "correct horse battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
VERIFY = "POST /users/{user_id}/verify_totp 200"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _lockout(user: Any) -> tuple[Any, ...]:
    return (user["locked"], user["lockout_expires_in_seconds"], user["verification_attempts_remaining"])


async def _sign_in(target: Any, flows: Any) -> httpx.Response:
    """A password sign-in of jane on a new device."""
    response: httpx.Response = await flows.device().post(
        "/v1/client/sign_ins", data={"identifier": target.email("jane@example.com"), "password": PASSWORD}
    )
    return response


def _wrong_code(target: Any, secret: str) -> str:
    """A six-digit code that is none of the secret's codes near the target's time."""
    valid = {totp_code(secret, at=target.now() + steps * 30) for steps in range(-3, 4)}
    return next(code for code in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if code not in valid)


class Admin:
    """Backend API requests to one target with its secret key."""

    def __init__(self, target: Any) -> None:
        self.target = target
        self.headers = _bearer(target.secret_key)

    async def verify(self, user_id: str, code: str) -> httpx.Response:
        path = f"/v1/users/{user_id}/verify_totp"
        response: httpx.Response = await self.target.request("POST", path, json={"code": code}, headers=self.headers)
        return response

    async def call(self, method: str, user_id: str, suffix: str = "", json: Any = None) -> httpx.Response:
        response: httpx.Response = await self.target.request(
            method, f"/v1/users/{user_id}{suffix}", json=json, headers=self.headers
        )
        return response


@pytest.fixture
def admin(target: Any) -> Admin:
    return Admin(target)


def check_bapi_error(golden: Any, name: str, response: httpx.Response, status: int, code: str) -> Any:
    body = golden.check(f"errors/{name}", response, status=status, schema="ClerkErrors", api="bapi")
    assert [error["code"] for error in body["errors"]] == [code]
    return body


class TestVerifyTotp:
    async def test_totp_code(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com", totp_secret=SECRET)
        response = await admin.verify(user["id"], target.fresh_code(SECRET))
        body = golden.check("bapi_verify_totp", response, schema=VERIFY, api="bapi")
        assert body == {"verified": True, "code_type": "totp"}

    async def test_backup_code(self, target: Any, golden: Any, admin: Admin) -> None:
        codes = ["imported01", "imported02"]
        user = await target.create_user("jane@example.com", totp_secret=SECRET, backup_codes=codes)
        response = await admin.verify(user["id"], "imported01")
        body = golden.check("bapi_verify_totp_backup_code", response, schema=VERIFY, api="bapi")
        assert body == {"verified": True, "code_type": "backup_code"}
        again = await admin.verify(user["id"], "imported01")
        check_bapi_error(golden, "bapi_totp_incorrect_code_backup_code_reused", again, 422, "totp_incorrect_code")

    async def test_totp_disabled(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com")
        response = await admin.verify(user["id"], "123456")
        check_bapi_error(golden, "bapi_totp_disabled", response, 400, "totp_disabled")

    async def test_incorrect_code(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com", totp_secret=SECRET)
        response = await admin.verify(user["id"], _wrong_code(target, SECRET))
        body = check_bapi_error(golden, "bapi_totp_incorrect_code", response, 422, "totp_incorrect_code")
        assert body["errors"][0]["meta"] == {"param_name": "code"}

    async def test_invalid_length(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com", totp_secret=SECRET)
        response = await admin.verify(user["id"], "12345")
        check_bapi_error(golden, "bapi_totp_invalid_length", response, 422, "totp_invalid_length")

    async def test_missing_code(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com", totp_secret=SECRET)
        response = await admin.call("POST", user["id"], "/verify_totp", json={})
        check_bapi_error(golden, "bapi_form_param_missing_code", response, 422, "form_param_missing")

    async def test_unknown_user(self, target: Any, golden: Any, admin: Admin) -> None:
        response = await admin.verify("user_unknown", "123456")
        check_bapi_error(golden, "bapi_resource_not_found_verify_totp", response, 404, "resource_not_found")

    async def test_lockout(self, target: Any, golden: Any, admin: Admin) -> None:
        """The tenth wrong code locks the user for an hour, answered with the time left."""
        user = await target.create_user("jane@example.com", totp_secret=SECRET)
        wrong = _wrong_code(target, SECRET)
        for _ in range(9):
            assert (await admin.verify(user["id"], wrong)).status_code == 422
        response = await admin.verify(user["id"], wrong)
        body = check_bapi_error(golden, "bapi_user_locked_lockout", response, 403, "user_locked")
        assert body["errors"][0]["meta"] == {"lockout_expires_in_seconds": 3600}


class TestDeletions:
    @pytest.mark.parametrize(
        ("suffix", "name", "after"),
        [
            ("/totp", "bapi_totp_delete", (False, False, False)),
            ("/backup_code", "bapi_backup_code_delete", (True, False, True)),
            ("/mfa", "bapi_mfa_delete", (False, False, False)),
        ],
    )
    async def test_delete(
        self, target: Any, golden: Any, admin: Admin, suffix: str, name: str, after: tuple[bool, ...]
    ) -> None:
        user = await target.create_user("jane@example.com", totp_secret=SECRET, backup_codes=["imported01"])
        response = await admin.call("DELETE", user["id"], suffix)
        body = golden.check(name, response, schema=f"DELETE /users/{{user_id}}{suffix} 200", api="bapi")
        assert body == {"user_id": user["id"]}
        got = (await admin.call("GET", user["id"])).json()
        assert (got["totp_enabled"], got["backup_code_enabled"], got["two_factor_enabled"]) == after

    @pytest.mark.parametrize("suffix", ["/totp", "/backup_code", "/mfa"])
    async def test_unknown_user(self, target: Any, golden: Any, admin: Admin, suffix: str) -> None:
        response = await admin.call("DELETE", "user_unknown", suffix)
        name = f"bapi_resource_not_found_delete_{suffix.strip('/')}"
        check_bapi_error(golden, name, response, 404, "resource_not_found")


class TestLock:
    async def test_lock_and_unlock(self, target: Any, golden: Any, admin: Admin, flows: Any) -> None:
        """Locked for the lockout duration (an hour): the User counts it down, FAPI sign-ins get
        ``user_locked`` with the time left; unlock lifts it at once."""
        user = await target.create_user("jane@example.com")
        locked = golden.check(
            "bapi_user_lock", await admin.call("POST", user["id"], "/lock"), schema="User", api="bapi"
        )
        assert _lockout(locked) == (True, 3600, 0)
        body = golden.check(
            "errors/user_locked_by_lock", await _sign_in(target, flows), status=403, schema="ClerkErrors"
        )
        assert (body["errors"][0]["code"], body["errors"][0]["meta"]) == (
            "user_locked",
            {"lockout_expires_in_seconds": 3600},
        )
        unlocked = await admin.call("POST", user["id"], "/unlock")
        body = golden.check("bapi_user_unlock", unlocked, schema="User", api="bapi")
        assert (body["locked"], body["verification_attempts_remaining"]) == (False, 10)
        assert (await flows.sign_in(flows.device()))["status"] == "complete"

    async def test_lock_ends_by_itself(self, target: Any, admin: Admin, flows: Any) -> None:
        """One second before the hour is over the lock still holds; then the user signs in again."""
        user = await target.create_user("jane@example.com")
        assert (await admin.call("POST", user["id"], "/lock")).status_code == 200
        target.advance(3599)
        refused = await _sign_in(target, flows)
        assert refused.status_code == 403, refused.text
        assert refused.json()["errors"][0]["meta"] == {"lockout_expires_in_seconds": 1}
        target.advance(1)
        assert _lockout((await admin.call("GET", user["id"])).json()) == (False, None, 10)
        assert (await flows.sign_in(flows.device()))["status"] == "complete"

    async def test_verify_while_locked(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com", totp_secret=SECRET)
        assert (await admin.call("POST", user["id"], "/lock")).status_code == 200
        response = await admin.verify(user["id"], target.fresh_code(SECRET))
        check_bapi_error(golden, "bapi_user_locked", response, 403, "user_locked")

    @pytest.mark.parametrize("action", ["lock", "unlock"])
    async def test_unknown_user(self, target: Any, golden: Any, admin: Admin, action: str) -> None:
        response = await admin.call("POST", "user_unknown", f"/{action}")
        check_bapi_error(golden, f"bapi_resource_not_found_{action}", response, 404, "resource_not_found")


class TestUpdate:
    async def test_update(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com")
        target.advance(60)
        body = {"first_name": "Jane", "last_name": "Doe", "totp_secret": SECRET, "backup_codes": ["imported01"]}
        response = await admin.call("PATCH", user["id"], json=body)
        updated = golden.check("bapi_user_update", response, schema="User", api="bapi")
        assert (updated["totp_enabled"], updated["backup_code_enabled"], updated["first_name"]) == (True, True, "Jane")
        assert (await admin.verify(user["id"], target.fresh_code(SECRET))).status_code == 200

    async def test_invalid_totp_secret(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com")
        response = await admin.call("PATCH", user["id"], json={"first_name": "Jane", "totp_secret": "not base32!"})
        body = check_bapi_error(
            golden, "bapi_invalid_totp_secret_code_update", response, 422, "invalid_totp_secret_code"
        )
        assert body["errors"][0]["meta"] == {"param_name": "totp_secret"}
        assert (await admin.call("GET", user["id"])).json() == user

    async def test_unknown_field(self, target: Any, golden: Any, admin: Admin) -> None:
        user = await target.create_user("jane@example.com")
        response = await admin.call("PATCH", user["id"], json={"password": "a new password"})
        body = check_bapi_error(golden, "bapi_form_param_unknown", response, 422, "form_param_unknown")
        assert body["errors"][0]["meta"] == {"param_name": "password"}

    async def test_unknown_user(self, target: Any, golden: Any, admin: Admin) -> None:
        response = await admin.call("PATCH", "user_unknown", json={"first_name": "Jane"})
        check_bapi_error(golden, "bapi_resource_not_found_update", response, 404, "resource_not_found")


ROUTES = [
    ("POST", "/verify_totp"),
    ("DELETE", "/totp"),
    ("DELETE", "/backup_code"),
    ("DELETE", "/mfa"),
    ("POST", "/lock"),
    ("POST", "/unlock"),
    ("PATCH", ""),
]


class TestCredentials:
    @pytest.mark.parametrize(("method", "suffix"), ROUTES)
    async def test_client_token_is_refused(
        self, target: Any, spec: Any, flows: Any, admin: Admin, method: str, suffix: str
    ) -> None:
        """A signed-in FAPI client's token, as a bearer, a raw header or a cookie, is never a secret key."""
        device = await flows.signed_in()
        user = (await device.get("/v1/me")).json()["response"]
        path = f"/v1/users/{user['id']}{suffix}"
        for headers in (_bearer(device.token), {"Authorization": device.token}, {"Cookie": f"__client={device.token}"}):
            response = await target.request(method, path, json={"code": "123456"}, headers=headers)
            assert response.status_code == 401, response.text
            spec.validate("bapi", "ClerkErrors", response.json())
            assert response.json()["errors"][0]["code"] == "authentication_invalid"
        assert (await admin.call("GET", user["id"])).json()["locked"] is False


class TestSDK:
    async def test_async_backend_decodes_every_answer(self, target: Any) -> None:
        """``AsyncBackend`` against the server and the fake: each method's answer decodes into its struct."""
        bapi = AsyncBackend(
            target.base_url, secret_key=target.secret_key, http_client=target.http_client, max_retries=0
        )
        created = await bapi.create_user(email_address=[target.email("jane@example.com")], password=PASSWORD)
        user = await bapi.update_user(created.id, last_name="Doe", totp_secret=SECRET, backup_codes=["imported01"])
        assert (user.last_name, user.totp_enabled, user.backup_code_enabled) == ("Doe", True, True)
        checked = await bapi.verify_totp(created.id, target.fresh_code(SECRET))
        assert (checked.verified, checked.code_type) == (True, "totp")
        with pytest.raises(UnprocessableEntityError) as wrong:
            await bapi.verify_totp(created.id, "not-a-code")
        assert wrong.value.code == "totp_incorrect_code"
        assert (await bapi.verify_totp(created.id, "imported01")).code_type == "backup_code"
        locked = await bapi.lock_user(created.id)
        assert (locked.locked, locked.lockout_expires_in_seconds) == (True, 3600)
        with pytest.raises(PermissionDeniedError):
            await bapi.verify_totp(created.id, target.fresh_code(SECRET))
        assert (await bapi.unlock_user(created.id)).locked is False
        assert (await bapi.delete_backup_codes(created.id)).user_id == created.id
        assert (await bapi.delete_totp(created.id)).user_id == created.id
        assert (await bapi.disable_mfa(created.id)).user_id == created.id
        assert (await bapi.get_user(created.id)).two_factor_enabled is False
