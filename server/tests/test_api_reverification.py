"""Session reverification (step-up): the 403 gate on MFA changes and ``/v1/client/sessions/{id}/verify``.

The app here runs with ``reverification_max_age=10`` (Clerk's "strict": ten minutes) unless a test
starts its own. Time moves only through the fake clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from totpkit.otp import totp_code
from totpkit_server import TOTPKitConfig
from totpkit_server.core.tokens import verify_jwt
from totpkit_server.testing import create_user, serve

pytestmark = pytest.mark.both_backends

MAX_AGE = 10
MINUTE = 60.0
HINT_2FA = {"reverification": {"level": "second_factor", "afterMinutes": MAX_AGE}}
HINT_1FA = {"reverification": {"level": "first_factor", "afterMinutes": MAX_AGE}}
PASSWORD = "correct horse battery staple"


@pytest.fixture
def config(make_config: Callable[..., TOTPKitConfig]) -> TOTPKitConfig:
    """The module's app: reverification on, ten minutes."""
    return make_config(reverification_max_age=MAX_AGE)


def wrong_code(kit: Any, secret: str) -> str:
    """A 6-digit code that matches no step within ±2 of the fake clock."""
    valid = {kit.code(secret, steps) for steps in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in valid)


async def mfa_session(kit: Any) -> tuple[Any, Any, str]:
    """An enrolled user signed in on a new device with password and TOTP: ``(enrolled, device, session id)``.

    Afterwards the clock is one step further, so the next code is unused.
    """
    enrolled = await kit.enrolled_user()
    device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
    response = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
    assert response.status_code == 200, response.text
    kit.next_step()
    return enrolled, device, response.json()["response"]["created_session_id"]


async def start(device: Any, session_id: str, level: str) -> httpx.Response:
    return await device.post(f"/v1/client/sessions/{session_id}/verify", data={"level": level})


async def attempt_second(device: Any, session_id: str, strategy: str, code: str) -> httpx.Response:
    return await device.post(
        f"/v1/client/sessions/{session_id}/verify/attempt_second_factor", data={"strategy": strategy, "code": code}
    )


async def attempt_first(device: Any, session_id: str, password: str = PASSWORD) -> httpx.Response:
    return await device.post(
        f"/v1/client/sessions/{session_id}/verify/attempt_first_factor",
        data={"strategy": "password", "password": password},
    )


async def reverify_with_totp(kit: Any, device: Any, session_id: str, secret: str) -> dict[str, Any]:
    """A whole second-factor reverification; returns the final ``session_reverification``."""
    response = await start(device, session_id, "second_factor")
    assert response.status_code == 200, response.text
    response = await attempt_second(device, session_id, "totp", kit.code(secret))
    assert response.status_code == 200, response.text
    kit.next_step()
    verification: dict[str, Any] = response.json()["response"]
    return verification


async def mfa_changes(device: Any) -> list[httpx.Response]:
    """Every gated call, in an order where none of them changes anything for the next."""
    return [
        await device.post("/v1/me/backup_codes"),
        await device.post("/v1/me/backup_codes/"),
        await device.post("/v1/me/totp"),
        await device.delete("/v1/me/totp"),
        await device.post("/v1/me/totp", params={"_method": "DELETE"}),
    ]


async def token_fva(kit: Any, device: Any, session_id: str) -> list[int]:
    """The ``fva`` claim of a session token minted now."""
    response = await device.post(f"/v1/client/sessions/{session_id}/tokens", data={"organization_id": ""})
    assert response.status_code == 200, response.text
    claims = verify_jwt(response.json()["jwt"], await kit.public_keys(), now=kit.clock.now)
    return list(claims["fva"])


