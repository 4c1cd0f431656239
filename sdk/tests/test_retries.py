"""Retries: which failures are retried, how long the SDK waits, and what it raises at the end."""

from __future__ import annotations

import email.utils
from typing import Any

import httpx
import pytest
import respx

from totpkit import (
    APITimeoutError,
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
