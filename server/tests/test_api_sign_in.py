"""Sign-in with password and second factor, lockout, session tokens and sign-out (behaviour)."""

from __future__ import annotations

from typing import Any

import pytest

from totpkit.otp import totp_code
from totpkit_server.core.tokens import InvalidTokenError, verify_jwt

pytestmark = pytest.mark.both_backends


def wrong_code(kit: Any, secret: str) -> str:
    """A 6-digit code that matches no step within ±2 of the fake clock."""
    valid = {kit.code(secret, steps) for steps in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in valid)


class TestFirstFactor:
    async def test_password_only_user_is_signed_in(self, kit: Any) -> None:
        """A user without MFA gets a complete sign-in, an active session and /v1/me works."""
        email = kit.new_email()
        user = await kit.create_user(email)
        device, response = await kit.start_sign_in(email)
        assert response.status_code == 200, response.text
        body = response.json()
        sign_in = body["response"]
        assert sign_in["status"] == "complete"
        session_id = sign_in["created_session_id"]
        assert session_id.startswith("sess_")
        assert body["client"]["last_active_session_id"] == session_id
        assert body["client"]["sign_in"] is None
        assert [s["id"] for s in body["client"]["sessions"]] == [session_id]
        assert body["client"]["sessions"][0]["status"] == "active"
        assert (await device.me())["id"] == user["id"]

    async def test_identifier_is_case_insensitive(self, kit: Any) -> None:
        """The email identifier matches regardless of case."""
        email = kit.new_email()
        await kit.create_user(email)
        device = await kit.sign_in(email.upper())
        assert (await device.me())["email_addresses"][0]["email_address"] == email

    async def test_wrong_password(self, kit: Any) -> None:
        """A wrong password is 422 form_password_incorrect and creates no session."""
        email = kit.new_email()
        await kit.create_user(email)
        device, response = await kit.start_sign_in(email, "not the password")
        kit.error(response, 422, "form_password_incorrect")
        assert response.json()["errors"][0]["meta"]["param_name"] == "password"
        kit.error(await device.get("/v1/me"), 401, "authentication_invalid")

    async def test_unknown_email(self, kit: Any) -> None:
        """An unknown identifier is 422 form_identifier_not_found."""
        _, response = await kit.start_sign_in("nobody@example.com")
        kit.error(response, 422, "form_identifier_not_found")

    async def test_identifier_without_password_then_password(self, kit: Any) -> None:
        """Without a password the sign-in needs a first factor; attempt_first_factor completes it."""
        email = kit.new_email()
        await kit.create_user(email)
        device = kit.device()
        started = await device.post("/v1/client/sign_ins", data={"identifier": email})
        assert started.status_code == 200, started.text
        sign_in = started.json()["response"]
        assert sign_in["status"] == "needs_first_factor"
        wrong = await device.post(
            f"/v1/client/sign_ins/{sign_in['id']}/attempt_first_factor",
            data={"strategy": "password", "password": "nope nope nope"},
        )
        kit.error(wrong, 422, "form_password_incorrect")
        right = await device.post(
            f"/v1/client/sign_ins/{sign_in['id']}/attempt_first_factor",
            data={"strategy": "password", "password": "correct horse battery staple"},
        )
        assert right.status_code == 200, right.text
        assert right.json()["response"]["status"] == "complete"


