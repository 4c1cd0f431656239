"""Session reverification in the SDK: ``AsyncSession.verify()`` / ``AsyncSessionVerification`` and the fake.

The first class pins the requests against mocked routes; the second drives the stateful fake
(:class:`totpkit.testing.FakeFrontendAPI` with ``reverification_max_age``) through the SDK.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import respx

from totpkit import (
    AsyncFrontend,
    AsyncSession,
    AsyncSessionVerification,
    BadRequestError,
    PermissionDeniedError,
    UnprocessableEntityError,
)
from totpkit.testing import FakeFrontendAPI, ManualClock, totp_code
from totpkit.types import SessionVerification, SignInFactor, Verification

EMAIL = "jane@example.com"
PASSWORD = "correct horse battery staple"
START = 1_700_000_010.0  # 10 s into a 30 s step
MAX_AGE = 10


def verification(wire: Any, status: str, *, level: str = "second_factor") -> Any:
    """A ``{response: session_reverification, client}`` answer for ``sess_1`` in ``status``.

    Once ``complete`` the session in it shows fresh factors (``factor_verification_age`` ``[0, 0]``).
    """
    session = wire.session()
    if status == "complete":
        session = msgspec.structs.replace(session, factor_verification_age=[0, 0])
    stub = None
    if status == "complete":
        stub = Verification(object="verification_totp", status="verified", strategy="totp", attempts=1, expire_at=None)
    data = SessionVerification(
        level=level,
        status=status,
        supported_first_factors=[SignInFactor(strategy="password")],
        supported_second_factors=[SignInFactor(strategy="totp")],
        first_factor_verification=None,
        second_factor_verification=stub,
        session=session,
    )
    return wire.wrapped(data, wire.client(session))


class TestRequests:
    """What ``verify`` and the attempts send, and what they return."""

    @pytest.fixture(name="session")
    async def fx_session(self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any) -> AsyncSession:
        router.get("/v1/client/sessions/sess_1").mock(return_value=wire.wrapped(wire.session(), wire.client()))
        return await fapi.get_session("sess_1")

    async def test_verify_defaults_to_second_factor(
        self, session: AsyncSession, router: respx.MockRouter, wire: Any
    ) -> None:
        """``verify()`` posts ``level=second_factor`` to ``/verify`` and wraps the answer."""
        route = router.post("/v1/client/sessions/sess_1/verify").mock(
            return_value=verification(wire, "needs_second_factor")
        )
        started = await session.verify()
        assert route.calls.last.request.content == b"level=second_factor"
        assert isinstance(started, AsyncSessionVerification)
        assert (started.level, started.status) == ("second_factor", "needs_second_factor")
        assert [f.strategy for f in started.supported_first_factors] == ["password"]
        assert [f.strategy for f in started.supported_second_factors] == ["totp"]
        assert repr(started) == "<AsyncSessionVerification sess_1 level='second_factor' status='needs_second_factor'>"

    async def test_attempts_post_their_fields_and_refresh_the_session(
        self, session: AsyncSession, router: respx.MockRouter, wire: Any
    ) -> None:
        """Each attempt returns a new snapshot; the session handle adopts the session in the answer."""
        router.post("/v1/client/sessions/sess_1/verify").mock(
            return_value=verification(wire, "needs_first_factor", level="multi_factor")
        )
        first = router.post("/v1/client/sessions/sess_1/verify/attempt_first_factor").mock(
            return_value=verification(wire, "needs_second_factor", level="multi_factor")
        )
        second = router.post("/v1/client/sessions/sess_1/verify/attempt_second_factor").mock(
            return_value=verification(wire, "complete", level="multi_factor")
        )
        started = await session.verify(level="multi_factor")
        after_password = await started.attempt_first_factor(password="pw")
        assert first.calls.last.request.content == b"strategy=password&password=pw"
        assert (started.status, after_password.status) == ("needs_first_factor", "needs_second_factor")
        done = await after_password.attempt_second_factor(strategy="backup_code", code="abc")
        assert second.calls.last.request.content == b"strategy=backup_code&code=abc"
        assert done.status == "complete"
        assert done.data.second_factor_verification is not None
        assert session.data.factor_verification_age == [0, 0]

    async def test_empty_values_are_refused_locally(
        self, session: AsyncSession, router: respx.MockRouter, wire: Any
    ) -> None:
        """An empty code or password raises ValueError without a request."""
        router.post("/v1/client/sessions/sess_1/verify").mock(return_value=verification(wire, "needs_first_factor"))
        started = await session.verify(level="first_factor")
        calls = len(router.calls)
        with pytest.raises(ValueError, match="password"):
            await started.attempt_first_factor(password="")
        with pytest.raises(ValueError, match="code"):
            await started.attempt_second_factor(strategy="totp", code="")
        assert len(router.calls) == calls

    async def test_reverification_required_is_permission_denied(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any
    ) -> None:
        """A 403 ``session_reverification_required`` raises PermissionDeniedError carrying the code."""
        router.get("/v1/me").mock(return_value=wire.wrapped(wire.user(), wire.client(wire.session())))
        router.post("/v1/me/backup_codes").mock(return_value=wire.error(403, "session_reverification_required"))
        user = await fapi.get_user()
        with pytest.raises(PermissionDeniedError) as caught:
            await user.create_backup_code()
        assert caught.value.code == "session_reverification_required"


@pytest.fixture(name="clock")
def fx_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture(name="fake")
async def fx_fake(clock: ManualClock) -> AsyncIterator[FakeFrontendAPI]:
    fake = FakeFrontendAPI(clock=clock, random_bytes=random.Random(3).randbytes, reverification_max_age=MAX_AGE)
    async with fake:
        yield fake


SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


async def signed_in_with_totp(fake: FakeFrontendAPI, clock: ManualClock) -> AsyncFrontend:
    """A user with TOTP and backup codes, signed in with password and TOTP on a new frontend."""
    fake.add_user(EMAIL, PASSWORD, totp_secret=SECRET, backup_codes=["aaaa-bbbb-cc", "dddd-eeee-ff"])
    fapi = fake.frontend()
    sign_in = await fapi.sign_in(identifier=EMAIL, password=PASSWORD)
    await sign_in.attempt_second_factor(strategy="totp", code=totp_code(SECRET, at=clock.now))
    clock.now += 30
    return fapi


class TestFake:
    """The fake gates MFA changes and answers reverifications like the server."""

    async def test_stale_session_reverifies_with_totp(self, fake: FakeFrontendAPI, clock: ManualClock) -> None:
        """Ten minutes after the TOTP sign-in a change is 403 (with Clerk's hint) until a TOTP reverification."""
        fapi = await signed_in_with_totp(fake, clock)
        assert (await fapi.get_environment()).auth_config["reverification"] is True
        user = await fapi.get_user()
        clock.now += MAX_AGE * 60
        with pytest.raises(PermissionDeniedError) as caught:
            await user.disable_totp()
        assert caught.value.errors[0].meta == {"reverification": {"level": "second_factor", "afterMinutes": MAX_AGE}}
        session = await fapi.get_session()
        started = await session.verify()
        done = await started.attempt_second_factor(strategy="totp", code=totp_code(SECRET, at=clock.now))
        assert done.status == "complete"
        assert session.data.factor_verification_age == [10, 0]
        assert (await user.disable_totp()).deleted is True
        assert fake.router["session_verify_attempt_second_factor"].call_count == 1

    async def test_first_enrolment_falls_back_to_the_password(self, fake: FakeFrontendAPI, clock: ManualClock) -> None:
        """A user without TOTP reverifies with the password; a wrong one is 422 and counts."""
        fake.add_user(EMAIL, PASSWORD)
        fapi = fake.frontend()
        await fapi.sign_in(identifier=EMAIL, password=PASSWORD)
        user = await fapi.get_user()
        clock.now += MAX_AGE * 60
        with pytest.raises(PermissionDeniedError):
            await user.create_totp()
        started = await (await fapi.get_session()).verify(level="multi_factor")
        assert (started.level, started.status) == ("first_factor", "needs_first_factor")
        with pytest.raises(UnprocessableEntityError):
            await started.attempt_first_factor(password="wrong")
        await user.reload()
        assert user.data.verification_attempts_remaining == 9
        assert (await started.attempt_first_factor(password=PASSWORD)).status == "complete"
        assert (await user.create_totp()).secret is not None

    async def test_codes_count_and_cannot_be_replayed(self, fake: FakeFrontendAPI, clock: ManualClock) -> None:
        """A wrong code is 422 and counts; the code of the sign-in, or of a finished reverification, is refused."""
        fake.add_user(EMAIL, PASSWORD, totp_secret=SECRET)
        fapi = fake.frontend()
        sign_in = await fapi.sign_in(identifier=EMAIL, password=PASSWORD)
        used = totp_code(SECRET, at=clock.now)
        await sign_in.attempt_second_factor(strategy="totp", code=used)
        session = await fapi.get_session()
        started = await session.verify()
        with pytest.raises(UnprocessableEntityError):
            await started.attempt_second_factor(strategy="totp", code=used)
        clock.now += 30
        fresh = totp_code(SECRET, at=clock.now)
        assert (await started.attempt_second_factor(strategy="totp", code=fresh)).status == "complete"
        with pytest.raises(UnprocessableEntityError):
            await (await session.verify()).attempt_second_factor(strategy="totp", code=fresh)
        with pytest.raises(BadRequestError):
            await (await session.verify()).attempt_second_factor(strategy="backup_code", code="abc")

    async def test_gate_is_off_without_max_age(self, clock: ManualClock) -> None:
        """Without ``reverification_max_age`` a day-old session changes MFA freely."""
        async with FakeFrontendAPI(clock=clock, random_bytes=random.Random(5).randbytes) as fake:
            fapi = await signed_in_with_totp(fake, clock)
            clock.now += 24 * 3600
            user = await fapi.get_user()
            assert len((await user.create_backup_code()).codes) == 10
            assert (await fapi.get_environment()).auth_config["reverification"] is False
