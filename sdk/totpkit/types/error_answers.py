"""Clerk's error answers, exactly as the totpkit server gives them: status, code, wording, ``meta``.

This is the one catalogue of error answers. The server raises these exceptions from its domain code
and renders them as ``{"errors": [...], "meta": {}, "clerk_trace_id": ...}``; the SDK's fake
(:mod:`totpkit.testing`) raises the same ones, so the two cannot word an error differently. Codes and
wording follow Clerk (``clerk-fapi-totp.md`` §5.2). SDK users catch
:class:`totpkit.APIStatusError`, not these: they describe answers, they are not client errors.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ClerkAPIError

__all__ = (
    "ClerkAPIException",
    "account_lockout_warning",
    "authentication_invalid",
    "backup_codes_not_available",
    "bapi_unauthorized",
    "client_state_invalid",
    "dev_browser_unauthenticated",
    "form_code_incorrect",
    "form_identifier_exists",
    "form_identifier_not_found",
    "form_param_format_invalid",
    "form_param_missing",
    "form_param_unknown",
    "form_param_value_invalid",
    "form_password_incorrect",
    "internal_error",
    "invalid_totp_secret",
    "method_not_allowed",
    "origin_authorization_conflict",
    "origin_invalid",
    "password_too_short",
    "request_body_too_large",
    "request_header_missing",
    "request_invalid_for_environment",
    "request_timeout",
    "resource_not_found",
    "session_reverification_required",
    "session_token_invalid",
    "strategy_for_user_invalid",
    "too_many_requests",
    "totp_already_enabled",
    "totp_disabled",
    "totp_incorrect_code",
    "totp_invalid_length",
    "unsupported_content_type",
    "user_locked",
)


class ClerkAPIException(Exception):
    """An error answer in Clerk's format.

    Args:
        status: the HTTP status code.
        code: Clerk's machine-readable code (``form_code_incorrect``).
        message: the short message.
        long_message: the sentence clerk-js shows to users.
        meta: extra fields of the error entry; form errors carry ``param_name``.
        headers: extra response headers (``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        long_message: str,
        *,
        meta: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {long_message}")
        self.status = status
        self.code = code
        self.message = message
        self.long_message = long_message
        self.meta = meta or {}
        self.headers = headers or {}

    def to_error(self) -> ClerkAPIError:
        """The ``errors[]`` entry of this answer."""
        return ClerkAPIError(message=self.message, long_message=self.long_message, code=self.code, meta=self.meta)


def _param(name: str) -> dict[str, Any]:
    return {"param_name": name}


def authentication_invalid() -> ClerkAPIException:
    """401: no signed-in session (``/v1/me`` without one); clerk-js signs the user out on it."""
    return ClerkAPIException(
        401,
        "authentication_invalid",
        "Invalid authentication",
        "Unable to authenticate the request, you need to supply an active session",
    )


def bapi_unauthorized() -> ClerkAPIException:
    """401 on the Backend API: a missing or wrong secret key (a client token is never one)."""
    return ClerkAPIException(
        401,
        "authentication_invalid",
        "Invalid authentication",
        "The provided secret key is invalid. Make sure you're using the Secret Key from your instance.",
    )


def dev_browser_unauthenticated() -> ClerkAPIException:
    """401: an unknown dev-browser token; clerk-js discards it and asks for a new one."""
    return ClerkAPIException(
        401,
        "dev_browser_unauthenticated",
        "Browser unauthenticated",
        "Unable to authenticate this browser for your development instance. Check your Clerk cookies and try again.",
    )


def form_param_missing(param: str) -> ClerkAPIException:
    """422: a required form field is absent or empty."""
    return ClerkAPIException(422, "form_param_missing", "is missing", f"{param} must be included.", meta=_param(param))


def form_param_format_invalid(param: str, detail: str | None = None) -> ClerkAPIException:
    """422: a field has the wrong type or shape (or the body could not be parsed: ``param`` is ``body``)."""
    return ClerkAPIException(
        422, "form_param_format_invalid", "is invalid", detail or f"{param} is invalid.", meta=_param(param)
    )


def form_param_unknown(param: str) -> ClerkAPIException:
    """422: a field this request does not take (BAPI ``PATCH /v1/users/{id}``: one totpkit does not support)."""
    shown = param if len(param) <= 64 else param[:64] + "..."
    return ClerkAPIException(
        422,
        "form_param_unknown",
        "is unknown",
        f"{shown} is not a valid parameter for this request.",
        meta=_param(shown),
    )


def form_param_value_invalid(param: str, value: str) -> ClerkAPIException:
    """422: a value outside the allowed set (a ``strategy`` we do not support)."""
    shown = value if len(value) <= 64 else value[:64] + "..."
    return ClerkAPIException(
        422,
        "form_param_value_invalid",
        "is invalid",
        f"{shown} does not match one of the allowed values for parameter {param}",
        meta=_param(param),
    )


def form_code_incorrect() -> ClerkAPIException:
    """422: a wrong, expired or already used TOTP or backup code. Never 401 (clerk-js would sign out)."""
    return ClerkAPIException(422, "form_code_incorrect", "is incorrect", "Incorrect code", meta=_param("code"))


def account_lockout_warning(attempts_remaining: int) -> ClerkAPIException:
    """422: a wrong code that leaves only ``attempts_remaining`` (1 or 2) attempts before a lockout.

    Clerk warns this way when few attempts remain; it is sent *instead of* ``form_code_incorrect``
    (the code was wrong all the same). ``meta.param_name`` is ``code``, so clerk-js shows the long
    message under the code field as it does any form error, and
    ``meta.verification_attempts_remaining`` carries the count.
    """
    attempts = "attempt" if attempts_remaining == 1 else "attempts"
    return ClerkAPIException(
        422,
        "account_lockout_warning",
        "is incorrect",
        f"Incorrect code. You have {attempts_remaining} {attempts} left before your account is locked.",
        meta={"param_name": "code", "verification_attempts_remaining": attempts_remaining},
    )


def form_password_incorrect() -> ClerkAPIException:
    """422: the password does not match."""
    text = "Password is incorrect. Try again, or use another method."
    return ClerkAPIException(422, "form_password_incorrect", text, text, meta=_param("password"))


def password_too_short() -> ClerkAPIException:
    """422 ``form_password_length_too_short`` (BAPI user creation)."""
    text = "Passwords must be 8 characters or more."
    return ClerkAPIException(422, "form_password_length_too_short", text, text, meta=_param("password"))


def form_identifier_not_found() -> ClerkAPIException:
    """422: no user has this identifier."""
    text = "Couldn't find your account."
    return ClerkAPIException(422, "form_identifier_not_found", text, text, meta=_param("identifier"))


def form_identifier_exists(param: str = "email_address") -> ClerkAPIException:
    """422: a user with this email address already exists (BAPI create user)."""
    return ClerkAPIException(
        422,
        "form_identifier_exists",
        "That email address is taken. Please try another.",
        "That email address is taken. Please try another.",
        meta=_param(param),
    )


def totp_already_enabled() -> ClerkAPIException:
    """400: the user already has a verified TOTP."""
    return ClerkAPIException(
        400, "totp_already_enabled", "TOTP already enabled", "TOTP is already enabled on your account"
    )


def totp_disabled() -> ClerkAPIException:
    """400 (BAPI ``verify_totp``): the user has no verified TOTP to check a code against."""
    return ClerkAPIException(
        400, "totp_disabled", "TOTP disabled", "This user does not have TOTP enabled in their account"
    )


def totp_incorrect_code() -> ClerkAPIException:
    """422 (BAPI ``verify_totp``): a wrong, replayed or already used TOTP or backup code."""
    return ClerkAPIException(
        422,
        "totp_incorrect_code",
        "Incorrect TOTP code",
        "The provided TOTP code is incorrect",
        meta=_param("code"),
    )


def totp_invalid_length(digits: int) -> ClerkAPIException:
    """422 (BAPI ``verify_totp``): a code that can be neither a TOTP code nor a backup code of the user."""
    return ClerkAPIException(
        422,
        "totp_invalid_length",
        "Invalid TOTP code length",
        f"The TOTP code must be {digits} characters long.",
        meta=_param("code"),
    )


def backup_codes_not_available() -> ClerkAPIException:
    """400: backup codes need another MFA method first."""
    return ClerkAPIException(
        400,
        "backup_codes_not_available",
        "Backup codes not available",
        "In order to use backup codes, you have to enable any other Multi-factor method",
    )


def resource_not_found(long_message: str = "Resource not found") -> ClerkAPIException:
    """404: an unknown id, an id that belongs to someone else, or an unknown path."""
    return ClerkAPIException(404, "resource_not_found", "not found", long_message)


def session_reverification_required(level: str, after_minutes: int) -> ClerkAPIException:
    """403: the session's last verification of ``level`` is older than ``after_minutes`` (step-up needed).

    ``meta.reverification`` is Clerk's reverification hint, ``{"level": ..., "afterMinutes": ...}``, the
    shape ``validateReverificationConfig`` of ``@clerk/shared`` accepts. clerk-js's ``useReverification``
    recognises the answer by its code and opens the reverification flow.
    """
    return ClerkAPIException(
        403,
        "session_reverification_required",
        "Reverification required",
        "You need to provide additional verification to perform this operation",
        meta={"reverification": {"level": level, "afterMinutes": after_minutes}},
    )


def session_token_invalid(reason: str) -> ClerkAPIException:
    """401 ``authentication_invalid`` on a host-app route guarded by totpkit: no session token, or one
    that failed verification, or whose session is no longer active.

    ``reason`` goes into the ``X-Clerk-Auth-Reason`` header, with ``X-Clerk-Auth-Status: signed-out``,
    as Clerk's backend SDK reports it (``session-token-missing``, ``token-expired``, ``session-inactive``...);
    it must be one of those fixed words, never request input.
    """
    return ClerkAPIException(
        401,
        "authentication_invalid",
        "Invalid authentication",
        "Unable to authenticate the request, you need to supply an active session",
        headers={"X-Clerk-Auth-Status": "signed-out", "X-Clerk-Auth-Reason": reason},
    )


def strategy_for_user_invalid() -> ClerkAPIException:
    """400: a second-factor strategy the user has not set up."""
    return ClerkAPIException(
        400,
        "strategy_for_user_invalid",
        "Invalid verification strategy",
        "The verification strategy is not valid for this account",
        meta=_param("strategy"),
    )


def client_state_invalid(action: str) -> ClerkAPIException:
    """400: the sign-in is not in a state that allows ``action``."""
    return ClerkAPIException(
        400,
        "client_state_invalid",
        "Invalid action",
        f"We were unable to complete {action} for this Client.",
    )


def request_header_missing(header: str) -> ClerkAPIException:
    """400: native mode without an ``Authorization`` header."""
    return ClerkAPIException(
        400, "request_header_missing", "missing header", f"The {header} header is missing from the request."
    )


def origin_authorization_conflict() -> ClerkAPIException:
    """400: both ``Origin`` and a native ``Authorization`` header were sent."""
    return ClerkAPIException(
        400,
        "origin_authorization_headers_conflict",
        "Origin and Authorization headers conflict",
        "You can't send both Origin and Authorization headers on the same request.",
    )


def origin_invalid(origin: str) -> ClerkAPIException:
    """400: the ``Origin`` is not one the instance accepts (not in its allowed origins)."""
    return ClerkAPIException(
        400,
        "origin_invalid",
        "Invalid HTTP Origin header",
        f"The Request HTTP Origin header {origin[:200]} is not one of the allowed origins of this instance.",
    )


def request_invalid_for_environment(environment: str) -> ClerkAPIException:
    """400: an endpoint of another instance type, e.g. ``POST /v1/dev_browser`` in production."""
    return ClerkAPIException(
        400,
        "request_invalid_for_environment",
        "Invalid request for environment",
        f"Request only valid for {environment} instances.",
    )


def unsupported_content_type(actual: str) -> ClerkAPIException:
    """415: a body in a media type we do not read."""
    return ClerkAPIException(
        415,
        "unsupported_content_type",
        "Content-Type is unsupported",
        f"Content-Type {actual[:100]} is unsupported. You should use application/x-www-form-urlencoded instead.",
    )


def request_body_too_large(limit: int | None = None) -> ClerkAPIException:
    """413: the body exceeds the configured limit (``None`` when the server's own limit was hit)."""
    detail = f"The request body must not exceed {limit} bytes." if limit else "The request body is too large."
    return ClerkAPIException(413, "request_body_too_large", "Request body too large", detail)


def request_timeout(seconds: float) -> ClerkAPIException:
    """408: the request body did not arrive in time (a slow client); the server closes the connection."""
    return ClerkAPIException(
        408,
        "request_timeout",
        "Request timeout",
        f"The request body did not arrive within {seconds:g} seconds.",
        headers={"Connection": "close"},
    )


def method_not_allowed(method: str) -> ClerkAPIException:
    """405: a method this path does not support (also via ``_method``)."""
    return ClerkAPIException(
        405, "method_not_allowed", "Method not allowed", f"The {method[:16]} method is not allowed on this path."
    )


def invalid_totp_secret() -> ClerkAPIException:
    """422: an imported ``totp_secret`` that is not valid base32 of enough length (BAPI)."""
    return ClerkAPIException(
        422,
        "invalid_totp_secret_code",
        "Invalid TOTP secret",
        "The TOTP secret is invalid, please provide a valid one base32 encoded",
        meta=_param("totp_secret"),
    )


def internal_error() -> ClerkAPIException:
    """500: an unexpected failure; the details go to the log, never to the client."""
    return ClerkAPIException(
        500,
        "internal_clerk_error",
        "Oops, an unexpected error occurred",
        "There was an internal error on our servers. We've been notified and are working on fixing it.",
    )


def too_many_requests(retry_after: int) -> ClerkAPIException:
    """429: the caller's client or IP address sent too many requests; ``Retry-After`` says when to retry."""
    return ClerkAPIException(
        429,
        "too_many_requests",
        "Too many requests",
        "Too many requests, retry later",
        headers={"Retry-After": str(retry_after)},
    )


def user_locked(seconds_remaining: int) -> ClerkAPIException:
    """403 ``user_locked`` with the time left, as Clerk words it."""
    minutes = max(1, math.ceil(seconds_remaining / 60))
    return ClerkAPIException(
        403,
        "user_locked",
        "Account locked",
        f"Your account is locked. You will be able to try again in {minutes} minutes. "
        "For more information, please contact support.",
        meta={"lockout_expires_in_seconds": seconds_remaining},
    )
