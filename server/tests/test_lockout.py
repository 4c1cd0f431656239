"""The lockout: one database-stored count of failed verifications per user, whatever the flow.

Sign-in second factor (TOTP and backup codes), reverification, the Backend API's ``verify_totp`` and
TOTP enrolment all feed the same count; a success in any of them resets it. Near the limit the code
forms warn (422 ``account_lockout_warning``); at the limit the user is locked (403 ``user_locked``)
for ``lockout_duration``, after which a fresh set of attempts starts. Passwords never count, so an
attacker who knows only the email address cannot lock anyone. Every wrong backup code costs a
bounded number of bcrypt evaluations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import bcrypt
import httpx
import pytest

from totpkit_server.core.audit import AuditEvent
from totpkit_server.services import Instance
from totpkit_server.storage.factory import create_store
from totpkit_server.storage.records import BackupCodeRecord

pytestmark = pytest.mark.both_backends

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def wrong_code(kit: Any, secret: str) -> str:
    """A 6-digit code that matches no step within ±2 of the fake clock."""
    valid = {kit.code(secret, steps) for steps in range(-2, 3)}
    return next(c for c in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if c not in valid)


async def lockout_fields(kit: Any, user_id: str) -> tuple[bool, int | None, int | None]:
    """``(locked, lockout_expires_in_seconds, verification_attempts_remaining)`` from the Backend API."""
    response = await kit.bapi_get_user(user_id)
    assert response.status_code == 200, response.text
    user = response.json()
    return user["locked"], user["lockout_expires_in_seconds"], user["verification_attempts_remaining"]


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The single error entry of a Clerk error answer."""
    errors: list[dict[str, Any]] = response.json()["errors"]
    assert len(errors) == 1, errors
    return errors[0]


def warning(remaining: int) -> dict[str, Any]:
    """The error entry of a 422 ``account_lockout_warning``."""
    attempts = "attempt" if remaining == 1 else "attempts"
    return {
        "message": "is incorrect",
        "long_message": f"Incorrect code. You have {remaining} {attempts} left before your account is locked.",
        "code": "account_lockout_warning",
        "meta": {"param_name": "code", "verification_attempts_remaining": remaining},
    }


async def bapi_verify(kit: Any, user_id: str, code: str) -> httpx.Response:
    return await kit.http.post(
        f"/v1/users/{user_id}/verify_totp", json={"code": code}, headers={"Authorization": f"Bearer {kit.secret_key}"}
    )


async def reverify_attempt(kit: Any, device: Any, strategy: str, code: str) -> httpx.Response:
    """Start a second-factor reverification of the device's session and attempt ``code``."""
    session_id = await kit.active_session_id(device)
    started = await device.post(f"/v1/client/sessions/{session_id}/verify", data={"level": "second_factor"})
    assert started.status_code == 200, started.text
    return await device.post(
        f"/v1/client/sessions/{session_id}/verify/attempt_second_factor", data={"strategy": strategy, "code": code}
    )


