"""Session reverification: ``/v1/client/sessions/{id}/verify[...]`` answers and the 403 gate, pinned.

The in-process app and the fake both run with ``reverification_max_age=10`` here (the
``target_options`` override). Answers are validated against Clerk's ``SessionReverification`` and
``ClerkErrors`` schemas and compared with golden files.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from totpkit import AsyncFrontend, PermissionDeniedError
from totpkit.otp import totp_code

PASSWORD = "correct horse battery"
MAX_AGE = 10
WRAPPED = "Client.ClientWrappedSessionReverification"


@pytest.fixture
def target_options() -> dict[str, Any]:
    return {"reverification_max_age": MAX_AGE}


def check_error(golden: Any, name: str, response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Status, ``ClerkErrors`` schema, golden JSON and code of an error answer; returns the error entry."""
    body = golden.check(f"errors/{name}", response, status=status, schema="ClerkErrors")
    assert [error["code"] for error in body["errors"]] == [code]
    error: dict[str, Any] = body["errors"][0]
    return error


def _wrong_code(secret: str, at: float) -> str:
    valid = {totp_code(secret, at=at + offset * 30) for offset in range(-3, 4)}
    return next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in valid)


async def mfa_device(target: Any, flows: Any) -> tuple[Any, str]:
    """An enrolled user signed in on a new device with password and TOTP: ``(device, secret)``."""
    device, secret, _, sign_in_id = await flows.needs_second_factor()
    response = await device.post(
        f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
        data={"strategy": "totp", "code": target.fresh_code(secret)},
    )
    assert response.status_code == 200, response.text
    device.session_id = response.json()["response"]["created_session_id"]
    return device, secret


async def verify(device: Any, suffix: str = "", **data: str) -> httpx.Response:
    response: httpx.Response = await device.post(f"/v1/client/sessions/{device.session_id}/verify{suffix}", data=data)
    return response


