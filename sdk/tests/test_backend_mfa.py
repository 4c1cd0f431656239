"""``AsyncBackend``'s MFA administration, against the SDK's fake: requests sent, answers typed, errors mapped."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator

import pytest

from totpkit import (
    AsyncBackend,
    BadRequestError,
    NotFoundError,
    PermissionDeniedError,
    UnprocessableEntityError,
)
from totpkit.testing import FakeFrontendAPI, ManualClock, totp_code
from totpkit.types import TOTPVerification, User, UserIdResponse

EMAIL = "jane@example.com"
PASSWORD = "correct horse battery staple"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
START = 1_700_000_010.0


@pytest.fixture(name="clock")
def fx_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(name="fake")
async def fx_fake(clock: ManualClock) -> AsyncIterator[FakeFrontendAPI]:
    async with FakeFrontendAPI(clock=clock, random_bytes=random.Random(3).randbytes) as fake:
        yield fake


@pytest.fixture(name="bapi")
def fx_bapi(fake: FakeFrontendAPI) -> AsyncBackend:
    return fake.backend()


def _lockout(user: User) -> tuple[bool, int | None, int | None]:
    return (user.locked, user.lockout_expires_in_seconds, user.verification_attempts_remaining)


def _wrong(secret: str, at: float) -> str:
    valid = {totp_code(secret, at=at + offset * 30) for offset in range(-2, 3)}
    return next(code for code in (f"{n:06d}" for n in range(0, 1_000_000, 7919)) if code not in valid)


class TestVerifyTotp:
    async def test_totp_and_backup_codes(self, fake: FakeFrontendAPI, bapi: AsyncBackend, clock: ManualClock) -> None:
        """A TOTP code and a backup code verify once each; the request is ``POST`` with JSON ``{"code"}``."""
        user_id = fake.add_user(EMAIL, PASSWORD, totp_secret=SECRET, backup_codes=["aaaaaaaaaa", "bbbbbbbbbb"])
        code = totp_code(SECRET, at=clock())
        result = await bapi.verify_totp(user_id, code)
        assert result == TOTPVerification(verified=True, code_type="totp")
        request = fake.router["bapi_user_verify_totp"].calls.last.request
        assert (request.method, request.url.path) == ("POST", f"/v1/users/{user_id}/verify_totp")
        assert request.headers["authorization"] == f"Bearer {fake.secret_key}"
        assert request.headers["content-type"] == "application/json"
        assert json.loads(request.content) == {"code": code}
        with pytest.raises(UnprocessableEntityError) as replay:
            await bapi.verify_totp(user_id, code)
        assert replay.value.code == "totp_incorrect_code"
        assert await bapi.verify_totp(user_id, "aaaaaaaaaa") == TOTPVerification(verified=True, code_type="backup_code")
        with pytest.raises(UnprocessableEntityError) as used:
            await bapi.verify_totp(user_id, "aaaaaaaaaa")
        assert used.value.code == "totp_incorrect_code"

    async def test_errors(self, fake: FakeFrontendAPI, bapi: AsyncBackend, clock: ManualClock) -> None:
        """Each Clerk error arrives as its status class with Clerk's code; empty arguments never leave."""
        plain = fake.add_user(EMAIL, PASSWORD)
        with pytest.raises(BadRequestError) as disabled:
            await bapi.verify_totp(plain, "123456")
        assert disabled.value.code == "totp_disabled"
        with_totp = fake.add_user("ada@example.com", PASSWORD, totp_secret=SECRET)
        with pytest.raises(UnprocessableEntityError) as length:
            await bapi.verify_totp(with_totp, "12345")
        assert length.value.code == "totp_invalid_length"
        with pytest.raises(NotFoundError):
            await bapi.verify_totp("user_missing", "123456")
        calls = fake.router["bapi_user_verify_totp"].call_count
        with pytest.raises(ValueError, match="code"):
            await bapi.verify_totp(with_totp, "")
        with pytest.raises(ValueError, match="user_id"):
            await bapi.verify_totp("", "123456")
        assert fake.router["bapi_user_verify_totp"].call_count == calls

    async def test_lockout(self, fake: FakeFrontendAPI, bapi: AsyncBackend, clock: ManualClock) -> None:
        """Ten wrong codes lock the user (403), as at sign-in."""
        user_id = fake.add_user(EMAIL, PASSWORD, totp_secret=SECRET)
        wrong = _wrong(SECRET, clock())
        for _ in range(9):
            with pytest.raises(UnprocessableEntityError):
                await bapi.verify_totp(user_id, wrong)
        with pytest.raises(PermissionDeniedError) as locked:
            await bapi.verify_totp(user_id, wrong)
        assert locked.value.code == "user_locked"
        with pytest.raises(PermissionDeniedError):
            await bapi.verify_totp(user_id, totp_code(SECRET, at=clock()))


