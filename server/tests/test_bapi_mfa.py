"""Backend API MFA administration: verify a user's code, delete TOTP / backup codes / MFA, lock, update.

Every test drives the real app through the Backend API (secret key) and checks the effect where a
user would meet it: on ``GET /v1/users/{id}`` and on Frontend API sign-ins.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from totpkit_server.storage.factory import create_store

pytestmark = pytest.mark.both_backends

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def lockout_fields(user: dict[str, Any]) -> tuple[Any, ...]:
    """A User's ``(locked, lockout_expires_in_seconds, verification_attempts_remaining)``."""
    return (user["locked"], user["lockout_expires_in_seconds"], user["verification_attempts_remaining"])


def wrong_code(kit: Any, secret: str) -> str:
    """A 6-digit code that matches no step within ±2 of the fake clock."""
    valid = {kit.code(secret, steps) for steps in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in valid)


class Admin:
    """Backend API calls with the instance's secret key."""

    def __init__(self, kit: Any) -> None:
        self.kit = kit
        self.auth = {"Authorization": f"Bearer {kit.secret_key}"}

    async def verify(self, user_id: str, code: Any) -> httpx.Response:
        response: httpx.Response = await self.kit.http.post(
            f"/v1/users/{user_id}/verify_totp", json={"code": code}, headers=self.auth
        )
        return response

    async def delete(self, user_id: str, what: str) -> httpx.Response:
        response: httpx.Response = await self.kit.http.delete(f"/v1/users/{user_id}/{what}", headers=self.auth)
        return response

    async def post(self, user_id: str, action: str) -> httpx.Response:
        response: httpx.Response = await self.kit.http.post(f"/v1/users/{user_id}/{action}", headers=self.auth)
        return response

    async def patch(self, user_id: str, body: Any) -> httpx.Response:
        response: httpx.Response = await self.kit.http.patch(f"/v1/users/{user_id}", json=body, headers=self.auth)
        return response

    async def user(self, user_id: str) -> dict[str, Any]:
        response = await self.kit.bapi_get_user(user_id)
        assert response.status_code == 200, response.text
        return dict(response.json())


@pytest.fixture
def admin(kit: Any) -> Admin:
    return Admin(kit)


