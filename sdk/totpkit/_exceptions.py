"""Every error the SDK raises, arranged so that callers can catch as broadly or narrowly as they like.

Hierarchy::

    TotpkitError
    ├─ APIError(message, request, body)
    │  ├─ APIStatusError(response, status_code, errors, code, clerk_trace_id)
    │  │   ├─ BadRequestError (400)
    │  │   ├─ AuthenticationError (401)
    │  │   ├─ PermissionDeniedError (403)
    │  │   ├─ NotFoundError (404)
    │  │   ├─ ConflictError (409)
    │  │   ├─ PayloadTooLargeError (413)
    │  │   ├─ UnprocessableEntityError (422)
    │  │   ├─ RateLimitError (429, retry_after)
    │  │   └─ InternalServerError (>= 500)
    │  ├─ APIConnectionError
    │  │   └─ APITimeoutError
    │  └─ APIResponseValidationError
    ├─ InvalidSessionTokenError(message, reason)
    ├─ JWKSFetchError(message, url)
    └─ MissingDependencyError(package, extra) (also an ImportError)

A status error carries Clerk's ``errors[]`` (decoded into :class:`~totpkit.types.ClerkAPIError`),
the first error's ``code`` and the ``clerk_trace_id``. A non-Clerk error body (an HTML page from a
proxy, say) still raises the class for its status, with ``errors == []`` and ``code is None``.
Other 4xx statuses raise :class:`APIStatusError` itself.

Input the SDK can reject before sending (an empty code or id) raises :class:`ValueError`, not an
error from this module.

Verifying session tokens (:func:`totpkit.verify_session_token`) raises
:class:`InvalidSessionTokenError` for a token that must not be trusted, :class:`JWKSFetchError` when
the keys could not be fetched (the token's fate is unknown: fail closed), and
:class:`MissingDependencyError` when the ``totpkit[jwt]`` extra is not installed.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Literal

import httpx
import msgspec

from .types import ClerkAPIError, ClerkErrors

__all__ = (
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidSessionTokenError",
    "JWKSFetchError",
    "MissingDependencyError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "TotpkitError",
    "UnprocessableEntityError",
    "make_status_error",
    "parse_retry_after",
)

_ERRORS_DECODER = msgspec.json.Decoder(ClerkErrors)


class TotpkitError(Exception):
    """Base class of every exception raised by totpkit."""


class InvalidSessionTokenError(TotpkitError):
    """A session token is malformed, forged, expired, not yet valid, or meant for someone else.

    ``reason`` uses the vocabulary of Clerk's backend SDK: ``token-invalid`` (malformed, or a
    required claim missing), ``token-invalid-algorithm``, ``token-invalid-signature``,
    ``jwk-kid-mismatch`` (signed by a key that is not published), ``token-expired``,
    ``token-not-active-yet``, ``token-iat-in-the-future``, ``token-invalid-issuer`` and
    ``token-invalid-authorized-parties``.
    """

    message: str
    reason: str

    def __init__(self, message: str, *, reason: str = "token-invalid") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


class JWKSFetchError(TotpkitError):
    """The JWKS could not be fetched or held no usable key; previously fetched keys are kept."""

    message: str
    url: str

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(f"{message} (JWKS {url})")
        self.message = message
        self.url = url


class MissingDependencyError(TotpkitError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(f"{package} is required for this feature: pip install 'totpkit[{extra}]'")
        self.package = package
        self.extra = extra


class APIError(TotpkitError):
    """A request to the API failed.

    ``body`` is the decoded JSON of the response when it was JSON, its text when it was not, and
    ``None`` when there was no response at all (connection errors).
    """

    message: str
    request: httpx.Request
    body: object | None

    def __init__(self, message: str, request: httpx.Request, *, body: object | None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.body = body


class APIStatusError(APIError):
    """The API answered with a 4xx or 5xx status."""

    response: httpx.Response
    status_code: int
    errors: list[ClerkAPIError]
    code: str | None
    clerk_trace_id: str | None

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: object | None,
        errors: list[ClerkAPIError],
        clerk_trace_id: str | None,
    ) -> None:
        super().__init__(message, response.request, body=body)
        self.response = response
        self.status_code = response.status_code
        self.errors = errors
        self.code = errors[0].code if errors else None
        self.clerk_trace_id = clerk_trace_id


class BadRequestError(APIStatusError):
    """400: e.g. ``totp_already_enabled``, ``backup_codes_not_available``, ``client_state_invalid``."""

    status_code: Literal[400] = 400


class AuthenticationError(APIStatusError):
    """401: no signed-in session (``authentication_invalid``), or a bad secret key on the Backend API."""

    status_code: Literal[401] = 401


class PermissionDeniedError(APIStatusError):
    """403: e.g. ``user_locked`` or ``session_reverification_required``."""

    status_code: Literal[403] = 403


class NotFoundError(APIStatusError):
    """404: ``resource_not_found`` (no such sign-in, session, user or TOTP)."""

    status_code: Literal[404] = 404


class ConflictError(APIStatusError):
    """409: the request conflicts with the current state of the resource."""

    status_code: Literal[409] = 409


class PayloadTooLargeError(APIStatusError):
    """413: ``request_body_too_large``."""

    status_code: Literal[413] = 413


class UnprocessableEntityError(APIStatusError):
    """422: a form error such as ``form_code_incorrect``; ``errors[0].meta["param_name"]`` names the field."""

    status_code: Literal[422] = 422


class RateLimitError(APIStatusError):
    """429: ``too_many_requests``; ``retry_after`` is the server's ``Retry-After`` in seconds, if given."""

    status_code: Literal[429] = 429
    retry_after: float | None

    def __init__(
        self,
        message: str,
        *,
        response: httpx.Response,
        body: object | None,
        errors: list[ClerkAPIError],
        clerk_trace_id: str | None,
    ) -> None:
        super().__init__(message, response=response, body=body, errors=errors, clerk_trace_id=clerk_trace_id)
        self.retry_after = parse_retry_after(response.headers.get("retry-after"), now=time.time())