class TestSecondFactor:
    async def test_needs_second_factor_lists_supported_factors(self, kit: Any) -> None:
        """An MFA user gets needs_second_factor with totp and backup_code, and no session yet."""
        enrolled = await kit.enrolled_user()
        device, response = await kit.start_sign_in(enrolled.email)
        body = response.json()
        assert body["response"]["status"] == "needs_second_factor"
        assert [f["strategy"] for f in body["response"]["supported_second_factors"]] == ["totp", "backup_code"]
        assert body["response"]["created_session_id"] is None
        assert body["client"]["sign_in"]["id"] == body["response"]["id"]
        assert body["client"]["sessions"] == []
        kit.error(await device.get("/v1/me"), 401, "authentication_invalid")

    async def test_totp_completes(self, kit: Any) -> None:
        """The current TOTP code completes the sign-in with a session of the right user."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        response = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["response"]["status"] == "complete"
        assert body["response"]["second_factor_verification"]["status"] == "verified"
        assert body["client"]["sign_in"] is None
        assert body["client"]["last_active_session_id"] == body["response"]["created_session_id"]
        assert (await device.me())["id"] == enrolled.user_id

    async def test_backup_code_completes_once(self, kit: Any) -> None:
        """A backup code completes a sign-in and is refused at the next sign-in."""
        enrolled = await kit.enrolled_user()
        code = enrolled.backup_codes[0]
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", code)
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete"
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        again = await kit.attempt_second_factor(device, sign_in_id, "backup_code", code)
        kit.error(again, 422, "form_code_incorrect")

    async def test_backup_code_is_normalised(self, kit: Any) -> None:
        """Backup codes are accepted in upper case and with dashes or spaces."""
        enrolled = await kit.enrolled_user()
        code = enrolled.backup_codes[1]
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        mangled = f" {code[:5].upper()}-{code[5:]} "
        response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", mangled)
        assert response.status_code == 200, response.text

    async def test_wrong_code_counts_attempts(self, kit: Any) -> None:
        """A wrong TOTP code is 422 form_code_incorrect (never 401) and the sign-in stays open."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        response = await kit.attempt_second_factor(device, sign_in_id, "totp", wrong_code(kit, enrolled.secret))
        kit.error(response, 422, "form_code_incorrect")
        assert response.json()["errors"][0]["meta"]["param_name"] == "code"
        sign_in = (await device.get(f"/v1/client/sign_ins/{sign_in_id}")).json()["response"]
        assert sign_in["status"] == "needs_second_factor"
        assert sign_in["second_factor_verification"]["attempts"] == 1
        ok = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        assert ok.status_code == 200, ok.text

    async def test_enrolment_code_cannot_be_replayed_at_sign_in(self, kit: Any) -> None:
        """The code that verified enrolment is refused at a sign-in in the same time step."""
        email, device = await kit.user_and_device()
        secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
        code = kit.code(secret)
        assert (await device.post("/v1/me/totp/attempt_verification", data={"code": code})).status_code == 200
        other, sign_in_id = await kit.second_factor_sign_in(email)
        kit.error(await kit.attempt_second_factor(other, sign_in_id, "totp", code), 422, "form_code_incorrect")

    async def test_sign_in_code_works_once(self, kit: Any) -> None:
        """A code that completed one sign-in is refused by a second sign-in in the same step."""
        enrolled = await kit.enrolled_user()
        code = kit.code(enrolled.secret)
        first, first_id = await kit.second_factor_sign_in(enrolled.email)
        assert (await kit.attempt_second_factor(first, first_id, "totp", code)).status_code == 200
        second, second_id = await kit.second_factor_sign_in(enrolled.email)
        kit.error(await kit.attempt_second_factor(second, second_id, "totp", code), 422, "form_code_incorrect")

    async def test_older_step_refused_after_newer_one(self, kit: Any) -> None:
        """After the next step's code was accepted, the previous step's code (still in the window) is refused."""
        enrolled = await kit.enrolled_user()
        first, first_id = await kit.second_factor_sign_in(enrolled.email)
        ahead = kit.code(enrolled.secret, 1)
        assert (await kit.attempt_second_factor(first, first_id, "totp", ahead)).status_code == 200
        second, second_id = await kit.second_factor_sign_in(enrolled.email)
        current = kit.code(enrolled.secret)
        kit.error(await kit.attempt_second_factor(second, second_id, "totp", current), 422, "form_code_incorrect")

    @pytest.mark.parametrize("steps", [-1, 1])
    async def test_adjacent_steps_accepted(self, kit: Any, steps: int) -> None:
        """Codes of the previous and the next time step are accepted (window 1)."""
        enrolled = await kit.enrolled_user()
        kit.clock.advance(3 * kit.config.totp_period)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        response = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret, steps))
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize("steps", [-2, 2])
    async def test_steps_outside_window_refused(self, kit: Any, steps: int) -> None:
        """Codes two steps away are refused, and the current code still works afterwards."""
        enrolled = await kit.enrolled_user()
        kit.clock.advance(5 * kit.config.totp_period)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        far = totp_code(enrolled.secret, at=kit.clock.now + steps * kit.config.totp_period)
        if far in {kit.code(enrolled.secret, s) for s in (-1, 0, 1)}:
            pytest.fail("code collision inside the window; pick another start time")
        kit.error(await kit.attempt_second_factor(device, sign_in_id, "totp", far), 422, "form_code_incorrect")
        assert (
            await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        ).status_code == 200

    async def test_foreign_sign_in_id_is_404(self, kit: Any) -> None:
        """Another client's sign-in id is 404 for reads and attempts, and the owner can still finish."""
        enrolled = await kit.enrolled_user()
        owner, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        _, intruder = await kit.user_and_device()
        kit.error(await intruder.get(f"/v1/client/sign_ins/{sign_in_id}"), 404, "resource_not_found")
        attempt = await kit.attempt_second_factor(intruder, sign_in_id, "totp", kit.code(enrolled.secret))
        kit.error(attempt, 404, "resource_not_found")
        fresh = kit.device()
        attempt = await kit.attempt_second_factor(fresh, sign_in_id, "totp", kit.code(enrolled.secret))
        kit.error(attempt, 404, "resource_not_found")
        assert (
            await kit.attempt_second_factor(owner, sign_in_id, "totp", kit.code(enrolled.secret))
        ).status_code == 200

    async def test_strategy_the_user_lacks(self, kit: Any) -> None:
        """A user with TOTP but no backup codes gets 400 strategy_for_user_invalid for backup_code."""
        email = kit.new_email()
        await kit.create_user(email, totp_secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        device, sign_in_id = await kit.second_factor_sign_in(email)
        response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", "abcdefghjk")
        kit.error(response, 400, "strategy_for_user_invalid")

    async def test_unknown_strategy(self, kit: Any) -> None:
        """A strategy that is no second factor is 422 form_param_value_invalid."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        response = await kit.attempt_second_factor(device, sign_in_id, "phone_code", "123456")
        kit.error(response, 422, "form_param_value_invalid")

    async def test_completed_sign_in_refuses_another_attempt(self, kit: Any) -> None:
        """attempt_second_factor on a completed sign-in is 400 client_state_invalid."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        assert (
            await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        ).status_code == 200
        kit.next_step()
        again = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        kit.error(again, 400, "client_state_invalid")

    async def test_imported_totp_secret_signs_in(self, kit: Any) -> None:
        """A user imported through BAPI with a TOTP secret and plain backup codes can use both."""
        email = kit.new_email()
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        await kit.create_user(email, totp_secret=secret, backup_codes=["imported01", "imported02"])
        device, sign_in_id = await kit.second_factor_sign_in(email)
        assert (await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(secret))).status_code == 200
        device, sign_in_id = await kit.second_factor_sign_in(email)
        assert (await kit.attempt_second_factor(device, sign_in_id, "backup_code", "imported02")).status_code == 200