class TestVerificationAnswers:
    """Each step of a reverification: status, level, factors and the session it refreshed."""

    async def test_second_factor(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret = await mfa_device(target, flows)
        body = golden.check("session_verify_second_factor", await verify(device, level="second_factor"), schema=WRAPPED)
        assert (body["response"]["level"], body["response"]["status"]) == ("second_factor", "needs_second_factor")
        response = await verify(device, "/attempt_second_factor", strategy="totp", code=target.fresh_code(secret))
        body = golden.check("session_verify_second_factor_complete", response, schema=WRAPPED)
        assert body["response"]["status"] == "complete"
        assert body["response"]["second_factor_verification"]["status"] == "verified"

    async def test_backup_code(self, target: Any, golden: Any, flows: Any) -> None:
        device, _ = await mfa_device(target, flows)
        codes = (await device.post("/v1/me/backup_codes")).json()["response"]["codes"]
        await verify(device, level="second_factor")
        response = await verify(device, "/attempt_second_factor", strategy="backup_code", code=codes[0])
        body = golden.check("session_verify_backup_code_complete", response, schema=WRAPPED)
        assert body["response"]["second_factor_verification"]["object"] == "verification_backup_code"

    async def test_fallback_to_password_without_mfa(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        body = golden.check("session_verify_first_factor", await verify(device, level="second_factor"), schema=WRAPPED)
        assert (body["response"]["level"], body["response"]["status"]) == ("first_factor", "needs_first_factor")
        response = await verify(device, "/attempt_first_factor", strategy="password", password=PASSWORD)
        body = golden.check("session_verify_first_factor_complete", response, schema=WRAPPED)
        assert body["response"]["first_factor_verification"]["object"] == "verification_password"

    async def test_multi_factor(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret = await mfa_device(target, flows)
        golden.check("session_verify_multi_factor", await verify(device, level="multi_factor"), schema=WRAPPED)
        response = await verify(device, "/attempt_first_factor", strategy="password", password=PASSWORD)
        body = golden.check("session_verify_multi_factor_password", response, schema=WRAPPED)
        assert body["response"]["status"] == "needs_second_factor"
        response = await verify(device, "/attempt_second_factor", strategy="totp", code=target.fresh_code(secret))
        body = golden.check("session_verify_multi_factor_complete", response, schema=WRAPPED)
        assert body["response"]["session"]["factor_verification_age"] == [0, 0]


class TestGate:
    """MFA changes of a stale session: 403 with Clerk's hint until it reverifies."""

    async def test_stale_session_reverifies(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret = await mfa_device(target, flows)
        target.advance(MAX_AGE * 60)
        response = await device.post("/v1/me/backup_codes")
        error = check_error(golden, "session_reverification_required", response, 403, "session_reverification_required")
        assert error["meta"] == {"reverification": {"level": "second_factor", "afterMinutes": MAX_AGE}}
        await verify(device, level="second_factor")
        await verify(device, "/attempt_second_factor", strategy="totp", code=target.fresh_code(secret))
        response = await device.post("/v1/me/backup_codes")
        assert response.status_code == 200, response.text

    async def test_stale_enrolment_needs_password(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        target.advance(MAX_AGE * 60)
        response = await device.post("/v1/me/totp")
        name = "session_reverification_required_first_factor"
        error = check_error(golden, name, response, 403, "session_reverification_required")
        assert error["meta"] == {"reverification": {"level": "first_factor", "afterMinutes": MAX_AGE}}


class TestVerificationErrors:
    """Wrong codes and passwords, wrong order, bad input and foreign sessions."""

    async def test_wrong_code(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret = await mfa_device(target, flows)
        await verify(device, level="second_factor")
        response = await verify(
            device, "/attempt_second_factor", strategy="totp", code=_wrong_code(secret, target.now())
        )
        error = check_error(golden, "form_code_incorrect_reverification", response, 422, "form_code_incorrect")
        assert error["meta"]["param_name"] == "code"

    async def test_wrong_password(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        await verify(device, level="first_factor")
        response = await verify(device, "/attempt_first_factor", strategy="password", password="not it")
        check_error(golden, "form_password_incorrect_reverification", response, 422, "form_password_incorrect")

    async def test_attempt_before_start(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret = await mfa_device(target, flows)
        response = await verify(device, "/attempt_second_factor", strategy="totp", code=target.fresh_code(secret))
        check_error(golden, "client_state_invalid_reverification", response, 400, "client_state_invalid")

    async def test_invalid_level(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        response = await verify(device, level="strict")
        error = check_error(golden, "form_param_value_invalid_level", response, 422, "form_param_value_invalid")
        assert error["meta"]["param_name"] == "level"

    async def test_session_of_another_client(self, target: Any, golden: Any, flows: Any) -> None:
        owner = await flows.signed_in()
        stranger = await flows.signed_in("john@example.com")
        response = await stranger.post(f"/v1/client/sessions/{owner.session_id}/verify", data={"level": "first_factor"})
        check_error(golden, "resource_not_found_session_verify", response, 404, "resource_not_found")


class TestSDK:
    """``AsyncSession.verify()`` and ``AsyncSessionVerification`` against the server and the fake."""

    async def test_step_up_through_the_sdk(self, target: Any, flows: Any) -> None:
        _, secret, _ = await flows.enrolled()
        fapi = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0)
        sign_in = await fapi.sign_in(identifier=target.email("jane@example.com"), password=PASSWORD)
        sign_in = await sign_in.attempt_second_factor(strategy="totp", code=target.fresh_code(secret))
        user = await fapi.get_user()
        target.advance(MAX_AGE * 60)
        with pytest.raises(PermissionDeniedError) as caught:
            await user.create_backup_code()
        assert caught.value.code == "session_reverification_required"
        session = await fapi.get_session()
        verification = await session.verify(level="multi_factor")
        assert (verification.level, verification.status) == ("multi_factor", "needs_first_factor")
        assert [f.strategy for f in verification.supported_first_factors] == ["password"]
        verification = await verification.attempt_first_factor(password=PASSWORD)
        assert verification.status == "needs_second_factor"
        assert [f.strategy for f in verification.supported_second_factors] == ["totp", "backup_code"]
        verification = await verification.attempt_second_factor(strategy="totp", code=target.fresh_code(secret))
        assert verification.status == "complete"
        assert session.data.factor_verification_age == [0, 0]
        assert len((await user.create_backup_code()).codes) == 10
