"""Retries: which failures are retried, how long the SDK waits, and what it raises at the end."""

from __future__ import annotations

import email.utils
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from totpkit import (
    APIConnectionError,
    APITimeoutError,
    AsyncBackend,
    AsyncFrontend,
    BadRequestError,
    InternalServerError,
    RateLimitError,
)

BASE_URL = "https://fapi.example.test"
NOW = 1_700_000_000.0


def _frontend(http_client: httpx.AsyncClient, sleeps: list[float], **kwargs: Any) -> AsyncFrontend:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return AsyncFrontend(BASE_URL, http_client=http_client, _sleep=sleep, _clock=lambda: NOW, **kwargs)


class TestRetryAfter:
    """A 429 waits exactly as long as Retry-After says, within 0..60 s."""

    async def test_integer_seconds(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, sleeps: list[float]
    ) -> None:
        """Retry-After: 3 sleeps 3 s, then the retry succeeds."""
        route = router.get("/v1/environment").mock(
            side_effect=[wire.error(429, "too_many_requests", headers={"retry-after": "3"}), wire.json({})]
        )
        await fapi.get_environment()
        assert route.call_count == 2
        assert sleeps == [3.0]

    async def test_http_date(
        self, http_client: httpx.AsyncClient, router: respx.MockRouter, wire: Any, sleeps: list[float]
    ) -> None:
        """An HTTP-date Retry-After is measured against the injected clock."""
        when = email.utils.formatdate(NOW + 7, usegmt=True)
        router.get("/v1/environment").mock(
            side_effect=[wire.error(429, "too_many_requests", headers={"retry-after": when}), wire.json({})]
        )
        await _frontend(http_client, sleeps).get_environment()
        assert sleeps == [7.0]

    @pytest.mark.parametrize("value", ["61", "-1", "soon"])
    async def test_out_of_range_falls_back_to_backoff(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, sleeps: list[float], value: str
    ) -> None:
        """A Retry-After above 60 s, negative or unreadable is ignored in favour of the 0.5 s backoff."""
        router.get("/v1/environment").mock(
            side_effect=[wire.error(429, "too_many_requests", headers={"retry-after": value}), wire.json({})]
        )
        await fapi.get_environment()
        assert sleeps == [0.5]


class TestBackoff:
    """Without Retry-After the delay doubles from 0.5 s up to 8 s, minus jitter."""

    async def test_5xx_then_success(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, sleeps: list[float]
    ) -> None:
        """Two 503s then a 200: two retries, 0.5 s then 1 s."""
        route = router.get("/v1/environment").mock(
            side_effect=[httpx.Response(503), wire.error(500, "internal_clerk_error"), wire.json({})]
        )
        await fapi.get_environment()
        assert route.call_count == 3
        assert sleeps == [0.5, 1.0]

    async def test_delay_is_capped(
        self, http_client: httpx.AsyncClient, router: respx.MockRouter, sleeps: list[float]
    ) -> None:
        """The backoff never exceeds 8 s."""
        router.get("/v1/environment").mock(return_value=httpx.Response(502))
        fapi = _frontend(http_client, sleeps, max_retries=6, _jitter=lambda: 0.0)
        with pytest.raises(InternalServerError):
            await fapi.get_environment()
        assert sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]

    async def test_jitter_shortens_the_delay(
        self, http_client: httpx.AsyncClient, router: respx.MockRouter, wire: Any, sleeps: list[float]
    ) -> None:
        """Full jitter takes 25 % off the delay."""
        router.get("/v1/environment").mock(side_effect=[httpx.Response(500), wire.json({})])
        await _frontend(http_client, sleeps, _jitter=lambda: 1.0).get_environment()
        assert sleeps == [0.375]

    async def test_connection_errors_are_retried(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, sleeps: list[float]
    ) -> None:
        """A timeout followed by a success returns the success."""
        route = router.get("/v1/environment").mock(side_effect=[httpx.ConnectTimeout("slow"), wire.json({})])
        await fapi.get_environment()
        assert route.call_count == 2
        assert sleeps == [0.5]


