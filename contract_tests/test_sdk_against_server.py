"""The SDK's ``AsyncFrontend`` against the server: enrol, verify, backup codes, disable, MFA sign-in."""

from __future__ import annotations

from typing import Any

import pytest

import totpkit
from totpkit import AsyncFrontend
from totpkit.otp import totp_code

PASSWORD = "correct horse battery"


def _wrong_code(secret: str, at: float) -> str:
    valid = {totp_code(secret, at=at + offset * 30) for offset in range(-3, 4)}
    candidate = 0
    while f"{candidate:06d}" in valid:
        candidate += 1
    return f"{candidate:06d}"


class TestSDKAgainstServer:
    """The full TOTP life cycle through the SDK, with real answers (wire structs decode them)."""

    async def test_totp_life_cycle(self, target: Any) -> None:
        email = target.email("jane@example.com")
        await target.create_user("jane@example.com")
        fapi = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0)

        sign_in = await fapi.sign_in(identifier=email, password=PASSWORD)
        assert sign_in.status == "complete"
        user = await fapi.get_user()
        assert user.data.totp_enabled is False

        totp = await user.create_totp()
        assert totp.secret is not None
        assert totp.verified is False

        with pytest.raises(totpkit.APIStatusError) as caught:
            await user.verify_totp(code=_wrong_code(totp.secret, target.now()))
        error = caught.value
        assert isinstance(error, totpkit.UnprocessableEntityError)
        assert (error.status_code, error.code) == (422, "form_code_incorrect")
        assert error.errors[0].meta == {"param_name": "code"}
        assert error.clerk_trace_id

        verified = await user.verify_totp(code=target.fresh_code(totp.secret))
        assert verified.verified is True
        assert verified.backup_codes is not None
        assert len(verified.backup_codes) == 10
        assert user.totp_enabled is True

        with pytest.raises(totpkit.BadRequestError) as already:
            await user.create_totp()
        assert already.value.code == "totp_already_enabled"

        codes = await user.create_backup_code()
        assert len(codes.codes) == 10
        assert set(codes.codes).isdisjoint(verified.backup_codes)

        # A second device must pass the TOTP second factor.
        second = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0)
        pending = await second.sign_in(identifier=email, password=PASSWORD)
        assert pending.status == "needs_second_factor"
        assert [factor.strategy for factor in pending.supported_second_factors] == ["totp", "backup_code"]
        with pytest.raises(totpkit.UnprocessableEntityError) as wrong:
            await pending.attempt_second_factor(strategy="totp", code=_wrong_code(totp.secret, target.now()))
        assert wrong.value.code == "form_code_incorrect"
        complete = await pending.attempt_second_factor(strategy="totp", code=target.fresh_code(totp.secret))
        assert complete.status == "complete"
        assert complete.created_session_id
        assert (await second.get_user()).two_factor_enabled is True

        # A third device signs in with a backup code, which then is used up.
        third = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0)
        pending = await third.sign_in(identifier=email, password=PASSWORD)
        complete = await pending.attempt_second_factor(strategy="backup_code", code=codes.codes[0])
        assert complete.status == "complete"

        deleted = await user.disable_totp()
        assert (deleted.object, deleted.deleted) == ("totp", True)
        assert (user.data.totp_enabled, user.data.backup_code_enabled) == (False, False)
        with pytest.raises(totpkit.NotFoundError) as missing:
            await user.disable_totp()
        assert missing.value.code == "resource_not_found"

        fourth = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0)
        assert (await fourth.sign_in(identifier=email, password=PASSWORD)).status == "complete"

    async def test_signed_out_user_is_unauthenticated(self, target: Any) -> None:
        email = target.email("jane@example.com")
        await target.create_user("jane@example.com")
        fapi = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0)
        await fapi.sign_in(identifier=email, password=PASSWORD)
        await fapi.sign_out()
        with pytest.raises(totpkit.AuthenticationError) as caught:
            await fapi.get_user()
        assert (caught.value.status_code, caught.value.code) == (401, "authentication_invalid")

    async def test_wrong_password(self, target: Any) -> None:
        await target.create_user("jane@example.com")
        fapi = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0)
        with pytest.raises(totpkit.UnprocessableEntityError) as caught:
            await fapi.sign_in(identifier=target.email("jane@example.com"), password="wrong password")
        assert caught.value.code == "form_password_incorrect"

    async def test_client_token_is_reissued_at_sign_in(self, target: Any) -> None:
        """Session fixation: the SDK adopts the token re-issued at sign-in; the old token sees no session."""
        secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
        await target.create_user("jane@example.com", totp_secret=secret)
        fapi = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0)
        pending = await fapi.sign_in(identifier=target.email("jane@example.com"), password=PASSWORD)
        assert pending.status == "needs_second_factor"
        before = fapi.client_token
        assert before is not None
        complete = await pending.attempt_second_factor(strategy="totp", code=target.fresh_code(secret))
        assert complete.status == "complete"
        assert fapi.client_token not in (None, before)
        assert (await fapi.get_user()).totp_enabled is True
        assert (await fapi.get_session()).id == complete.created_session_id

        planted = AsyncFrontend(target.base_url, http_client=target.http_client, max_retries=0, client_token=before)
        old_client = await planted.get_client()
        assert old_client is not None
        assert old_client.sessions == []
        assert old_client.last_active_session_id is None
        with pytest.raises(totpkit.AuthenticationError):
            await planted.get_user()
        with pytest.raises(totpkit.NotFoundError):
            await planted.get_session(complete.created_session_id)
