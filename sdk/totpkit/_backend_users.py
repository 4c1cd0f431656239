"""The Backend API's user administration methods, mixed into :class:`~totpkit.AsyncBackend`.

MFA on behalf of a user (check a code, remove TOTP, backup codes or all MFA), a lock that holds
until lifted, and ``PATCH /v1/users/{id}`` to import MFA state. Errors are the usual
:mod:`totpkit` status errors, carrying Clerk's ``code``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ._http import BaseClient, path_param, require_non_empty
from .types import TOTPVerification, User, UserIdResponse

__all__ = ("BackendUserAdmin",)

_USER = msgspec.json.Decoder(User)
_VERIFICATION = msgspec.json.Decoder(TOTPVerification)
_USER_ID = msgspec.json.Decoder(UserIdResponse)


def _user_path(user_id: str) -> str:
    return f"/v1/users/{path_param('user_id', user_id)}"


class BackendUserAdmin(BaseClient):
    """User administration over the Backend API; an empty ``user_id`` raises :class:`ValueError`.

    Every method raises :class:`~totpkit.NotFoundError` (``resource_not_found``) for an unknown user.
    """

    async def verify_totp(self, user_id: str, code: str) -> TOTPVerification:
        """Check a TOTP code or a backup code of the user (``POST /v1/users/{id}/verify_totp``).

        A backup code is consumed; a TOTP code works once. On success ``verified`` is true and
        ``code_type`` is ``"totp"`` or ``"backup_code"``. A wrong code raises
        :class:`~totpkit.UnprocessableEntityError` (``totp_incorrect_code``, or
        ``totp_invalid_length`` for a code that can be neither kind) and counts towards the user's
        lockout; a user without TOTP raises :class:`~totpkit.BadRequestError` (``totp_disabled``);
        a locked user :class:`~totpkit.PermissionDeniedError` (``user_locked``). An empty ``code``
        raises :class:`ValueError` before anything is sent.
        """
        require_non_empty("code", code)
        path = f"{_user_path(user_id)}/verify_totp"
        return await self._request("POST", path, _VERIFICATION, json={"code": code})

    async def delete_totp(self, user_id: str) -> UserIdResponse:
        """Remove the user's TOTP (``DELETE /v1/users/{id}/totp``); backup codes go with a verified one.

        Idempotent: a user without a TOTP is answered the same way.
        """
        return await self._request("DELETE", f"{_user_path(user_id)}/totp", _USER_ID)

    async def delete_backup_codes(self, user_id: str) -> UserIdResponse:
        """Remove all of the user's backup codes (``DELETE /v1/users/{id}/backup_code``). Idempotent."""
        return await self._request("DELETE", f"{_user_path(user_id)}/backup_code", _USER_ID)

    async def disable_mfa(self, user_id: str) -> UserIdResponse:
        """Remove every MFA method of the user at once (``DELETE /v1/users/{id}/mfa``). Idempotent."""
        return await self._request("DELETE", f"{_user_path(user_id)}/mfa", _USER_ID)

    async def lock_user(self, user_id: str) -> User:
        """Lock the user for the instance's lockout duration (``POST /v1/users/{id}/lock``).

        As on Clerk, the lock ends by itself after that duration (``lockout_duration``, one hour by
        default; a lockout already running that ends later is kept), or earlier through
        :meth:`unlock_user`. Until then sign-in attempts and code checks fail with
        :class:`~totpkit.PermissionDeniedError` (``user_locked``, ``meta.lockout_expires_in_seconds``);
        the returned User has ``locked`` true, ``lockout_expires_in_seconds`` counting down and
        ``verification_attempts_remaining`` 0.
        """
        return await self._request("POST", f"{_user_path(user_id)}/lock", _USER)

    async def unlock_user(self, user_id: str) -> User:
        """Lift any lock or lockout and reset the failure count (``POST /v1/users/{id}/unlock``)."""
        return await self._request("POST", f"{_user_path(user_id)}/unlock", _USER)

    async def update_user(
        self,
        user_id: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        totp_secret: str | None = None,
        backup_codes: list[str] | None = None,
    ) -> User:
        """Change names and import MFA state (``PATCH /v1/users/{id}``); ``None`` leaves a field as is.

        ``totp_secret`` (base32; SHA1, 6 digits, 30 s) replaces any TOTP with a verified one; a bad
        one raises :class:`~totpkit.UnprocessableEntityError` (``invalid_totp_secret_code``) and
        changes nothing. ``backup_codes`` (plaintext or bcrypt digests) replace the whole set.
        """
        fields: dict[str, Any] = {
            "first_name": first_name,
            "last_name": last_name,
            "totp_secret": totp_secret,
            "backup_codes": backup_codes,
        }
        body = {key: value for key, value in fields.items() if value is not None}
        return await self._request("PATCH", _user_path(user_id), _USER, json=body)