class TestVerifyTotp:
    async def test_totp_code_is_verified_once(self, kit: Any, admin: Admin) -> None:
        """A current TOTP code answers ``{verified, code_type: totp}``; the same code again is refused."""
        enrolled = await kit.enrolled_user()
        code = kit.code(enrolled.secret)
        response = await admin.verify(enrolled.user_id, code)
        assert response.status_code == 200, response.text
        assert response.json() == {"verified": True, "code_type": "totp"}
        kit.error(await admin.verify(enrolled.user_id, code), 422, "totp_incorrect_code")

    async def test_code_used_at_sign_in_is_refused(self, kit: Any, admin: Admin) -> None:
        """Sign-in and the Backend API share one replay guard: a code accepted by one fails on the other."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        code = kit.code(enrolled.secret)
        assert (await kit.attempt_second_factor(device, sign_in_id, "totp", code)).status_code == 200
        kit.error(await admin.verify(enrolled.user_id, code), 422, "totp_incorrect_code")
        kit.next_step()
        code = kit.code(enrolled.secret)
        assert (await admin.verify(enrolled.user_id, code)).status_code == 200
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        kit.error(await kit.attempt_second_factor(device, sign_in_id, "totp", code), 422, "form_code_incorrect")

    async def test_backup_code_is_consumed(self, kit: Any, admin: Admin) -> None:
        """A backup code answers ``code_type: backup_code`` once; it no longer works anywhere."""
        enrolled = await kit.enrolled_user()
        code = enrolled.backup_codes[0]
        response = await admin.verify(enrolled.user_id, code)
        assert response.status_code == 200, response.text
        assert response.json() == {"verified": True, "code_type": "backup_code"}
        kit.error(await admin.verify(enrolled.user_id, code), 422, "totp_incorrect_code")
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        used = await kit.attempt_second_factor(device, sign_in_id, "backup_code", code)
        kit.error(used, 422, "form_code_incorrect")
        other = await kit.attempt_second_factor(device, sign_in_id, "backup_code", enrolled.backup_codes[1])
        assert other.status_code == 200, other.text

    async def test_errors(self, kit: Any, admin: Admin) -> None:
        """404 unknown user, 400 without TOTP, 422 for a missing, wrong or impossible code."""
        kit.error(await admin.verify("user_unknown", "123456"), 404, "resource_not_found")
        plain = await kit.create_user()
        kit.error(await admin.verify(plain["id"], "123456"), 400, "totp_disabled")
        codes_only = await kit.create_user(backup_codes=["imported01"])
        kit.error(await admin.verify(codes_only["id"], "imported01"), 400, "totp_disabled")
        totp_only = await kit.create_user(totp_secret=SECRET)
        missing = await kit.http.post(f"/v1/users/{totp_only['id']}/verify_totp", json={}, headers=admin.auth)
        kit.error(missing, 422, "form_param_missing")
        for code in ("12345", "1234567", "imported01"):
            response = await admin.verify(totp_only["id"], code)
            kit.error(response, 422, "totp_invalid_length")
            assert response.json()["errors"][0]["meta"] == {"param_name": "code"}
        wrong = await admin.verify(totp_only["id"], wrong_code(kit, SECRET))
        kit.error(wrong, 422, "totp_incorrect_code")
        assert wrong.json()["errors"][0]["meta"] == {"param_name": "code"}
        kit.error(await admin.verify(totp_only["id"], "abcdef"), 422, "totp_incorrect_code")

    async def test_failures_count_towards_the_lockout(self, kit: Any, admin: Admin) -> None:
        """Wrong codes lock the user like sign-in failures; locked, even the right code is refused."""
        enrolled = await kit.enrolled_user()
        bad = wrong_code(kit, enrolled.secret)
        for attempt in range(1, 10):
            kit.error(await admin.verify(enrolled.user_id, bad), 422, "totp_incorrect_code")
            assert (await admin.user(enrolled.user_id))["verification_attempts_remaining"] == 10 - attempt
        locking = await admin.verify(enrolled.user_id, bad)
        kit.error(locking, 403, "user_locked")
        assert locking.json()["errors"][0]["meta"] == {"lockout_expires_in_seconds": 3600}
        kit.error(await admin.verify(enrolled.user_id, kit.code(enrolled.secret)), 403, "user_locked")
        kit.error(await admin.verify(enrolled.user_id, enrolled.backup_codes[0]), 403, "user_locked")
        _, sign_in = await kit.start_sign_in(enrolled.email)
        kit.error(sign_in, 403, "user_locked")
        kit.clock.advance(3601)
        assert (await admin.verify(enrolled.user_id, enrolled.backup_codes[0])).status_code == 200

    async def test_success_resets_and_impossible_codes_do_not_count(self, kit: Any, admin: Admin) -> None:
        """A success resets the count; a code of an impossible length changes no counter."""
        user_id = (await kit.create_user(totp_secret=SECRET))["id"]
        for _ in range(3):
            kit.error(await admin.verify(user_id, wrong_code(kit, SECRET)), 422, "totp_incorrect_code")
        assert (await admin.user(user_id))["verification_attempts_remaining"] == 7
        for _ in range(12):
            kit.error(await admin.verify(user_id, "12345"), 422, "totp_invalid_length")
        assert (await admin.user(user_id))["verification_attempts_remaining"] == 7
        assert (await admin.verify(user_id, kit.code(SECRET))).status_code == 200
        assert (await admin.user(user_id))["verification_attempts_remaining"] == 10

    async def test_concurrent_verifications_accept_a_code_once(self, live_apps: Any, make_config: Any) -> None:
        """20 concurrent checks of one TOTP code, then of one backup code: exactly one of each succeeds."""
        kit = await live_apps.start(make_config(lockout_max_attempts=100))
        admin = Admin(kit)
        enrolled = await kit.enrolled_user()
        for code in (kit.code(enrolled.secret), enrolled.backup_codes[0]):
            responses = await asyncio.gather(*(admin.verify(enrolled.user_id, code) for _ in range(20)))
            statuses = [response.status_code for response in responses]
            assert statuses.count(200) == 1, statuses
            assert set(statuses) == {200, 422}, statuses


class TestDelete:
    async def test_delete_totp(self, kit: Any, admin: Admin) -> None:
        """DELETE totp disables MFA like ``DELETE /v1/me/totp``; a second call changes nothing."""
        enrolled = await kit.enrolled_user()
        before = await admin.user(enrolled.user_id)
        kit.clock.advance(5)
        response = await admin.delete(enrolled.user_id, "totp")
        assert response.status_code == 200, response.text
        assert response.json() == {"user_id": enrolled.user_id}
        after = await admin.user(enrolled.user_id)
        assert (after["totp_enabled"], after["backup_code_enabled"], after["two_factor_enabled"]) == (False,) * 3
        assert after["mfa_enabled_at"] == before["mfa_enabled_at"]
        assert after["mfa_disabled_at"] == after["updated_at"] == int(kit.clock.now * 1000)
        kit.clock.advance(5)
        again = await admin.delete(enrolled.user_id, "totp")
        assert again.json() == {"user_id": enrolled.user_id}
        assert await admin.user(enrolled.user_id) == after
        await kit.sign_in(enrolled.email)

    async def test_delete_backup_codes(self, kit: Any, admin: Admin) -> None:
        """DELETE backup_code removes the codes only: TOTP still guards sign-in, codes no longer work."""
        enrolled = await kit.enrolled_user()
        response = await admin.delete(enrolled.user_id, "backup_code")
        assert response.status_code == 200, response.text
        assert response.json() == {"user_id": enrolled.user_id}
        user = await admin.user(enrolled.user_id)
        assert (user["totp_enabled"], user["backup_code_enabled"], user["mfa_disabled_at"]) == (True, False, None)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        refused = await kit.attempt_second_factor(device, sign_in_id, "backup_code", enrolled.backup_codes[0])
        kit.error(refused, 400, "strategy_for_user_invalid")
        kit.clock.advance(5)
        assert (await admin.delete(enrolled.user_id, "backup_code")).status_code == 200
        assert await admin.user(enrolled.user_id) == user

    async def test_disable_mfa(self, kit: Any, admin: Admin) -> None:
        """DELETE mfa removes TOTP and codes at once; imported codes alone leave ``mfa_disabled_at`` unset."""
        enrolled = await kit.enrolled_user()
        response = await admin.delete(enrolled.user_id, "mfa")
        assert response.status_code == 200, response.text
        assert response.json() == {"user_id": enrolled.user_id}
        user = await admin.user(enrolled.user_id)
        assert (user["two_factor_enabled"], user["backup_code_enabled"]) == (False, False)
        assert user["mfa_disabled_at"] == int(kit.clock.now * 1000)
        await kit.sign_in(enrolled.email)
        codes_only = await kit.create_user(backup_codes=["imported01"])
        assert (await admin.delete(codes_only["id"], "mfa")).status_code == 200
        user = await admin.user(codes_only["id"])
        assert (user["backup_code_enabled"], user["mfa_disabled_at"]) == (False, None)

    async def test_disable_mfa_removes_a_pending_totp(self, kit: Any, admin: Admin) -> None:
        """An enrolment in progress is cancelled: verifying it afterwards finds no TOTP."""
        _, device = await kit.user_and_device()
        secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
        user_id = (await device.me())["id"]
        assert (await admin.delete(user_id, "mfa")).status_code == 200
        late = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})
        kit.error(late, 404, "resource_not_found")

    @pytest.mark.parametrize("what", ["totp", "backup_code", "mfa"])
    async def test_unknown_user(self, kit: Any, admin: Admin, what: str) -> None:
        kit.error(await admin.delete("user_unknown", what), 404, "resource_not_found")


class TestLock:
    async def test_lock_lasts_the_lockout_duration(self, live_apps: Any, make_config: Any) -> None:
        """``lockout_duration=120``: the lock answers 120 s left and 0 attempts; it refuses sign-ins and
        code checks one second before its end with the time left, and ends by itself with a fresh count."""
        kit = await live_apps.start(make_config(lockout_duration=120))
        admin = Admin(kit)
        email = kit.new_email()
        user_id = (await kit.create_user(email, totp_secret=SECRET))["id"]
        for _ in range(3):
            kit.error(await admin.verify(user_id, wrong_code(kit, SECRET)), 422, "totp_incorrect_code")
        locked = await admin.post(user_id, "lock")
        assert locked.status_code == 200, locked.text
        body = locked.json()
        assert lockout_fields(body) == (True, 120, 0)
        assert body == await admin.user(user_id)
        kit.clock.advance(119)
        assert lockout_fields(await admin.user(user_id)) == (True, 1, 0)
        _, refused = await kit.start_sign_in(email)
        kit.error(refused, 403, "user_locked")
        error = refused.json()["errors"][0]
        assert error["meta"] == {"lockout_expires_in_seconds": 1}
        assert "try again in 1 minutes" in error["long_message"]
        checked = await admin.verify(user_id, kit.code(SECRET))
        kit.error(checked, 403, "user_locked")
        assert checked.json()["errors"][0]["meta"] == {"lockout_expires_in_seconds": 1}
        kit.clock.advance(1)
        assert lockout_fields(await admin.user(user_id)) == (False, None, 10)
        _, allowed = await kit.start_sign_in(email)
        assert allowed.status_code == 200, allowed.text
        assert (await admin.verify(user_id, kit.code(SECRET))).status_code == 200

    async def test_lock_never_shortens_a_longer_lockout(self, live_apps: Any, make_config: Any) -> None:
        """A lockout of an hour, then a lock by an instance configured for a minute: the hour is kept.
        Locking again later restarts the duration from then."""
        hour = await live_apps.start(make_config(seed=7))
        minute = await live_apps.start(make_config(seed=7, lockout_duration=60))  # the same database and keys
        user_id = (await hour.create_user(totp_secret=SECRET))["id"]
        for _ in range(10):
            await Admin(hour).verify(user_id, wrong_code(hour, SECRET))
        hour.clock.advance(600)
        assert lockout_fields(await Admin(minute).user(user_id)) == (True, 3000, 0)
        assert lockout_fields((await Admin(minute).post(user_id, "lock")).json()) == (True, 3000, 0)
        hour.clock.advance(3000)
        assert lockout_fields(await Admin(minute).user(user_id)) == (False, None, 10)
        assert lockout_fields((await Admin(minute).post(user_id, "lock")).json()) == (True, 60, 0)
        hour.clock.advance(30)
        assert lockout_fields((await Admin(hour).post(user_id, "lock")).json()) == (True, 3600, 0)

    async def test_lock_refuses_second_factor_and_backend_checks(self, kit: Any, admin: Admin) -> None:
        """Locked mid-sign-in: the right code is refused at sign-in and on the Backend API alike, with
        the hour left; unlock lifts the lock at once."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        assert (await admin.post(enrolled.user_id, "lock")).status_code == 200
        code = kit.code(enrolled.secret)
        for refused in (
            await kit.attempt_second_factor(device, sign_in_id, "totp", code),
            await admin.verify(enrolled.user_id, code),
        ):
            kit.error(refused, 403, "user_locked")
            assert refused.json()["errors"][0]["meta"] == {"lockout_expires_in_seconds": 3600}
        unlocked = await admin.post(enrolled.user_id, "unlock")
        assert lockout_fields(unlocked.json()) == (False, None, 10)
        assert (await kit.attempt_second_factor(device, sign_in_id, "totp", code)).status_code == 200

    async def test_unlock_lifts_a_lockout(self, kit: Any, admin: Admin) -> None:
        """Unlock also ends a lockout from failed codes and resets the count."""
        enrolled = await kit.enrolled_user()
        for _ in range(10):
            await admin.verify(enrolled.user_id, wrong_code(kit, enrolled.secret))
        assert (await admin.user(enrolled.user_id))["locked"] is True
        body = (await admin.post(enrolled.user_id, "unlock")).json()
        assert (body["locked"], body["verification_attempts_remaining"]) == (False, 10)
        assert (await admin.verify(enrolled.user_id, kit.code(enrolled.secret))).status_code == 200

    async def test_lock_survives_profile_writes_and_restarts(self, kit: Any, admin: Admin) -> None:
        """A stale user record written back (as sign-ins do) keeps the lock; so does reopening the store."""
        email, _ = await kit.user_and_device()
        now = kit.config.now_ms()
        async with create_store(kit.config) as store:
            stale = await store.get_user_by_email(email)
            assert stale is not None
            locked = await store.lock_user(stale.id, at=now, lockout_ms=3_600_000)
            assert locked is not None
            await store.update_user(stale)
        async with create_store(kit.config) as store:
            reopened = await store.get_user(stale.id)
            assert reopened is not None
            assert (reopened.locked_until, reopened.failed_attempts) == (now + 3_600_000, 0)
        _, refused = await kit.start_sign_in(email)
        kit.error(refused, 403, "user_locked")
        assert refused.json()["errors"][0]["meta"] == {"lockout_expires_in_seconds": 3600}

    @pytest.mark.parametrize("action", ["lock", "unlock"])
    async def test_unknown_user(self, kit: Any, admin: Admin, action: str) -> None:
        kit.error(await admin.post("user_unknown", action), 404, "resource_not_found")