class InternalServerError(APIStatusError):
    """A 5xx status (``internal_clerk_error`` or an upstream failure)."""


class APIConnectionError(APIError):
    """The request never got an answer: DNS, refused connection, reset, protocol error."""

    def __init__(self, request: httpx.Request, *, message: str = "Connection error.") -> None:
        super().__init__(message, request, body=None)


class APITimeoutError(APIConnectionError):
    """The request timed out (connect, read, write or pool timeout)."""

    def __init__(self, request: httpx.Request) -> None:
        super().__init__(request, message="Request timed out.")


class APIResponseValidationError(APIError):
    """A 2xx response whose body does not decode into the expected wire struct."""

    response: httpx.Response
    status_code: int

    def __init__(self, response: httpx.Response, *, body: object | None, message: str) -> None:
        super().__init__(message, response.request, body=body)
        self.response = response
        self.status_code = response.status_code


_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def make_status_error(response: httpx.Response) -> APIStatusError:
    """Build the exception for an error ``response`` (status >= 400), whatever its body."""
    body = _response_body(response)
    errors, trace_id = _clerk_errors(response)
    if trace_id is None:
        trace_id = response.headers.get("x-clerk-trace-id")
    cls = _STATUS_CLASSES.get(response.status_code)
    if cls is None:
        cls = InternalServerError if response.status_code >= 500 else APIStatusError
    message = _status_message(response.status_code, errors, trace_id)
    return cls(message, response=response, body=body, errors=errors, clerk_trace_id=trace_id)


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Read a ``Retry-After`` header: delay seconds or an HTTP-date; ``None`` if absent or unreadable.

    A date in the past gives ``0.0``; negative seconds give ``None``.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _retry_after_date(value, now=now)
    return seconds if seconds >= 0 else None


def _retry_after_date(value: str, *, now: float) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def _response_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text or None


def _clerk_errors(response: httpx.Response) -> tuple[list[ClerkAPIError], str | None]:
    try:
        decoded = _ERRORS_DECODER.decode(response.content)
    except msgspec.DecodeError:
        return [], None
    trace_id = decoded.clerk_trace_id if isinstance(decoded.clerk_trace_id, str) else None
    return decoded.errors, trace_id


def _status_message(status_code: int, errors: list[ClerkAPIError], trace_id: str | None) -> str:
    message = f"Error code: {status_code}"
    if errors:
        first = errors[0]
        message += f" - {first.code}: {first.long_message or first.message}"
    if trace_id:
        message += f" (clerk_trace_id: {trace_id})"
    return message