class TestLockout:
    async def test_ten_wrong_codes_lock_for_an_hour(self, kit: Any) -> None:
        """10 wrong codes lock the user (403 user_locked), even the right code; after an hour it works again.

        The 8th and 9th wrong codes (2 and 1 attempts left) answer 422 account_lockout_warning.
        """
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        bad = wrong_code(kit, enrolled.secret)
        for attempt in range(1, 10):
            response = await kit.attempt_second_factor(device, sign_in_id, "totp", bad)
            kit.error(response, 422, "form_code_incorrect" if attempt < 8 else "account_lockout_warning")
            user = (await kit.bapi_get_user(enrolled.user_id)).json()
            assert user["verification_attempts_remaining"] == 10 - attempt
            assert user["locked"] is False
        response = await kit.attempt_second_factor(device, sign_in_id, "totp", bad)
        kit.error(response, 403, "user_locked")

        user = (await kit.bapi_get_user(enrolled.user_id)).json()
        assert user["locked"] is True
        assert user["lockout_expires_in_seconds"] == 3600
        assert user["verification_attempts_remaining"] == 0
        me = await enrolled.device.me()
        assert me["locked"] is True

        kit.clock.advance(600)
        right = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        body = right.json()
        kit.error(right, 403, "user_locked")
        assert body["errors"][0]["meta"]["lockout_expires_in_seconds"] == 3000
        assert (await kit.bapi_get_user(enrolled.user_id)).json()["lockout_expires_in_seconds"] == 3000
        _, new_sign_in = await kit.start_sign_in(enrolled.email)
        kit.error(new_sign_in, 403, "user_locked")

        kit.clock.advance(3001)
        user = (await kit.bapi_get_user(enrolled.user_id)).json()
        assert user["locked"] is False
        right = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        assert right.status_code == 200, right.text
        user = (await kit.bapi_get_user(enrolled.user_id)).json()
        assert (user["locked"], user["verification_attempts_remaining"]) == (False, 10)

    async def test_success_resets_the_counter(self, kit: Any) -> None:
        """A successful code resets the consecutive-failure count."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        for _ in range(9):
            await kit.attempt_second_factor(device, sign_in_id, "totp", wrong_code(kit, enrolled.secret))
        assert (
            await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        ).status_code == 200
        kit.next_step()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        for attempt in range(1, 10):
            response = await kit.attempt_second_factor(device, sign_in_id, "totp", wrong_code(kit, enrolled.secret))
            kit.error(response, 422, "form_code_incorrect" if attempt < 8 else "account_lockout_warning")

    async def test_wrong_enrolment_codes_count_too(self, kit: Any) -> None:
        """Wrong codes during enrolment verification also lock the user."""
        _, device = await kit.user_and_device()
        secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
        statuses = []
        for _ in range(10):
            response = await device.post("/v1/me/totp/attempt_verification", data={"code": wrong_code(kit, secret)})
            statuses.append(response.status_code)
        assert statuses == [422] * 9 + [403]
        locked = await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})
        kit.error(locked, 403, "user_locked")
        assert (await device.me())["totp_enabled"] is False


class TestSessionTokens:
    async def test_mfa_session_token(self, kit: Any) -> None:
        """The session token is an RS256 JWT verifiable with the JWKS, with Clerk's claims and fva [0, 0]."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        done = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        session_id = done.json()["response"]["created_session_id"]
        response = await device.post(f"/v1/client/sessions/{session_id}/tokens", data={"organization_id": ""})
        assert response.status_code == 200, response.text
        token = response.json()["jwt"]
        claims = verify_jwt(token, await kit.public_keys(), now=kit.clock.now, issuer="http://testserver.local")
        assert claims["sub"] == enrolled.user_id
        assert claims["sid"] == session_id
        assert claims["iat"] == int(kit.clock.now)
        assert claims["exp"] - claims["iat"] == 60
        assert claims["nbf"] == claims["iat"] - 10
        assert claims["fva"] == [0, 0]
        assert claims["v"] == 2
        assert "azp" not in claims
        assert isinstance(claims["jti"], str)
        assert claims["jti"]

    async def test_password_only_token_and_ageing_fva(self, kit: Any) -> None:
        """After a password-only sign-in fva is [0, -1]; minutes since the first factor grow with time."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        keys = await kit.public_keys()
        token = (await device.post(f"/v1/client/sessions/{session_id}/tokens")).json()["jwt"]
        assert verify_jwt(token, keys, now=kit.clock.now)["fva"] == [0, -1]
        kit.clock.advance(5 * 60 + 1)
        token = (await device.post(f"/v1/client/sessions/{session_id}/tokens")).json()["jwt"]
        assert verify_jwt(token, keys, now=kit.clock.now)["fva"] == [5, -1]

    async def test_fva_counts_from_the_password(self, kit: Any) -> None:
        """fva[0] counts minutes since the password was verified, not since the second factor."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        kit.clock.advance(5 * 60 + 1)
        done = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        session_id = done.json()["response"]["created_session_id"]
        token = (await device.post(f"/v1/client/sessions/{session_id}/tokens")).json()["jwt"]
        assert verify_jwt(token, await kit.public_keys(), now=kit.clock.now)["fva"] == [5, 0]

    async def test_token_expires(self, kit: Any) -> None:
        """A token is rejected by the verifier once its 60 seconds are over."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        token = (await device.post(f"/v1/client/sessions/{session_id}/tokens")).json()["jwt"]
        with pytest.raises(InvalidTokenError):
            verify_jwt(token, await kit.public_keys(), now=kit.clock.now + 120)

    async def test_azp_only_with_origin(self, kit: Any) -> None:
        """With an Origin (dev-browser mode) the token carries azp = Origin."""
        email = kit.new_email()
        await kit.create_user(email)
        dev = (await kit.http.post("/v1/dev_browser")).json()["id"]
        origin = {"Origin": "http://localhost:3000"}
        params = {"__clerk_db_jwt": dev}
        signed = await kit.http.post(
            "/v1/client/sign_ins",
            params=params,
            data={"identifier": email, "password": "correct horse battery staple"},
            headers=origin,
        )
        assert signed.status_code == 200, signed.text
        session_id = signed.json()["response"]["created_session_id"]
        params = {"__clerk_db_jwt": signed.headers["clerk-db-jwt"]}  # the dev browser re-issued at sign-in
        token = (await kit.http.post(f"/v1/client/sessions/{session_id}/tokens", params=params, headers=origin)).json()
        claims = verify_jwt(token["jwt"], await kit.public_keys(), now=kit.clock.now)
        assert claims["azp"] == "http://localhost:3000"
        without = (await kit.http.post(f"/v1/client/sessions/{session_id}/tokens", params=params)).json()
        assert "azp" not in verify_jwt(without["jwt"], await kit.public_keys(), now=kit.clock.now)

    async def test_token_for_foreign_session_refused(self, kit: Any) -> None:
        """A device cannot mint tokens for another client's session."""
        _, owner = await kit.user_and_device()
        session_id = await kit.active_session_id(owner)
        _, intruder = await kit.user_and_device()
        response = await intruder.post(f"/v1/client/sessions/{session_id}/tokens")
        kit.error(response)
        assert response.status_code != 200