class TestDeletions:
    async def test_delete_methods(self, fake: FakeFrontendAPI, bapi: AsyncBackend) -> None:
        """Each deletion is a ``DELETE`` answered ``UserIdResponse``; the user shows the effect."""
        user_id = fake.add_user(EMAIL, PASSWORD, totp_secret=SECRET, backup_codes=["aaaaaaaaaa"])
        assert await bapi.delete_backup_codes(user_id) == UserIdResponse(user_id=user_id)
        user = await bapi.get_user(user_id)
        assert (user.totp_enabled, user.backup_code_enabled) == (True, False)
        assert await bapi.delete_totp(user_id) == UserIdResponse(user_id=user_id)
        user = await bapi.get_user(user_id)
        assert (user.totp_enabled, user.two_factor_enabled, user.mfa_disabled_at) == (False, False, 1_700_000_010_000)
        other = fake.add_user("ada@example.com", PASSWORD, totp_secret=SECRET, backup_codes=["aaaaaaaaaa"])
        assert await bapi.disable_mfa(other) == UserIdResponse(user_id=other)
        user = await bapi.get_user(other)
        assert (user.totp_enabled, user.backup_code_enabled) == (False, False)
        for route, path in (
            ("bapi_user_backup_codes_delete", f"/v1/users/{user_id}/backup_code"),
            ("bapi_user_totp_delete", f"/v1/users/{user_id}/totp"),
            ("bapi_user_mfa_delete", f"/v1/users/{other}/mfa"),
        ):
            request = fake.router[route].calls.last.request
            assert (request.method, request.url.path) == ("DELETE", path)

    @pytest.mark.parametrize(
        "method", ["delete_totp", "delete_backup_codes", "disable_mfa", "lock_user", "unlock_user"]
    )
    async def test_unknown_user(self, bapi: AsyncBackend, method: str) -> None:
        with pytest.raises(NotFoundError) as missing:
            await getattr(bapi, method)("user_missing")
        assert missing.value.code == "resource_not_found"


class TestLock:
    async def test_lock_lasts_the_lockout_duration(
        self, fake: FakeFrontendAPI, bapi: AsyncBackend, clock: ManualClock
    ) -> None:
        """``lock_user`` answers a User locked for the hour with no attempts left; sign-in is refused
        with the time left until one second before the end, and works once the hour is over."""
        user_id = fake.add_user(EMAIL, PASSWORD, totp_secret=SECRET)
        with pytest.raises(UnprocessableEntityError):
            await bapi.verify_totp(user_id, _wrong(SECRET, clock()))
        locked = await bapi.lock_user(user_id)
        assert isinstance(locked, User)
        assert _lockout(locked) == (True, 3600, 0)
        clock.now += 3599
        assert _lockout(await bapi.get_user(user_id)) == (True, 1, 0)
        with pytest.raises(PermissionDeniedError) as refused:
            await fake.frontend().sign_in(identifier=EMAIL, password=PASSWORD)
        error = refused.value.errors[0]
        assert (error.code, error.meta) == ("user_locked", {"lockout_expires_in_seconds": 1})
        assert "try again in 1 minutes" in error.long_message
        with pytest.raises(PermissionDeniedError):
            await bapi.verify_totp(user_id, totp_code(SECRET, at=clock()))
        clock.now += 1
        assert _lockout(await bapi.get_user(user_id)) == (False, None, 10)
        assert (await fake.frontend().sign_in(identifier=EMAIL, password=PASSWORD)).status == "needs_second_factor"

    async def test_lock_during_a_lockout_and_unlock(
        self, fake: FakeFrontendAPI, bapi: AsyncBackend, clock: ManualClock
    ) -> None:
        """Ten minutes into a lockout a lock ends an hour from now (the later end); ``unlock_user``
        lifts it at once with a fresh count."""
        user_id = fake.add_user(EMAIL, PASSWORD, totp_secret=SECRET)
        wrong = _wrong(SECRET, clock())
        for _ in range(9):
            with pytest.raises(UnprocessableEntityError):
                await bapi.verify_totp(user_id, wrong)
        with pytest.raises(PermissionDeniedError):
            await bapi.verify_totp(user_id, wrong)
        clock.now += 600
        assert _lockout(await bapi.get_user(user_id)) == (True, 3000, 0)
        assert _lockout(await bapi.lock_user(user_id)) == (True, 3600, 0)
        assert _lockout(await bapi.unlock_user(user_id)) == (False, None, 10)
        assert (await fake.frontend().sign_in(identifier=EMAIL, password=PASSWORD)).status == "needs_second_factor"


class TestUpdateUser:
    async def test_imports_and_names(self, fake: FakeFrontendAPI, bapi: AsyncBackend, clock: ManualClock) -> None:
        """``update_user`` sends only the given fields as a ``PATCH``; the imported secret then verifies."""
        user_id = fake.add_user(EMAIL, PASSWORD)
        user = await bapi.update_user(user_id, first_name="Jane", totp_secret=SECRET, backup_codes=["aaaaaaaaaa"])
        assert (user.first_name, user.last_name, user.totp_enabled, user.backup_code_enabled) == (
            "Jane",
            None,
            True,
            True,
        )
        request = fake.router["bapi_user_update"].calls.last.request
        assert (request.method, request.url.path) == ("PATCH", f"/v1/users/{user_id}")
        assert json.loads(request.content) == {
            "first_name": "Jane",
            "totp_secret": SECRET,
            "backup_codes": ["aaaaaaaaaa"],
        }
        assert (await bapi.verify_totp(user_id, totp_code(SECRET, at=clock()))).verified is True

    async def test_invalid_secret_changes_nothing(self, fake: FakeFrontendAPI, bapi: AsyncBackend) -> None:
        user_id = fake.add_user(EMAIL, PASSWORD)
        before = await bapi.get_user(user_id)
        with pytest.raises(UnprocessableEntityError) as invalid:
            await bapi.update_user(user_id, first_name="Jane", totp_secret="not base32!")
        assert invalid.value.code == "invalid_totp_secret_code"
        assert await bapi.get_user(user_id) == before
