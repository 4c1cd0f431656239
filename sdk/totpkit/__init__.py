"""totpkit: an async client for Clerk's Frontend API, with TOTP multi-factor authentication.

Usage::

    from totpkit import AsyncFrontend

    async with AsyncFrontend("http://127.0.0.1:8000") as fapi:
        sign_in = await fapi.sign_in(identifier="jane@example.com", password="...")
        user = await fapi.get_user()
        totp = await user.create_totp()

Wire structs live in :mod:`totpkit.types`, code generation in :mod:`totpkit.otp`, and an in-memory
fake of the server for tests in :mod:`totpkit.testing` (extra ``testing``).
"""

from . import types
from ._client import AsyncBackend, AsyncFrontend
from ._constants import DEFAULT_API_VERSION, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    TotpkitError,
    UnprocessableEntityError,
)
from ._version import __version__
from .resources import AsyncSession, AsyncSignIn, AsyncUser, SecondFactorStrategy

__all__ = (
    "DEFAULT_API_VERSION",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncBackend",
    "AsyncFrontend",
    "AsyncSession",
    "AsyncSignIn",
    "AsyncUser",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "SecondFactorStrategy",
    "TotpkitError",
    "UnprocessableEntityError",
    "__version__",
    "types",
)
