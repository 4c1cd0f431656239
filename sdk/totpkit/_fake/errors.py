"""Clerk-format error answers of the fake, worded exactly like the totpkit server's.

Each constructor mirrors one in ``totpkit_server.core.errors`` (or the call site that words its own
message), so the fake and the server answer the same status, code, messages and ``meta``.
"""

from __future__ import annotations

import math
from typing import Any

from ..types import ClerkAPIError

__all__ = (
    "FakeError",
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
    "invalid_totp_secret",
    "method_not_allowed",
    "origin_authorization_conflict",
    "password_too_short",
    "request_body_too_large",
    "request_header_missing",
    "resource_not_found",
    "strategy_for_user_invalid",
    "totp_already_enabled",
    "unsupported_content_type",
    "user_locked",
)


class FakeError(Exception):
    """A Clerk-format error answer, raised inside a handler and rendered by the dispatcher."""

    def __init__(
        self, status: int, code: str, message: str, long_message: str, meta: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {long_message}")
        self.status = status
        self.error = ClerkAPIError(message=message, long_message=long_message, code=code, meta=meta or {})


def _param(name: str) -> dict[str, Any]:
    return {"param_name": name}


def authentication_invalid() -> FakeError:
    long_message = "Unable to authenticate the request, you need to supply an active session"
    return FakeError(401, "authentication_invalid", "Invalid authentication", long_message)


def bapi_unauthorized() -> FakeError:
    long_message = "The provided secret key is invalid. Make sure you're using the Secret Key from your instance."
    return FakeError(401, "authentication_invalid", "Invalid authentication", long_message)


def dev_browser_unauthenticated() -> FakeError:
    long_message = (
        "Unable to authenticate this browser for your development instance. Check your Clerk cookies and try again."
    )
    return FakeError(401, "dev_browser_unauthenticated", "Browser unauthenticated", long_message)


def form_param_missing(param: str) -> FakeError:
    return FakeError(422, "form_param_missing", "is missing", f"{param} must be included.", _param(param))


def form_param_format_invalid(param: str, detail: str | None = None) -> FakeError:
    return FakeError(422, "form_param_format_invalid", "is invalid", detail or f"{param} is invalid.", _param(param))


def form_param_value_invalid(param: str, value: str) -> FakeError:
    shown = value if len(value) <= 64 else value[:64] + "..."
    long_message = f"{shown} does not match one of the allowed values for parameter {param}"
    return FakeError(422, "form_param_value_invalid", "is invalid", long_message, _param(param))


def form_code_incorrect() -> FakeError:
    return FakeError(422, "form_code_incorrect", "is incorrect", "Incorrect code", _param("code"))


def form_password_incorrect() -> FakeError:
    text = "Password is incorrect. Try again, or use another method."
    return FakeError(422, "form_password_incorrect", text, text, _param("password"))


def password_too_short() -> FakeError:
    text = "Passwords must be 8 characters or more."
    return FakeError(422, "form_password_length_too_short", text, text, _param("password"))


def form_identifier_not_found() -> FakeError:
    text = "Couldn't find your account."
    return FakeError(422, "form_identifier_not_found", text, text, _param("identifier"))


def form_identifier_exists() -> FakeError:
    text = "That email address is taken. Please try another."
    return FakeError(422, "form_identifier_exists", text, text, _param("email_address"))


def totp_already_enabled() -> FakeError:
    return FakeError(400, "totp_already_enabled", "TOTP already enabled", "TOTP is already enabled on your account")


def backup_codes_not_available() -> FakeError:
    long_message = "In order to use backup codes, you have to enable any other Multi-factor method"
    return FakeError(400, "backup_codes_not_available", "Backup codes not available", long_message)


def resource_not_found(long_message: str = "Resource not found") -> FakeError:
    return FakeError(404, "resource_not_found", "not found", long_message)


def strategy_for_user_invalid() -> FakeError:
    long_message = "The verification strategy is not valid for this account"
    return FakeError(
        400, "strategy_for_user_invalid", "Invalid verification strategy", long_message, _param("strategy")
    )


def client_state_invalid(action: str) -> FakeError:
    long_message = f"We were unable to complete {action} for this Client."
    return FakeError(400, "client_state_invalid", "Invalid action", long_message)


def request_header_missing(header: str) -> FakeError:
    long_message = f"The {header} header is missing from the request."
    return FakeError(400, "request_header_missing", "missing header", long_message)


def origin_authorization_conflict() -> FakeError:
    return FakeError(
        400,
        "origin_authorization_headers_conflict",
        "Origin and Authorization headers conflict",
        "You can't send both Origin and Authorization headers on the same request.",
    )


def unsupported_content_type(actual: str) -> FakeError:
    long_message = (
        f"Content-Type {actual[:100]} is unsupported. You should use application/x-www-form-urlencoded instead."
    )
    return FakeError(415, "unsupported_content_type", "Content-Type is unsupported", long_message)


def request_body_too_large(limit: int) -> FakeError:
    long_message = f"The request body must not exceed {limit} bytes."
    return FakeError(413, "request_body_too_large", "Request body too large", long_message)


def method_not_allowed(method: str) -> FakeError:
    long_message = f"The {method[:16]} method is not allowed on this path."
    return FakeError(405, "method_not_allowed", "Method not allowed", long_message)


def invalid_totp_secret() -> FakeError:
    long_message = "The TOTP secret is invalid, please provide a valid one base32 encoded"
    return FakeError(422, "invalid_totp_secret_code", "Invalid TOTP secret", long_message, _param("totp_secret"))


def user_locked(seconds_remaining: int) -> FakeError:
    """403 ``user_locked`` with the time left, as Clerk words it."""
    minutes = max(1, math.ceil(seconds_remaining / 60))
    long_message = (
        f"Your account is locked. You will be able to try again in {minutes} minutes. "
        "For more information, please contact support."
    )
    return FakeError(
        403, "user_locked", "Account locked", long_message, {"lockout_expires_in_seconds": seconds_remaining}
    )