class TestGate:
    """With reverification on, MFA changes need a recent verification of the right factor."""

    async def test_stale_second_factor_is_refused_with_the_hint(self, kit: Any) -> None:
        """Ten minutes after the TOTP sign-in every MFA change is 403 with Clerk's hint, and nothing changes."""
        _, device, _ = await mfa_session(kit)
        kit.clock.advance(MAX_AGE * MINUTE - 30)  # the sign-in was one step (30 s) ago
        for response in await mfa_changes(device):
            kit.error(response, 403, "session_reverification_required")
            error = response.json()["errors"][0]
            assert error["meta"] == HINT_2FA
            assert error["long_message"] == "You need to provide additional verification to perform this operation"
        me = await device.me()
        assert (me["totp_enabled"], me["backup_code_enabled"]) == (True, True)

    async def test_recent_second_factor_allows_changes(self, kit: Any) -> None:
        """One second short of ten minutes after the TOTP sign-in, backup codes can be regenerated."""
        _, device, _ = await mfa_session(kit)
        kit.clock.advance(MAX_AGE * MINUTE - 31)
        response = await device.post("/v1/me/backup_codes")
        assert response.status_code == 200, response.text

    async def test_reverification_unlocks_the_changes(self, kit: Any) -> None:
        """After a TOTP reverification the stale session may regenerate backup codes and disable TOTP."""
        enrolled, device, session_id = await mfa_session(kit)
        kit.clock.advance(3 * 3600)
        kit.error(await device.post("/v1/me/backup_codes"), 403, "session_reverification_required")
        verification = await reverify_with_totp(kit, device, session_id, enrolled.secret)
        assert verification["status"] == "complete"
        assert verification["session"]["factor_verification_age"] == [180, 0]
        response = await device.post("/v1/me/backup_codes")
        assert response.status_code == 200, response.text
        response = await device.delete("/v1/me/totp")
        assert response.status_code == 200, response.text
        assert (await device.me())["totp_enabled"] is False

    async def test_enrolment_alone_is_no_second_factor_verification(self, kit: Any) -> None:
        """A session that enrolled TOTP (without a TOTP sign-in) must reverify before the next MFA change."""
        enrolled = await kit.enrolled_user()
        response = await enrolled.device.post("/v1/me/backup_codes")
        kit.error(response, 403, "session_reverification_required")
        assert response.json()["errors"][0]["meta"] == HINT_2FA

    async def test_first_enrolment_needs_a_recent_password(self, kit: Any) -> None:
        """Without a second factor the password counts: a fresh sign-in may enrol, a stale one reverifies it."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        assert (await device.post("/v1/me/totp")).status_code == 200
        kit.clock.advance(MAX_AGE * MINUTE)
        response = await device.post("/v1/me/totp")
        kit.error(response, 403, "session_reverification_required")
        assert response.json()["errors"][0]["meta"] == HINT_1FA
        started = await start(device, session_id, "second_factor")
        assert started.status_code == 200, started.text
        verification = started.json()["response"]
        assert (verification["level"], verification["status"]) == ("first_factor", "needs_first_factor")
        assert verification["supported_first_factors"] == [{"strategy": "password"}]
        assert verification["supported_second_factors"] is None
        done = await attempt_first(device, session_id)
        assert done.status_code == 200, done.text
        assert done.json()["response"]["status"] == "complete"
        assert done.json()["response"]["first_factor_verification"]["status"] == "verified"
        response = await device.post("/v1/me/totp")
        assert response.status_code == 200, response.text

    async def test_enrolment_verification_is_not_gated(self, kit: Any) -> None:
        """Finishing an enrolment started in time works even after the window (it needs a code anyway)."""
        _, device = await kit.user_and_device()
        secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
        kit.clock.advance(MAX_AGE * MINUTE)
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})
        assert response.status_code == 200, response.text

    async def test_off_by_default(self, live_apps: Any, make_config: Callable[..., TOTPKitConfig]) -> None:
        """Without ``reverification_max_age`` a days-old session changes MFA freely (no 403 anywhere)."""
        kit = await live_apps.start(make_config())
        _, device, _ = await mfa_session(kit)
        kit.clock.advance(6 * 24 * 3600)
        responses = await mfa_changes(device)
        assert [r.status_code for r in responses] == [200, 200, 400, 200, 404]
        assert responses[2].json()["errors"][0]["code"] == "totp_already_enabled"
        environment = (await kit.http.get("/v1/environment")).json()
        assert environment["auth_config"]["reverification"] is False

    async def test_environment_announces_reverification(self, kit: Any) -> None:
        """``auth_config.reverification`` is true when the gate is on."""
        environment = (await kit.http.get("/v1/environment")).json()
        assert environment["auth_config"]["reverification"] is True

    def test_max_age_must_not_be_negative(self, make_config: Callable[..., TOTPKitConfig]) -> None:
        """A negative window is a configuration error; 0 is the explicit "off" (never a gate nobody passes)."""
        with pytest.raises(ValueError, match="reverification_max_age"):
            make_config(reverification_max_age=-1)
        assert make_config(reverification_max_age=0).step_up_max_age is None


class TestFlow:
    """Levels, statuses and the answers of ``/verify``, ``/verify/attempt_first_factor`` and ``.../second``."""

    async def test_second_factor_level(self, kit: Any) -> None:
        """``second_factor`` for a user with TOTP: needs_second_factor, then complete with a verified stub."""
        enrolled, device, session_id = await mfa_session(kit)
        response = await start(device, session_id, "second_factor")
        assert response.status_code == 200, response.text
        body = response.json()
        verification = body["response"]
        assert verification["object"] == "session_reverification"
        assert (verification["level"], verification["status"]) == ("second_factor", "needs_second_factor")
        assert verification["supported_second_factors"] == [{"strategy": "totp"}, {"strategy": "backup_code"}]
        assert (verification["first_factor_verification"], verification["second_factor_verification"]) == (None, None)
        assert verification["session"]["id"] == session_id
        assert body["client"]["last_active_session_id"] == session_id
        response = await attempt_second(device, session_id, "totp", kit.code(enrolled.secret))
        assert response.status_code == 200, response.text
        assert response.json()["response"]["second_factor_verification"] == {
            "object": "verification_totp",
            "status": "verified",
            "strategy": "totp",
            "attempts": 1,
            "expire_at": None,
        }

    async def test_multi_factor_needs_password_then_code(self, kit: Any) -> None:
        """``multi_factor`` asks for the password first (a code before it is 400), then a code; fva becomes [0, 0]."""
        enrolled, device, session_id = await mfa_session(kit)
        kit.clock.advance(30 * MINUTE)
        response = await start(device, session_id, "multi_factor")
        assert response.json()["response"]["status"] == "needs_first_factor"
        kit.error(
            await attempt_second(device, session_id, "totp", kit.code(enrolled.secret)), 400, "client_state_invalid"
        )
        response = await attempt_first(device, session_id)
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "needs_second_factor"
        assert response.json()["response"]["session"]["factor_verification_age"] == [0, 30]
        response = await attempt_second(device, session_id, "totp", kit.code(enrolled.secret))
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete"
        assert response.json()["response"]["session"]["factor_verification_age"] == [0, 0]

    async def test_first_factor_level_for_a_user_with_totp(self, kit: Any) -> None:
        """``first_factor`` asks for the password even when the user has TOTP, and leaves the second factor stale."""
        _, device, session_id = await mfa_session(kit)
        kit.clock.advance(3 * 3600)
        assert (await start(device, session_id, "first_factor")).json()["response"]["status"] == "needs_first_factor"
        response = await attempt_first(device, session_id)
        assert response.json()["response"]["status"] == "complete"
        kit.error(await device.post("/v1/me/backup_codes"), 403, "session_reverification_required")

    async def test_backup_code_reverifies_once(self, kit: Any) -> None:
        """A backup code completes a reverification and is consumed: the same code fails the next one."""
        enrolled, device, session_id = await mfa_session(kit)
        code = enrolled.backup_codes[0]
        await start(device, session_id, "second_factor")
        response = await attempt_second(device, session_id, "backup_code", code)
        assert response.status_code == 200, response.text
        assert response.json()["response"]["second_factor_verification"]["object"] == "verification_backup_code"
        await start(device, session_id, "second_factor")
        kit.error(await attempt_second(device, session_id, "backup_code", code), 422, "form_code_incorrect")

    async def test_attempt_needs_a_started_verification(self, kit: Any) -> None:
        """Attempts before ``/verify`` and after completion are 400 ``client_state_invalid``."""
        enrolled, device, session_id = await mfa_session(kit)
        kit.error(
            await attempt_second(device, session_id, "totp", kit.code(enrolled.secret)), 400, "client_state_invalid"
        )
        kit.error(await attempt_first(device, session_id), 400, "client_state_invalid")
        await reverify_with_totp(kit, device, session_id, enrolled.secret)
        kit.error(
            await attempt_second(device, session_id, "totp", kit.code(enrolled.secret)), 400, "client_state_invalid"
        )

    async def test_strategy_the_user_lacks(self, kit: Any) -> None:
        """A backup code attempt for a user without backup codes is 400 ``strategy_for_user_invalid``."""
        email = kit.new_email()
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        await kit.create_user(email, totp_secret=secret)
        device, sign_in_id = await kit.second_factor_sign_in(email)
        done = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(secret))
        session_id = done.json()["response"]["created_session_id"]
        started = await start(device, session_id, "second_factor")
        assert started.json()["response"]["supported_second_factors"] == [{"strategy": "totp"}]
        kit.error(
            await attempt_second(device, session_id, "backup_code", "abcdefghjk"), 400, "strategy_for_user_invalid"
        )

    @pytest.mark.parametrize(
        ("path", "data", "code", "param"),
        [
            ("/verify", {}, "form_param_missing", "level"),
            ("/verify", {"level": "strict"}, "form_param_value_invalid", "level"),
            (
                "/verify/attempt_second_factor",
                {"strategy": "phone_code", "code": "1"},
                "form_param_value_invalid",
                "strategy",
            ),
            ("/verify/attempt_second_factor", {"strategy": "totp"}, "form_param_missing", "code"),
            (
                "/verify/attempt_first_factor",
                {"strategy": "email_code", "code": "1"},
                "form_param_value_invalid",
                "strategy",
            ),
            ("/verify/attempt_first_factor", {"strategy": "password"}, "form_param_missing", "password"),
        ],
    )
    async def test_bad_input(self, kit: Any, path: str, data: dict[str, str], code: str, param: str) -> None:
        """Missing or unsupported fields are 422 with ``param_name``, and start nothing."""
        _, device, session_id = await mfa_session(kit)
        response = await device.post(f"/v1/client/sessions/{session_id}{path}", data=data)
        kit.error(response, 422, code)
        assert response.json()["errors"][0]["meta"]["param_name"] == param
        kit.error(await attempt_first(device, session_id), 400, "client_state_invalid")


class TestCodes:
    """Wrong codes: 422 and the user's lockout counter; used codes: refused (replay)."""

    async def test_wrong_code_counts_towards_lockout(self, kit: Any) -> None:
        """Each wrong code is 422 (a lockout warning when 2 or 1 attempts remain) and one attempt less; the
        tenth locks the user, whose right code then is 403."""
        enrolled, device, session_id = await mfa_session(kit)
        await start(device, session_id, "second_factor")
        bad = wrong_code(kit, enrolled.secret)
        response = await attempt_second(device, session_id, "totp", bad)
        kit.error(response, 422, "form_code_incorrect")
        assert response.json()["errors"][0]["meta"]["param_name"] == "code"
        assert (await device.me())["verification_attempts_remaining"] == 9
        for _ in range(6):
            kit.error(await attempt_second(device, session_id, "totp", bad), 422, "form_code_incorrect")
        for _ in range(2):
            kit.error(await attempt_second(device, session_id, "totp", bad), 422, "account_lockout_warning")
        kit.error(await attempt_second(device, session_id, "totp", bad), 403, "user_locked")
        kit.error(await attempt_second(device, session_id, "totp", kit.code(enrolled.secret)), 403, "user_locked")
        assert (await device.me())["locked"] is True
        _, response = await kit.start_sign_in(enrolled.email)
        kit.error(response, 403, "user_locked")

    async def test_success_resets_the_counter(self, kit: Any) -> None:
        """A right code after wrong ones gives the user all attempts back."""
        enrolled, device, session_id = await mfa_session(kit)
        await start(device, session_id, "second_factor")
        for _ in range(3):
            await attempt_second(device, session_id, "totp", wrong_code(kit, enrolled.secret))
        assert (await device.me())["verification_attempts_remaining"] == 7
        response = await attempt_second(device, session_id, "totp", kit.code(enrolled.secret))
        assert response.status_code == 200, response.text
        assert response.json()["response"]["second_factor_verification"]["attempts"] == 4
        assert (await device.me())["verification_attempts_remaining"] == 10

    async def test_wrong_password_counts_and_right_one_does_not_reset_for_mfa_users(self, kit: Any) -> None:
        """A wrong reverification password is 422 and counts; the right password does not undo it for a TOTP user."""
        _, device, session_id = await mfa_session(kit)
        await start(device, session_id, "multi_factor")
        kit.error(await attempt_first(device, session_id, "wrong password"), 422, "form_password_incorrect")
        assert (await device.me())["verification_attempts_remaining"] == 9
        assert (await attempt_first(device, session_id)).status_code == 200
        assert (await device.me())["verification_attempts_remaining"] == 9

    async def test_code_used_at_sign_in_is_refused(self, kit: Any) -> None:
        """The TOTP code that completed the sign-in cannot complete a reverification (same time step)."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        code = kit.code(enrolled.secret)
        done = await kit.attempt_second_factor(device, sign_in_id, "totp", code)
        session_id = done.json()["response"]["created_session_id"]
        await start(device, session_id, "second_factor")
        kit.error(await attempt_second(device, session_id, "totp", code), 422, "form_code_incorrect")

    async def test_code_replayed_across_reverifications(self, kit: Any) -> None:
        """A code that completed one reverification is refused by the next, even on another session."""
        enrolled, device, session_id = await mfa_session(kit)
        other, other_sign_in = await kit.second_factor_sign_in(enrolled.email)
        done = await kit.attempt_second_factor(other, other_sign_in, "totp", kit.code(enrolled.secret))
        other_session = done.json()["response"]["created_session_id"]
        kit.next_step()
        code = kit.code(enrolled.secret)
        await start(device, session_id, "second_factor")
        assert (await attempt_second(device, session_id, "totp", code)).status_code == 200
        await start(other, other_session, "second_factor")
        kit.error(await attempt_second(other, other_session, "totp", code), 422, "form_code_incorrect")
        await start(device, session_id, "second_factor")
        kit.error(await attempt_second(device, session_id, "totp", code), 422, "form_code_incorrect")


class TestLockedUser:
    """A locked user cannot reverify at all, so cannot change MFA until the lock ends."""

    async def test_locked_user_cannot_start_or_answer_a_reverification(self, kit: Any) -> None:
        """While locked (Backend API lock), /verify at every level and the pending attempt answer 403
        user_locked, even with the right code, and the session stays unverified; after unlocking it works."""
        enrolled, device, session_id = await mfa_session(kit)
        assert (await start(device, session_id, "second_factor")).status_code == 200
        kit.clock.advance(MAX_AGE * MINUTE)
        bapi = {"Authorization": f"Bearer {kit.secret_key}"}
        locked = await kit.http.post(f"/v1/users/{enrolled.user_id}/lock", headers=bapi)
        assert locked.status_code == 200, locked.text
        for level in ("first_factor", "second_factor", "multi_factor"):
            kit.error(await start(device, session_id, level), 403, "user_locked")
        kit.error(await attempt_second(device, session_id, "totp", kit.code(enrolled.secret)), 403, "user_locked")
        kit.error(await device.delete("/v1/me/totp"), 403, "session_reverification_required")
        unlocked = await kit.http.post(f"/v1/users/{enrolled.user_id}/unlock", headers=bapi)
        assert unlocked.status_code == 200, unlocked.text
        verification = await reverify_with_totp(kit, device, session_id, enrolled.secret)
        assert verification["status"] == "complete"


class TestSessions:
    """Only the caller's own live session can be reverified; the result shows in new session tokens."""

    async def test_other_clients_session_is_not_found(self, kit: Any) -> None:
        """Another client's session id answers 404 like an unknown one, for every step."""
        _, _, session_id = await mfa_session(kit)
        _, stranger = await kit.user_and_device()
        for path in ("/verify", "/verify/attempt_first_factor", "/verify/attempt_second_factor"):
            data = {"level": "second_factor", "strategy": "password", "password": PASSWORD}
            if path.endswith("second_factor"):
                data = {"strategy": "totp", "code": "123456"}
            response = await stranger.post(f"/v1/client/sessions/{session_id}{path}", data=data)
            kit.error(response, 404, "resource_not_found")
        kit.error(await start(stranger, "sess_unknown", "second_factor"), 404, "resource_not_found")

    async def test_ended_session_is_unauthenticated(self, kit: Any) -> None:
        """An ended session cannot be reverified: 401 ``authentication_invalid``."""
        _, device, session_id = await mfa_session(kit)
        await device.post(f"/v1/client/sessions/{session_id}/end")
        kit.error(await start(device, session_id, "second_factor"), 401, "authentication_invalid")

    async def test_new_tokens_carry_the_fresh_verification(self, kit: Any) -> None:
        """``fva`` of a token minted after each step shows the factor just verified (minutes since, -1 never)."""
        enrolled, device, session_id = await mfa_session(kit)
        kit.clock.advance(20 * MINUTE - 30)
        assert await token_fva(kit, device, session_id) == [20, 20]
        await reverify_with_totp(kit, device, session_id, enrolled.secret)
        assert await token_fva(kit, device, session_id) == [20, 0]
        await start(device, session_id, "first_factor")
        await attempt_first(device, session_id)
        assert await token_fva(kit, device, session_id) == [0, 0]