class TestSignOut:
    async def test_delete_client_ends_sessions(self, kit: Any) -> None:
        """DELETE /v1/client ends every session: /v1/me and new tokens are 401."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        response = await device.delete("/v1/client")
        assert response.status_code == 200, response.text
        assert response.json()["response"]["sessions"] == []
        assert response.json()["response"]["last_active_session_id"] is None
        kit.error(await device.get("/v1/me"), 401, "authentication_invalid")
        kit.error(await device.post(f"/v1/client/sessions/{session_id}/tokens"), 401)

    async def test_end_one_session(self, kit: Any) -> None:
        """POST /v1/client/sessions/{id}/end ends that session only."""
        email_a, device = await kit.user_and_device()
        session_a = await kit.active_session_id(device)
        email_b = kit.new_email()
        user_b = await kit.create_user(email_b)
        await kit.sign_in(email_b, device=device)
        session_b = await kit.active_session_id(device)
        assert session_a != session_b

        ended = await device.post(f"/v1/client/sessions/{session_b}/end")
        assert ended.status_code == 200, ended.text
        assert ended.json()["response"]["status"] == "ended"
        assert [s["id"] for s in ended.json()["client"]["sessions"]] == [session_a]
        kit.error(await device.post(f"/v1/client/sessions/{session_b}/tokens"), 401)
        kit.error(await device.get("/v1/me", params={"_clerk_session_id": session_b}), 401, "authentication_invalid")
        assert (await device.post(f"/v1/client/sessions/{session_a}/tokens")).status_code == 200
        me = await device.me()
        assert me["id"] != user_b["id"]
        assert me["email_addresses"][0]["email_address"] == email_a

    async def test_clerk_session_id_selects_the_session(self, kit: Any) -> None:
        """_clerk_session_id picks the user of /v1/me; foreign or unknown ids are 401."""
        email_a, device = await kit.user_and_device()
        session_a = await kit.active_session_id(device)
        email_b = kit.new_email()
        await kit.create_user(email_b)
        await kit.sign_in(email_b, device=device)
        session_b = await kit.active_session_id(device)

        me_a = (await device.get("/v1/me", params={"_clerk_session_id": session_a})).json()["response"]
        me_b = (await device.get("/v1/me", params={"_clerk_session_id": session_b})).json()["response"]
        assert me_a["email_addresses"][0]["email_address"] == email_a
        assert me_b["email_addresses"][0]["email_address"] == email_b

        created = await device.post("/v1/me/totp", params={"_clerk_session_id": session_a})
        assert created.status_code == 200
        assert email_a in created.json()["response"]["uri"]

        _, other = await kit.user_and_device()
        foreign = await kit.active_session_id(other)
        kit.error(await device.get("/v1/me", params={"_clerk_session_id": foreign}), 401, "authentication_invalid")
        kit.error(
            await device.get("/v1/me", params={"_clerk_session_id": "sess_" + "x" * 27}), 401, "authentication_invalid"
        )


class TestLifetimes:
    async def test_abandoned_sign_in_accepts_no_second_factor(self, kit: Any) -> None:
        """After sign_in_lifetime an unfinished sign-in no longer completes, even with the right code."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        kit.clock.advance(kit.config.sign_in_lifetime + 60)
        response = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        assert response.status_code != 200, response.text
        assert response.status_code != 401, response.text
        kit.error(response)
        assert (await device.get("/v1/client")).json()["response"]["sessions"] == []

    async def test_session_expires(self, kit: Any) -> None:
        """After session_lifetime the session no longer authenticates /v1/me or mints tokens."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        kit.clock.advance(kit.config.session_lifetime - 60)
        assert (await device.get("/v1/me")).status_code == 200
        kit.clock.advance(120)
        kit.error(await device.get("/v1/me"), 401, "authentication_invalid")
        kit.error(await device.post(f"/v1/client/sessions/{session_id}/tokens"), 401)