class TestExhausted:
    """When the retries run out, the last failure is raised."""

    async def test_429_exhausted_raises_rate_limit_error(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, sleeps: list[float]
    ) -> None:
        """Three 429s with the default two retries raise RateLimitError with retry_after."""
        route = router.get("/v1/environment").mock(
            return_value=wire.error(429, "too_many_requests", headers={"retry-after": "2"})
        )
        with pytest.raises(RateLimitError) as caught:
            await fapi.get_environment()
        assert route.call_count == 3
        assert sleeps == [2.0, 2.0]
        assert caught.value.retry_after == 2.0

    async def test_timeouts_exhausted_raise_timeout_error(
        self, fapi: AsyncFrontend, router: respx.MockRouter, sleeps: list[float]
    ) -> None:
        """Persistent timeouts raise APITimeoutError after max_retries retries."""
        route = router.get("/v1/environment").mock(side_effect=httpx.ReadTimeout("slow"))
        with pytest.raises(APITimeoutError):
            await fapi.get_environment()
        assert route.call_count == 3

    async def test_max_retries_zero(
        self, http_client: httpx.AsyncClient, router: respx.MockRouter, sleeps: list[float]
    ) -> None:
        """max_retries=0 sends once and never sleeps."""
        route = router.get("/v1/environment").mock(return_value=httpx.Response(500))
        with pytest.raises(InternalServerError):
            await _frontend(http_client, sleeps, max_retries=0).get_environment()
        assert route.call_count == 1
        assert sleeps == []

    async def test_4xx_is_not_retried(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, sleeps: list[float]
    ) -> None:
        """A 400 is raised at once."""
        route = router.get("/v1/environment").mock(return_value=wire.error(400, "totp_already_enabled"))
        with pytest.raises(BadRequestError):
            await fapi.get_environment()
        assert route.call_count == 1
        assert sleeps == []


_UNSAFE_TO_REPEAT = {
    "read timeout": httpx.ReadTimeout("no answer in time"),
    "write timeout": httpx.WriteTimeout("body half sent"),
    "connection dropped mid-request": httpx.RemoteProtocolError("server disconnected without sending a response"),
    "500": httpx.Response(500),
    "503": httpx.Response(503),
}
_NOTHING_SENT = {
    "connect error": httpx.ConnectError("connection refused"),
    "connect timeout": httpx.ConnectTimeout("no connection in time"),
    "pool timeout": httpx.PoolTimeout("no free connection"),
}


async def _sign_in_with_password(
    fapi: AsyncFrontend, bapi: AsyncBackend, router: respx.MockRouter, wire: Any
) -> object:
    return await fapi.sign_in(identifier="jane@example.com", password="pw")


async def _attempt_second_factor(
    fapi: AsyncFrontend, bapi: AsyncBackend, router: respx.MockRouter, wire: Any
) -> object:
    router.post("/v1/client/sign_ins").mock(return_value=wire.wrapped(wire.sign_in("needs_second_factor")))
    pending = await fapi.sign_in(identifier="jane@example.com", password="pw")
    return await pending.attempt_second_factor(strategy="totp", code="123456")


async def _verify_enrolment(fapi: AsyncFrontend, bapi: AsyncBackend, router: respx.MockRouter, wire: Any) -> object:
    router.get("/v1/me").mock(return_value=wire.wrapped(wire.user()))
    user = await fapi.get_user()
    return await user.verify_totp(code="123456")


async def _bapi_verify_totp(fapi: AsyncFrontend, bapi: AsyncBackend, router: respx.MockRouter, wire: Any) -> object:
    return await bapi.verify_totp("user_1", "123456")