class TestServeOption:
    """``totpkit serve --reverification-max-age`` turns the gate on in a real server process."""

    def test_flag_gates_mfa_changes(self, tmp_path: Path) -> None:
        """With the flag, a session that enrolled TOTP (no second-factor sign-in) cannot regenerate codes."""
        data_dir = tmp_path / "data"
        email = "ada.step-up@example.com"
        create_user(data_dir, email, PASSWORD)
        with (
            serve(data_dir, args=["--reverification-max-age", str(MAX_AGE)]) as server,
            httpx.Client(base_url=server.url, trust_env=False, timeout=10.0) as http,
        ):
            assert http.get("/v1/environment").json()["auth_config"]["reverification"] is True
            native = {"_is_native": "1"}
            signed_in = http.post(
                "/v1/client/sign_ins",
                params=native,
                data={"identifier": email, "password": PASSWORD},
                headers={"Authorization": ""},
            )
            assert signed_in.status_code == 200, signed_in.text
            auth = {"Authorization": signed_in.headers["authorization"]}
            created = http.post("/v1/me/totp", params=native, headers=auth)
            assert created.status_code == 200, created.text
            code = totp_code(created.json()["response"]["secret"], at=time.time())
            verified = http.post("/v1/me/totp/attempt_verification", params=native, headers=auth, data={"code": code})
            assert verified.status_code == 200, verified.text
            refused = http.post("/v1/me/backup_codes", params=native, headers=auth)
            assert refused.status_code == 403, refused.text
            assert refused.json()["errors"][0]["code"] == "session_reverification_required"