class TestUpdate:
    async def test_import_totp_secret(self, kit: Any, admin: Admin) -> None:
        """An imported secret replaces the TOTP with a verified one: sign-in then needs its codes."""
        enrolled = await kit.enrolled_user()
        response = await admin.patch(enrolled.user_id, {"totp_secret": SECRET})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["totp_enabled"], body["two_factor_enabled"], body["backup_code_enabled"]) == (True, True, True)
        assert body == await admin.user(enrolled.user_id)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        old = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        kit.error(old, 422, "form_code_incorrect")
        assert (await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(SECRET))).status_code == 200

    async def test_import_backup_codes_and_names(self, kit: Any, admin: Admin) -> None:
        """Imported codes replace the set; names change, and ``null`` clears one."""
        enrolled = await kit.enrolled_user()
        kit.clock.advance(5)
        body = {"backup_codes": ["imported01", "imported02"], "first_name": "Ada", "last_name": "Lovelace"}
        response = await admin.patch(enrolled.user_id, body)
        assert response.status_code == 200, response.text
        user = response.json()
        assert (user["first_name"], user["last_name"]) == ("Ada", "Lovelace")
        assert user["updated_at"] == int(kit.clock.now * 1000)
        kit.error(await admin.verify(enrolled.user_id, enrolled.backup_codes[0]), 422, "totp_incorrect_code")
        verified = await admin.verify(enrolled.user_id, "imported02")
        assert verified.json() == {"verified": True, "code_type": "backup_code"}
        cleared = await admin.patch(enrolled.user_id, {"last_name": None})
        assert (cleared.json()["first_name"], cleared.json()["last_name"]) == ("Ada", None)

    async def test_empty_body_changes_nothing(self, kit: Any, admin: Admin) -> None:
        user = await kit.create_user()
        kit.clock.advance(5)
        response = await admin.patch(user["id"], {})
        assert response.status_code == 200, response.text
        assert response.json() == user

    @pytest.mark.parametrize(
        ("body", "status", "code"),
        [
            ({"totp_secret": "not base32!"}, 422, "invalid_totp_secret_code"),
            ({"totp_secret": "JBSW"}, 422, "invalid_totp_secret_code"),
            ({"first_name": "Ada", "totp_secret": "not base32!"}, 422, "invalid_totp_secret_code"),
            ({"backup_codes": [""]}, 422, "form_param_format_invalid"),
            ({"backup_codes": "x" * 200}, 422, "form_param_format_invalid"),
            ({"backup_codes": [1, 2]}, 422, "form_param_format_invalid"),
            ({"first_name": "x" * 257}, 422, "form_param_format_invalid"),
            ({"first_name": 7}, 422, "form_param_format_invalid"),
            ({"password": "a new password"}, 422, "form_param_unknown"),
            ({"first_name": "Ada", "username": "ada"}, 422, "form_param_unknown"),
        ],
    )
    async def test_invalid_bodies_change_nothing(
        self, kit: Any, admin: Admin, body: dict[str, Any], status: int, code: str
    ) -> None:
        """Any invalid field refuses the whole update: the user reads the same afterwards."""
        enrolled = await kit.enrolled_user()
        before = await admin.user(enrolled.user_id)
        kit.clock.advance(5)
        kit.error(await admin.patch(enrolled.user_id, body), status, code)
        assert await admin.user(enrolled.user_id) == before
        assert (await admin.verify(enrolled.user_id, enrolled.backup_codes[0])).status_code == 200

    async def test_invalid_secret_names_the_param(self, kit: Any, admin: Admin) -> None:
        user = await kit.create_user()
        response = await admin.patch(user["id"], {"totp_secret": "not base32!"})
        assert response.json()["errors"][0]["meta"] == {"param_name": "totp_secret"}
        unknown = await admin.patch(user["id"], {"password": "a new password"})
        assert unknown.json()["errors"][0]["meta"] == {"param_name": "password"}

    async def test_unknown_user(self, kit: Any, admin: Admin) -> None:
        kit.error(await admin.patch("user_unknown", {"first_name": "Ada"}), 404, "resource_not_found")


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
    async def test_only_the_secret_key_is_accepted(self, kit: Any, admin: Admin, method: str, suffix: str) -> None:
        """No key, a forged key, a FAPI client token (header or cookie) or a session JWT: 401, nothing changes."""
        enrolled = await kit.enrolled_user()
        session_id = await kit.active_session_id(enrolled.device)
        jwt = (await enrolled.device.post(f"/v1/client/sessions/{session_id}/tokens")).json()["jwt"]
        token = enrolled.device.token
        before = await admin.user(enrolled.user_id)
        variants: list[dict[str, str]] = [
            {},
            {"Authorization": f"Bearer {kit.secret_key}x"},
            {"Authorization": f"Bearer {kit.secret_key[:-1]}"},
            {"Authorization": kit.secret_key},
            {"Authorization": f"Bearer {token}"},
            {"Authorization": token},
            {"Authorization": f"Bearer {jwt}"},
            {"Cookie": f"__client={token}"},
        ]
        body = {"code": enrolled.backup_codes[0]} if suffix == "/verify_totp" else {"totp_secret": SECRET}
        for headers in variants:
            kit.http.cookies.clear()
            response = await kit.http.request(
                method, f"/v1/users/{enrolled.user_id}{suffix}", json=body, headers=headers
            )
            kit.error(response, 401, "authentication_invalid")
        assert await admin.user(enrolled.user_id) == before
        assert (await admin.verify(enrolled.user_id, enrolled.backup_codes[0])).status_code == 200

    async def test_fapi_treats_the_secret_key_as_no_client(self, kit: Any, admin: Admin) -> None:
        """The secret key as a native token or ``__client`` cookie is an unknown client on every MFA route."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        before = await admin.user(enrolled.user_id)
        for credential in (kit.secret_key, f"Bearer {kit.secret_key}"):
            native = {"Authorization": credential}
            for method, path in (("POST", "/v1/me/totp"), ("DELETE", "/v1/me/totp"), ("POST", "/v1/me/backup_codes")):
                response = await kit.http.request(method, path, params={"_is_native": "1"}, headers=native)
                kit.error(response, 401, "authentication_invalid")
            attempt = await kit.http.post(
                f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
                params={"_is_native": "1"},
                data={"strategy": "totp", "code": kit.code(enrolled.secret)},
                headers=native,
            )
            kit.error(attempt, 404, "resource_not_found")
        kit.http.cookies.clear()
        cookie = await kit.http.delete("/v1/me/totp", headers={"Cookie": f"__client={kit.secret_key}"})
        kit.error(cookie, 401, "authentication_invalid")
        assert await admin.user(enrolled.user_id) == before
        done = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        assert done.status_code == 200, done.text


class TestBadBodies:
    @pytest.mark.parametrize(
        ("content", "content_type", "status", "code"),
        [
            (b"{not json", "application/json", 422, "form_param_format_invalid"),
            (b'["123456"]', "application/json", 422, "form_param_format_invalid"),
            (b'{"code": 123456}', "application/json", 422, "form_param_format_invalid"),
            (b'{"code": ""}', "application/json", 422, "form_param_missing"),
            (b'{"code": "' + b"9" * 5000 + b'"}', "application/json", 422, "form_param_format_invalid"),
            (b"\xff\xfe", "application/json", 422, "form_param_format_invalid"),
            (b"code=123456", "text/plain", 415, "unsupported_content_type"),
        ],
    )
    async def test_verify_rejects_malformed_bodies(
        self, kit: Any, admin: Admin, content: bytes, content_type: str, status: int, code: str
    ) -> None:
        """A malformed body is a Clerk 4xx that neither counts as a failure nor consumes anything."""
        enrolled = await kit.enrolled_user()
        response = await kit.http.post(
            f"/v1/users/{enrolled.user_id}/verify_totp",
            content=content,
            headers={**admin.auth, "Content-Type": content_type},
        )
        kit.error(response, status, code)
        assert (await admin.user(enrolled.user_id))["verification_attempts_remaining"] == 10
        assert (await admin.verify(enrolled.user_id, enrolled.backup_codes[0])).status_code == 200

    async def test_update_rejects_malformed_bodies(self, kit: Any, admin: Admin) -> None:
        user = await kit.create_user()
        for content in (b"{not json", b"[]", b'"text"'):
            response = await kit.http.patch(
                f"/v1/users/{user['id']}", content=content, headers={**admin.auth, "Content-Type": "application/json"}
            )
            kit.error(response, 422, "form_param_format_invalid")
        assert await admin.user(user["id"]) == user


class TestAudit:
    async def test_admin_operations_are_audited(self, kit: Any, admin: Admin) -> None:
        """Checks, locks and deletions through the Backend API land in the audit log as such."""
        enrolled = await kit.enrolled_user()
        uid = enrolled.user_id
        await admin.verify(uid, wrong_code(kit, enrolled.secret))
        await admin.verify(uid, enrolled.backup_codes[0])
        await admin.post(uid, "lock")
        await admin.verify(uid, kit.code(enrolled.secret))
        await admin.post(uid, "unlock")
        await admin.delete(uid, "backup_code")
        await admin.delete(uid, "mfa")
        await admin.delete(uid, "mfa")
        async with create_store(kit.config) as store:
            events = await store.list_audit_events(user_id=uid, limit=1000)
        ours = [e for e in events if "backend_api" in (e.detail.get("purpose"), e.detail.get("reason"))]
        assert [(e.event, e.outcome) for e in ours] == [
            ("verification.failed", "failure"),
            ("backup_code.used", "success"),
            ("user.locked", "success"),
            ("verification.failed", "denied"),
            ("user.unlocked", "success"),
            ("backup_codes.deleted", "success"),
            ("totp.disabled", "success"),
        ]
        assert ours[5].detail == {"count": 9, "reason": "backend_api"}
        assert ours[6].detail["was_verified"] is True
