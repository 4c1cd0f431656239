"""The request loop shared by both clients: URLs, bodies, retries, decoding and error mapping.

:class:`BaseClient` owns the policy; the :class:`httpx.AsyncClient` it is given (or creates) owns
the I/O. Subclasses add their own headers, query parameters and response handling through three
hooks (:meth:`BaseClient._default_headers`, :meth:`BaseClient._default_query`,
:meth:`BaseClient._on_response`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote, urlencode

import httpx
import msgspec

from ._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER, MAX_RETRY_DELAY
from ._exceptions import (
    APIConnectionError,
    APIResponseValidationError,
    APITimeoutError,
    make_status_error,
    parse_retry_after,
)
from ._version import __version__

__all__ = (
    "BaseClient",
    "Clock",
    "FormValue",
    "Sleep",
    "encode_form",
    "path_param",
    "require_non_empty",
)

T = TypeVar("T")

Sleep = Callable[[float], Awaitable[None]]
"""Waits the given number of seconds between retries (``asyncio.sleep`` unless injected)."""

Clock = Callable[[], float]
"""Returns the current Unix time in seconds (used to read ``Retry-After`` dates)."""

FormValue = str | int | bool | None | Sequence[str]
"""A form field: ``None`` is sent as an empty value, booleans as ``true``/``false``, lists as repeated keys."""


def require_non_empty(name: str, value: str) -> str:
    """Return ``value``, or raise :class:`ValueError` naming ``name`` if it is empty."""
    if not value:
        raise ValueError(f"Expected a non-empty value for `{name}` but received {value!r}")
    return value


def path_param(name: str, value: str) -> str:
    """Check that a path parameter is non-empty and percent-encode it (``/`` included)."""
    return quote(require_non_empty(name, value), safe="")


def encode_form(form: Mapping[str, FormValue]) -> str:
    """Encode ``form`` as ``application/x-www-form-urlencoded``, the way clerk-js does."""
    pairs: list[tuple[str, str]] = []
    for key, value in form.items():
        if isinstance(value, str | int | bool) or value is None:
            pairs.append((key, _form_scalar(value)))
        else:
            pairs.extend((key, item) for item in value)
    return urlencode(pairs)


def _form_scalar(value: str | int | bool | None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class BaseClient:
    """Sends requests with retries and turns answers into structs or exceptions.

    If ``http_client`` is given it is used as is and never closed by this object (its owner closes
    it); otherwise an :class:`httpx.AsyncClient` is created and closed by :meth:`aclose`.
    ``timeout`` applies to every request either way.
    """

    def __init__(
        self,
        base_url: str,
        *,
        http_client: httpx.AsyncClient | None,
        timeout: float | httpx.Timeout,
        max_retries: int,
        sleep: Sleep | None = None,
        jitter: Callable[[], float] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self._base_url = require_non_empty("base_url", str(base_url)).rstrip("/")
        self._owns_http_client = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._timeout = timeout
        self._max_retries = max_retries
        self._sleep: Sleep = sleep or asyncio.sleep
        self._jitter = jitter or random.random
        self._clock = clock or time.time

    @property
    def base_url(self) -> str:
        """The API root without a trailing slash; may include a path prefix (``http://host/fapi``)."""
        return self._base_url

    @property
    def max_retries(self) -> int:
        """How many times a failed request may be retried.

        429 and failures before anything was sent are retried for every request; 5xx answers, read
        timeouts and dropped connections only for reads (``GET``): a repeated code would be refused.
        """
        return self._max_retries

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it; an injected one is left open."""
        if self._owns_http_client:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _default_headers(self, path: str) -> dict[str, str]:
        """Headers for every request to ``path``; subclasses extend this."""
        return {"user-agent": f"totpkit-python/{__version__}"}

    def _default_query(self, path: str) -> dict[str, str]:
        """Query parameters for every request to ``path``; subclasses extend this."""
        return {}

    def _on_response(self, response: httpx.Response) -> None:
        """Called with every response (success or error) before it is interpreted."""

    async def _request(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[T],
        *,
        form: Mapping[str, FormValue] | None = None,
        json: object | None = None,
    ) -> T:
        """Send ``method path`` with retries and decode a 2xx body with ``decoder``.

        Non-GET requests carry a form body (possibly empty) unless ``json`` is given.
        """
        response = await self._send(lambda: self._build_request(method, path, form=form, json=json))
        return _decode(response, decoder)

    def _build_request(
        self, method: str, path: str, *, form: Mapping[str, FormValue] | None, json: object | None
    ) -> httpx.Request:
        headers = self._default_headers(path)
        content: bytes | None = None
        if json is not None:
            content = msgspec.json.encode(json)
            headers["content-type"] = "application/json"
        elif method != "GET":
            content = encode_form(form or {}).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        return self._http.build_request(
            method,
            self._base_url + path,
            params=self._default_query(path),
            headers=headers,
            content=content,
            timeout=self._timeout,
        )

    async def _send(self, build: Callable[[], httpx.Request]) -> httpx.Response:
        """Send the request, retrying only where a repeat cannot change what the server did.

        See :func:`_may_retry_failure` and :func:`_may_retry_answer` for which failures are retried;
        when the retries run out (or a failure may not be retried) the last failure is raised.
        """
        attempt = 0
        while True:
            request = build()
            response: httpx.Response | None = None
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                if attempt >= self._max_retries or not _may_retry_failure(request, exc):
                    if isinstance(exc, httpx.TimeoutException):
                        raise APITimeoutError(request) from exc
                    raise APIConnectionError(request) from exc
            if response is not None:
                self._on_response(response)
                if response.is_success:
                    return response
                if attempt >= self._max_retries or not _may_retry_answer(request, response):
                    raise make_status_error(response)
            await self._sleep(self._retry_delay(attempt, response))
            attempt += 1

    def _retry_delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds to wait before retry number ``attempt + 1``.

        A ``Retry-After`` of 0 to 60 seconds is obeyed exactly; otherwise the delay is
        ``0.5 * 2**attempt`` capped at 8 s, reduced by up to 25 % of random jitter.
        """
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("retry-after"), now=self._clock())
            if retry_after is not None and retry_after <= MAX_RETRY_AFTER:
                return retry_after
        delay = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
        return delay * (1.0 - 0.25 * self._jitter())


_REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Reads: sending one twice has the effect of sending it once."""

_NOTHING_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
"""Failures that happen before the first byte of the request leaves this process."""


def _may_retry_failure(request: httpx.Request, exc: httpx.TransportError) -> bool:
    """Whether a request that got no answer may be sent again.

    A read (``GET``, ``HEAD``, ``OPTIONS``) always may. Anything else (a sign-in attempt, a TOTP or
    backup code, a Backend API ``verify_totp``) only if nothing was sent: no connection, a connect
    timeout, or no free connection in the pool. After a read or write timeout, or a connection
    dropped mid-request, the server may already have consumed the code: a repeat would turn that
    success into ``form_code_incorrect`` and count a failure towards the user's lockout.
    """
    return request.method in _REPEATABLE_METHODS or isinstance(exc, _NOTHING_SENT)


def _may_retry_answer(request: httpx.Request, response: httpx.Response) -> bool:
    """Whether an error answer may be retried: ``429`` always, ``5xx`` only for reads.

    A ``429`` is answered before the request is processed (the rate limit and the full hashing queue
    refuse a request before any password, code or state is looked at), so repeating any request after
    it is safe. A ``5xx`` on anything but a read may come after a code was consumed, so it is raised.
    """
    if response.status_code == 429:
        return True
    return response.status_code >= 500 and request.method in _REPEATABLE_METHODS


def _decode(response: httpx.Response, decoder: msgspec.json.Decoder[T]) -> T:
    try:
        return decoder.decode(response.content)
    except msgspec.DecodeError as exc:
        raise APIResponseValidationError(
            response, body=_body_of(response), message=f"The response body did not match the expected shape: {exc}"
        ) from exc


def _body_of(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text or None
