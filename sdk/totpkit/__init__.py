"""totpkit: an async client for Clerk's Frontend API, with TOTP multi-factor authentication.

Usage::

    from totpkit import AsyncFrontend

    async with AsyncFrontend("http://127.0.0.1:8000") as fapi:
        sign_in = await fapi.sign_in(identifier="jane@example.com", password="...")
        user = await fapi.get_user()
        totp = await user.create_totp()

Wire structs live in :mod:`totpkit.types`, code generation in :mod:`totpkit.otp`, and an in-memory
fake of the server for tests in :mod:`totpkit.testing` (extra ``testing``). Your backend verifies the
session tokens Clerk's clients send it with :func:`verify_session_token` (extra ``jwt``).
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
    InvalidSessionTokenError,
    JWKSFetchError,
    MissingDependencyError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    TotpkitError,
    UnprocessableEntityError,
)
from ._session_tokens import JWKSCache, SessionClaims, verify_session_token
from ._version import __version__
from .resources import AsyncSession, AsyncSessionVerification, AsyncSignIn, AsyncUser, SecondFactorStrategy

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
    "AsyncSessionVerification",
    "AsyncSignIn",
    "AsyncUser",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidSessionTokenError",
    "JWKSCache",
    "JWKSFetchError",
    "MissingDependencyError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "SecondFactorStrategy",
    "SessionClaims",
    "TotpkitError",
    "UnprocessableEntityError",
    "__version__",
    "types",
    "verify_session_token",
)