class TestOneCounter:
    async def test_every_flow_feeds_the_same_count(self, kit: Any) -> None:
        """Sign-in (TOTP, backup code), reverification, BAPI verify_totp and enrolment count as one."""
        enrolled = await kit.enrolled_user()
        bad = wrong_code(kit, enrolled.secret)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        for strategy, code in (("totp", bad), ("backup_code", "nottherightcode")):
            response = await kit.attempt_second_factor(device, sign_in_id, strategy, code)
            kit.error(response, 422, "form_code_incorrect")
        kit.error(await reverify_attempt(kit, enrolled.device, "totp", bad), 422, "form_code_incorrect")
        kit.error(await reverify_attempt(kit, enrolled.device, "backup_code", "nope-nope"), 422, "form_code_incorrect")
        kit.error(await bapi_verify(kit, enrolled.user_id, bad), 422, "totp_incorrect_code")
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, 5)

        assert (await enrolled.device.delete("/v1/me/totp")).status_code == 200
        secret = (await enrolled.device.post("/v1/me/totp")).json()["response"]["secret"]
        answers = []
        for _ in range(5):
            response = await enrolled.device.post("/v1/me/totp/attempt_verification", data={"code": bad})
            answers.append((response.status_code, error_of(response)["code"]))
        assert answers == [
            (422, "form_code_incorrect"),
            (422, "form_code_incorrect"),
            (422, "account_lockout_warning"),
            (422, "account_lockout_warning"),
            (403, "user_locked"),
        ]
        assert await lockout_fields(kit, enrolled.user_id) == (True, 3600, 0)
        right = await enrolled.device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})
        kit.error(right, 403, "user_locked")
        _, sign_in = await kit.start_sign_in(enrolled.email)
        kit.error(sign_in, 403, "user_locked")

    @pytest.mark.parametrize("flow", ["sign_in_backup_code", "reverification", "bapi_verify_totp", "enrolment"])
    async def test_a_success_in_any_flow_resets_the_count(self, kit: Any, flow: str) -> None:
        """After 7 failures (3 attempts left), one success anywhere gives back all 10 attempts."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        for _ in range(7):
            await kit.attempt_second_factor(device, sign_in_id, "totp", wrong_code(kit, enrolled.secret))
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, 3)
        if flow == "sign_in_backup_code":
            response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", enrolled.backup_codes[0])
        elif flow == "reverification":
            response = await reverify_attempt(kit, enrolled.device, "totp", kit.code(enrolled.secret))
        elif flow == "bapi_verify_totp":
            response = await bapi_verify(kit, enrolled.user_id, enrolled.backup_codes[1])
        else:
            assert (await enrolled.device.delete("/v1/me/totp")).status_code == 200
            secret = (await enrolled.device.post("/v1/me/totp")).json()["response"]["secret"]
            response = await enrolled.device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)})
        assert response.status_code == 200, response.text
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, 10)


_RACERS = 6
"""Concurrent submissions of one valid code: the 5 losers stay below the default limit of 10."""


async def _race_one_code(kit: Any, flow: str) -> tuple[str, list[httpx.Response]]:
    """A fresh enrolled user and ``_RACERS`` concurrent submissions of one valid code in ``flow``."""
    enrolled = await kit.enrolled_user()
    if flow == "bapi_verify_totp":
        code = kit.code(enrolled.secret)
        sends = [bapi_verify(kit, enrolled.user_id, code) for _ in range(_RACERS)]
    else:
        strategy, code = (
            ("totp", kit.code(enrolled.secret)) if flow == "sign_in_totp" else ("backup_code", enrolled.backup_codes[0])
        )
        attempts = [await kit.second_factor_sign_in(enrolled.email) for _ in range(_RACERS)]
        sends = [kit.attempt_second_factor(device, sign_in_id, strategy, code) for device, sign_in_id in attempts]
    return enrolled.user_id, list(await asyncio.gather(*sends))


class TestReplayRaceLosersCount:
    """Requests that lose a replay race are failed verifications: each counts towards the lockout."""

    @pytest.mark.parametrize("flow", ["sign_in_totp", "sign_in_backup_code", "bapi_verify_totp"])
    async def test_one_success_and_every_loser_counted(self, concurrent_kit: Any, flow: str) -> None:
        """6 concurrent submissions of one valid code: one 200, five wrong-code answers, five failures counted."""
        kit = concurrent_kit
        for _ in range(3):
            user_id, responses = await _race_one_code(kit, flow)
            statuses = sorted(response.status_code for response in responses)
            assert statuses == [200] + [422] * (_RACERS - 1), [r.text for r in responses]
            losers = {error_of(r)["code"] for r in responses if r.status_code == 422}
            assert losers == {"totp_incorrect_code" if flow == "bapi_verify_totp" else "form_code_incorrect"}
            assert await lockout_fields(kit, user_id) == (False, None, 10 - (_RACERS - 1))
            kit.next_step()

    @pytest.mark.parametrize("flow", ["sign_in_totp", "sign_in_backup_code", "bapi_verify_totp"])
    async def test_a_slow_winner_does_not_erase_the_losers_failures(
        self, concurrent_kit: Any, monkeypatch: pytest.MonkeyPatch, flow: str
    ) -> None:
        """The success resets the count in the step that consumes the code, not after the winner's other work.

        The winner's audit write is slowed down, so every loser counts its failure before the winner
        finishes; a reset at the end of the winner's request would erase those failures.
        """
        real_audit = Instance.audit

        async def slow_success_audit(self: Instance, event: AuditEvent, *args: Any, **kwargs: Any) -> None:
            if event in (AuditEvent.TOTP_VERIFIED, AuditEvent.BACKUP_CODE_USED):
                await asyncio.sleep(0.2)
            await real_audit(self, event, *args, **kwargs)

        monkeypatch.setattr(Instance, "audit", slow_success_audit)
        user_id, responses = await _race_one_code(concurrent_kit, flow)
        assert sorted(response.status_code for response in responses) == [200] + [422] * (_RACERS - 1)
        assert await lockout_fields(concurrent_kit, user_id) == (False, None, 10 - (_RACERS - 1))


class TestWarningAndLock:
    async def test_warning_then_lock_at_sign_in(self, kit: Any) -> None:
        """Failures 8 and 9 warn with the attempts left; the 10th locks for an hour."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        bad = wrong_code(kit, enrolled.secret)
        for _ in range(7):
            kit.error(await kit.attempt_second_factor(device, sign_in_id, "totp", bad), 422, "form_code_incorrect")
        for remaining in (2, 1):
            response = await kit.attempt_second_factor(device, sign_in_id, "totp", bad)
            kit.error(response, 422, "account_lockout_warning")
            assert error_of(response) == warning(remaining)
            assert await lockout_fields(kit, enrolled.user_id) == (False, None, remaining)
        locked = await kit.attempt_second_factor(device, sign_in_id, "totp", bad)
        kit.error(locked, 403, "user_locked")
        assert error_of(locked)["meta"] == {"lockout_expires_in_seconds": 3600}
        sign_in = (await device.get(f"/v1/client/sign_ins/{sign_in_id}")).json()["response"]
        assert sign_in["second_factor_verification"]["attempts"] == 10

    async def test_configured_limit_and_duration(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """``lockout_max_attempts=3, lockout_duration=120``: warn, warn, lock for two minutes."""
        kit = await live_apps.start(make_config(lockout_max_attempts=3, lockout_duration=120))
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        bad = wrong_code(kit, enrolled.secret)
        for remaining in (2, 1):
            response = await kit.attempt_second_factor(device, sign_in_id, "totp", bad)
            assert (response.status_code, error_of(response)) == (422, warning(remaining))
        locked = await kit.attempt_second_factor(device, sign_in_id, "totp", bad)
        kit.error(locked, 403, "user_locked")
        assert error_of(locked)["meta"] == {"lockout_expires_in_seconds": 120}
        assert "try again in 2 minutes" in error_of(locked)["long_message"]
        assert await lockout_fields(kit, enrolled.user_id) == (True, 120, 0)
        kit.clock.advance(120)
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, 3)

    async def test_an_ended_lockout_starts_a_fresh_count(self, kit: Any) -> None:
        """Once the hour is over the user has 10 attempts again: the next wrong code is not a new lock."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        bad = wrong_code(kit, enrolled.secret)
        for _ in range(10):
            await kit.attempt_second_factor(device, sign_in_id, "totp", bad)
        assert await lockout_fields(kit, enrolled.user_id) == (True, 3600, 0)
        kit.clock.advance(3600)
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, 10)
        again = await kit.attempt_second_factor(device, sign_in_id, "totp", wrong_code(kit, enrolled.secret))
        kit.error(again, 422, "form_code_incorrect")
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, 9)

    async def test_lockout_off(self, live_apps: Any, make_config: Callable[..., Any]) -> None:
        """``lockout_max_attempts=0``: wrong codes never warn nor lock; no attempts are shown."""
        kit = await live_apps.start(make_config(lockout_max_attempts=0))
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        for _ in range(12):
            response = await kit.attempt_second_factor(device, sign_in_id, "totp", wrong_code(kit, enrolled.secret))
            kit.error(response, 422, "form_code_incorrect")
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, None)

    async def test_bapi_unlock_clears_the_lockout(self, kit: Any) -> None:
        """``POST /v1/users/{id}/unlock`` lifts a lockout and restores every attempt."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        for _ in range(10):
            await kit.attempt_second_factor(device, sign_in_id, "totp", wrong_code(kit, enrolled.secret))
        unlocked = await kit.http.post(
            f"/v1/users/{enrolled.user_id}/unlock", headers={"Authorization": f"Bearer {kit.secret_key}"}
        )
        assert unlocked.status_code == 200, unlocked.text
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, 10)
        response = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret))
        assert response.json()["response"]["status"] == "complete", response.text


