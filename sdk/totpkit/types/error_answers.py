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
    "resource_not_found",
    "strategy_for_user_invalid",
    "totp_already_enabled",
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
    """400: the ``Origin`` is not one the instance accepts."""
    return ClerkAPIException(400, "origin_invalid", "Invalid origin", f"The origin {origin[:200]} is not allowed.")


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