_Send = Callable[[AsyncFrontend, AsyncBackend, respx.MockRouter, Any], Awaitable[object]]
_CODE_CONSUMING_POSTS: dict[str, tuple[str, _Send]] = {
    "sign-in with password": ("/v1/client/sign_ins", _sign_in_with_password),
    "sign-in second factor": ("/v1/client/sign_ins/sia_1/attempt_second_factor", _attempt_second_factor),
    "TOTP enrolment": ("/v1/me/totp/attempt_verification", _verify_enrolment),
    "BAPI verify_totp": ("/v1/users/user_1/verify_totp", _bapi_verify_totp),
}


class TestOnlySafeRequestsAreRepeated:
    """A POST that carries a code is sent once: a repeat could turn a success into a lockout failure."""

    @pytest.mark.parametrize("failure", list(_UNSAFE_TO_REPEAT), ids=list(_UNSAFE_TO_REPEAT))
    @pytest.mark.parametrize("call", list(_CODE_CONSUMING_POSTS), ids=list(_CODE_CONSUMING_POSTS))
    async def test_a_code_consuming_post_is_not_resent_once_it_may_have_arrived(
        self,
        fapi: AsyncFrontend,
        bapi: AsyncBackend,
        router: respx.MockRouter,
        wire: Any,
        sleeps: list[float],
        failure: str,
        call: str,
    ) -> None:
        """After a read/write timeout, a dropped connection or a 5xx the POST is raised, not repeated."""
        path, send = _CODE_CONSUMING_POSTS[call]
        outcome = _UNSAFE_TO_REPEAT[failure]
        route = router.post(path).mock(side_effect=[outcome, wire.error(422, "form_code_incorrect")])
        with pytest.raises((APITimeoutError, APIConnectionError, InternalServerError)):
            await send(fapi, bapi, router, wire)
        assert route.call_count == 1
        assert sleeps == []

    @pytest.mark.parametrize("failure", list(_NOTHING_SENT), ids=list(_NOTHING_SENT))
    async def test_a_post_is_resent_when_nothing_was_sent(
        self, bapi: AsyncBackend, router: respx.MockRouter, wire: Any, sleeps: list[float], failure: str
    ) -> None:
        """No connection, a connect timeout or a full pool: the server never saw it, so it is sent again."""
        route = router.post("/v1/users/user_1/verify_totp").mock(
            side_effect=[_NOTHING_SENT[failure], wire.json({"verified": True, "code_type": "totp"})]
        )
        checked = await bapi.verify_totp("user_1", "123456")
        assert checked.verified is True
        assert route.call_count == 2
        assert sleeps == [0.5]

    async def test_a_post_is_resent_after_429(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, sleeps: list[float]
    ) -> None:
        """A 429 is answered before anything is processed: the sign-in attempt is sent again after Retry-After."""
        route = router.post("/v1/client/sign_ins").mock(
            side_effect=[
                wire.error(429, "too_many_requests", headers={"retry-after": "2"}),
                wire.wrapped(wire.sign_in("needs_second_factor")),
            ]
        )
        pending = await fapi.sign_in(identifier="jane@example.com", password="pw")
        assert pending.status == "needs_second_factor"
        assert route.call_count == 2
        assert sleeps == [2.0]

    @pytest.mark.parametrize("failure", list(_UNSAFE_TO_REPEAT), ids=list(_UNSAFE_TO_REPEAT))
    async def test_a_get_is_resent_after_any_failure(
        self, fapi: AsyncFrontend, router: respx.MockRouter, wire: Any, sleeps: list[float], failure: str
    ) -> None:
        """Reads are repeatable: the same failures that stop a POST are retried for a GET."""
        route = router.get("/v1/me").mock(side_effect=[_UNSAFE_TO_REPEAT[failure], wire.wrapped(wire.user())])
        user = await fapi.get_user()
        assert user.id == "user_1"
        assert route.call_count == 2
        assert sleeps == [0.5]