class TestNeedsTheFirstFactor:
    async def test_an_identifier_alone_cannot_lock_a_user(self, kit: Any) -> None:
        """Wrong passwords (at create and attempt_first_factor) and second-factor attempts without a
        verified password change nothing: the user keeps every attempt and signs in afterwards."""
        enrolled = await kit.enrolled_user()
        attacker = kit.device()
        for guess in range(12):
            _, response = await kit.start_sign_in(enrolled.email, password=f"guess {guess}", device=attacker)
            kit.error(response, 422, "form_password_incorrect")
        started = await attacker.post("/v1/client/sign_ins", data={"identifier": enrolled.email})
        sign_in_id = started.json()["response"]["id"]
        assert started.json()["response"]["status"] == "needs_first_factor"
        for guess in range(12):
            response = await attacker.post(
                f"/v1/client/sign_ins/{sign_in_id}/attempt_first_factor",
                data={"strategy": "password", "password": f"guess {guess}"},
            )
            kit.error(response, 422, "form_password_incorrect")
        for _ in range(3):
            response = await kit.attempt_second_factor(attacker, sign_in_id, "totp", wrong_code(kit, enrolled.secret))
            kit.error(response, 400, "client_state_invalid")
        assert await lockout_fields(kit, enrolled.user_id) == (False, None, 10)
        device, own_sign_in = await kit.second_factor_sign_in(enrolled.email)
        done = await kit.attempt_second_factor(device, own_sign_in, "totp", kit.code(enrolled.secret))
        assert done.json()["response"]["status"] == "complete", done.text


