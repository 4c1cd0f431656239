"""Backend API handlers: ``POST /v1/users``, ``PATCH /v1/users/{id}`` (both with MFA import), ``GET``.

Validation follows the server's ``UserService.create_user``: every check runs before anything is
stored. Imported bcrypt backup-code digests are accepted but, without bcrypt, never match.
"""

from __future__ import annotations

import hmac
import re

from ..otp import InvalidSecretError, decode_secret
from . import errors
from .context import Call
from .params import Params
from .state import TOTPRecord, normalise_backup_code
from .views import user_view

__all__ = ("check_secret_key", "user_create", "user_get", "user_update")

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{1,63}$")
_BCRYPT = re.compile(r"\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}")
_MAX_CODES = 50


def check_secret_key(call: Call) -> None:
    """``Authorization: Bearer <secret key>`` (scheme case-insensitive); else 401."""
    scheme, _, presented = call.request.headers.get("authorization", "").partition(" ")
    expected = call.state.secret_key
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected.encode()):
        raise errors.bapi_unauthorized()


def _email(params: Params) -> str:
    emails = params.optional_str_list("email_address", max_items=1)
    if not emails or not emails[0].strip():
        raise errors.form_param_missing("email_address")
    return emails[0]


def _codes(params: Params) -> list[str] | None:
    if params.raw("backup_codes") is None:
        return None
    return params.optional_str_list("backup_codes", max_items=_MAX_CODES)


def _check_codes(codes: list[str]) -> None:
    if len(codes) > _MAX_CODES:
        raise errors.form_param_format_invalid("backup_codes", f"at most {_MAX_CODES} backup codes.")
    for code in codes:
        if not code.strip() or len(code) > 128:
            raise errors.form_param_format_invalid("backup_codes", "each backup code must be 1-128 characters.")
        if code.startswith("$2") and _BCRYPT.fullmatch(code) is None:
            raise errors.form_param_format_invalid("backup_codes", "a bcrypt digest is malformed.")


def _validate(email: str, password: str | None, secret: str | None) -> None:
    if not _EMAIL.match(email):
        raise errors.form_param_format_invalid("email_address", "email_address must be a valid email address.")
    if password is not None and len(password) < 8:
        raise errors.password_too_short()
    if password is not None and len(password) > 256:
        raise errors.form_param_format_invalid("password", "password must be at most 256 characters.")
    if secret is not None:
        try:
            decode_secret(secret)
        except InvalidSecretError:
            raise errors.invalid_totp_secret() from None


def _check_names(names: dict[str, str | None]) -> None:
    for name, value in names.items():
        if value is not None and len(value) > 256:
            raise errors.form_param_format_invalid(name, f"{name} must be at most 256 characters.")


def user_create(call: Call) -> object:
    """Create a user from ``email_address`` and ``password``; ``totp_secret`` and ``backup_codes`` import MFA."""
    check_secret_key(call)
    params = call.params()
    email, password = _email(params), params.optional_str("password")
    names = {"first_name": params.optional_str("first_name"), "last_name": params.optional_str("last_name")}
    secret, codes = params.optional_str("totp_secret"), _codes(params)
    email = email.strip()
    _validate(email, password, secret)
    if codes is not None:
        _check_codes(codes)
    _check_names(names)
    state = call.state
    if state.user_by_email(email) is not None:
        raise errors.form_identifier_exists()
    user = state.create_user(
        email,
        password,
        totp_secret=secret,
        backup_codes=codes,
        first_name=names["first_name"],
        last_name=names["last_name"],
    )
    return user_view(state, user)


def user_get(call: Call, user_id: str) -> object:
    """A user; 404 ``resource_not_found`` for unknown ids."""
    check_secret_key(call)
    user = call.state.users.get(user_id)
    if user is None:
        raise errors.resource_not_found(f"No user was found with id {user_id[:64]}")
    return user_view(call.state, user)


_UPDATABLE = ("first_name", "last_name", "totp_secret", "backup_codes")


def _name(params: Params, name: str) -> str | None:
    return (params.optional_str(name) or "").strip() or None


def user_update(call: Call, user_id: str) -> object:
    """Change names (``null`` or blank clears one) and import ``totp_secret`` / ``backup_codes``.

    Other fields are 422 ``form_param_unknown``; everything is validated before anything changes.
    """
    check_secret_key(call)
    params = call.params()
    unknown = sorted(name for name in params.names() if name not in _UPDATABLE)
    if unknown:
        raise errors.form_param_unknown(unknown[0])
    names = {name: _name(params, name) for name in ("first_name", "last_name") if name in params}
    secret, codes = params.optional_str("totp_secret"), _codes(params)
    state = call.state
    user = state.users.get(user_id)
    if user is None:
        raise errors.resource_not_found(f"No user was found with id {user_id[:64]}")
    _check_names(names)
    if secret is not None:
        try:
            decode_secret(secret)
        except InvalidSecretError:
            raise errors.invalid_totp_secret() from None
    if codes is not None:
        _check_codes(codes)
    if not names and secret is None and codes is None:
        return user_view(state, user)
    now = state.now_ms()
    user.first_name = names.get("first_name", user.first_name)
    user.last_name = names.get("last_name", user.last_name)
    user.updated_at = now
    if secret is not None:
        user.totp = TOTPRecord(state.new_id("totp_"), secret.replace(" ", "").upper(), now, now, verified=True)
        user.mfa_enabled_at = user.mfa_enabled_at or now
    if codes is not None:
        user.backup_codes = {normalise_backup_code(code) for code in codes}
    return user_view(state, user)
