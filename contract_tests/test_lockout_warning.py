"""The lockout as the code forms see it: two warnings, then the lock, pinned for server and fake alike.

A wrong code that leaves 2 or 1 attempts answers 422 ``account_lockout_warning`` (with
``param_name: code`` and the attempts left) instead of ``form_code_incorrect``; the failure that
reaches the limit answers 403 ``user_locked`` with the time left.
"""

from __future__ import annotations

from typing import Any

import httpx

from totpkit.otp import totp_code


def _wrong_code(target: Any, secret: str) -> str:
    """A six-digit code that is none of the secret's codes near the target's time."""
    valid = {totp_code(secret, at=target.now() + steps * 30) for steps in range(-3, 4)}
    return next(code for code in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if code not in valid)


def _error(golden: Any, name: str, response: httpx.Response, status: int) -> dict[str, Any]:
    body = golden.check(f"errors/{name}", response, status=status, schema="ClerkErrors")
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    return error


class TestLockoutWarning:
    async def test_sign_in_warns_twice_then_locks(self, target: Any, golden: Any, flows: Any) -> None:
        device, secret, _, sign_in_id = await flows.needs_second_factor()
        path = f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor"
        wrong = {"strategy": "totp", "code": _wrong_code(target, secret)}
        for _ in range(7):
            response = await device.post(path, data=wrong)
            assert response.status_code == 422
            assert response.json()["errors"][0]["code"] == "form_code_incorrect"
        for remaining in (2, 1):
            error = _error(golden, f"account_lockout_warning_{remaining}", await device.post(path, data=wrong), 422)
            assert error["code"] == "account_lockout_warning"
            assert error["meta"] == {"param_name": "code", "verification_attempts_remaining": remaining}
        error = _error(golden, "user_locked", await device.post(path, data=wrong), 403)
        assert error["code"] == "user_locked"
        assert 3590 <= error["meta"]["lockout_expires_in_seconds"] <= 3600

    async def test_enrolment_warns_too(self, target: Any, golden: Any, flows: Any) -> None:
        device = await flows.signed_in()
        secret = await flows.create_totp(device)
        wrong = {"code": _wrong_code(target, secret)}
        codes = [
            (await device.post("/v1/me/totp/attempt_verification", data=wrong)).json()["errors"][0]["code"]
            for _ in range(9)
        ]
        assert codes == ["form_code_incorrect"] * 7 + ["account_lockout_warning"] * 2

    async def test_an_ended_lockout_starts_afresh(self, target: Any, flows: Any) -> None:
        device, secret, _, sign_in_id = await flows.needs_second_factor()
        path = f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor"
        wrong = {"strategy": "totp", "code": _wrong_code(target, secret)}
        statuses = [(await device.post(path, data=wrong)).status_code for _ in range(10)]
        assert statuses == [422] * 9 + [403]
        target.advance(3600)
        again = await device.post(path, data={"strategy": "totp", "code": _wrong_code(target, secret)})
        assert (again.status_code, again.json()["errors"][0]["code"]) == (422, "form_code_incorrect")