class TestSharedAcrossInstances:
    async def test_two_app_instances_on_one_database_share_the_count(
        self, live_apps: Any, make_config: Callable[..., Any]
    ) -> None:
        """Failures alternate between two app instances (own store connections, one file): the 10th
        locks the user on both."""
        config = make_config()
        first, second = await live_apps.start(config), await live_apps.start(config)
        enrolled = await first.enrolled_user()
        on_first, sign_in_id = await first.second_factor_sign_in(enrolled.email)
        on_second = second.device()
        on_second.token = on_first.token  # the same client, through the other instance
        bad = wrong_code(first, enrolled.secret)
        statuses = []
        for attempt in range(10):
            kit, device = (first, on_first) if attempt % 2 == 0 else (second, on_second)
            statuses.append((await kit.attempt_second_factor(device, sign_in_id, "totp", bad)).status_code)
        assert statuses == [422] * 9 + [403]
        for kit in (first, second):
            assert await lockout_fields(kit, enrolled.user_id) == (True, 3600, 0)
            kit.error((await kit.start_sign_in(enrolled.email))[1], 403, "user_locked")


@pytest.fixture
def bcrypt_checks(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Counts bcrypt evaluations: every ``bcrypt.checkpw`` call (the real one still runs) appends its digest."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return bool(real(password, hashed))

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    return calls


def bcrypt_digest(code: str, cost: int = 4) -> str:
    return bcrypt.hashpw(code.encode(), bcrypt.gensalt(rounds=cost)).decode()


class TestBoundedWorkPerAttempt:
    async def test_imported_bcrypt_codes_cost_at_most_ten_checks(self, kit: Any, bcrypt_checks: list[bytes]) -> None:
        """A wrong code costs one check per imported bcrypt digest (at most 10); each imported code works."""
        email = kit.new_email()
        codes = [f"imported{index:02d}" for index in range(10)]
        await kit.create_user(email, totp_secret=SECRET, backup_codes=[bcrypt_digest(code) for code in codes])
        device, sign_in_id = await kit.second_factor_sign_in(email)
        kit.error(await kit.attempt_second_factor(device, sign_in_id, "backup_code", "wrongcode1"), 422)
        assert len(bcrypt_checks) == 10
        bcrypt_checks.clear()
        done = await kit.attempt_second_factor(device, sign_in_id, "backup_code", codes[-1])
        assert done.json()["response"]["status"] == "complete", done.text
        assert len(bcrypt_checks) == 10

    @pytest.mark.parametrize("problem", ["eleven_digests", "cost_13"])
    async def test_costly_imports_are_refused(self, kit: Any, bcrypt_checks: list[bytes], problem: str) -> None:
        """More than 10 bcrypt digests, or a cost above 12, is a 422 and creates no user."""
        cheap = bcrypt_digest("somecode")
        digests = [cheap] * 11 if problem == "eleven_digests" else [cheap.replace("$04$", "$13$", 1)]
        email = kit.new_email()
        body = {"email_address": [email], "password": "a long password", "backup_codes": digests}
        response = await kit.bapi_create_user(body)
        kit.error(response, 422, "form_param_format_invalid")
        assert error_of(response)["meta"] == {"param_name": "backup_codes"}
        _, sign_in = await kit.start_sign_in(email, password="a long password")
        kit.error(sign_in, 422, "form_identifier_not_found")
        assert bcrypt_checks == []

    async def test_a_stored_set_is_checked_within_budget(self, kit: Any, bcrypt_checks: list[bytes]) -> None:
        """Whatever the store holds (30 bcrypt digests, one of cost 31), a wrong code costs 10 checks."""
        enrolled = await kit.enrolled_user()
        costly = bcrypt_digest("x").replace("$04$", "$31$", 1)
        digests = [costly] + [bcrypt_digest(f"stored{index:02d}") for index in range(30)]
        records = [
            BackupCodeRecord(
                id=f"bcode_stored_{i}", user_id=enrolled.user_id, set_id="bcode_stored", digest=d, created_at=i
            )
            for i, d in enumerate(digests)
        ]
        async with create_store(kit.config) as store:  # the app's own store lives in the test client's loop
            await store.replace_backup_codes(enrolled.user_id, records)
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        kit.error(await kit.attempt_second_factor(device, sign_in_id, "backup_code", "wrongcode2"), 422)
        assert len(bcrypt_checks) == 10
        assert costly.encode() not in bcrypt_checks
