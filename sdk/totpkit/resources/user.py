"""The signed-in user (``/v1/me``) and its TOTP and backup-code methods."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import msgspec

from .._http import path_param, require_non_empty
from ..types import TOTP, ActiveSession, BackupCodes, ClientWrapped, DeletedObject, Session, User

if TYPE_CHECKING:
    from .._client import AsyncFrontend

__all__ = ("AsyncUser",)

T = TypeVar("T")

_USER = msgspec.json.Decoder(ClientWrapped[User])
_TOTP = msgspec.json.Decoder(ClientWrapped[TOTP])
_BACKUP_CODES = msgspec.json.Decoder(ClientWrapped[BackupCodes])
_DELETED = msgspec.json.Decoder(ClientWrapped[DeletedObject])
_ACTIVE_SESSIONS = msgspec.json.Decoder(list[ActiveSession])
_SESSIONS = msgspec.json.Decoder(list[Session])
_SESSION = msgspec.json.Decoder(ClientWrapped[Session])


class AsyncUser:
    """The user of the frontend's current session, with its multi-factor methods.

    Every ``/v1/me`` request names the session through ``_clerk_session_id`` when the frontend
    knows it. After each call, :attr:`data` is refreshed from the client snapshot the server sends
    back, so ``user.totp_enabled`` is up to date without a :meth:`reload`.

    Usage::

        user = await fapi.get_user()
        totp = await user.create_totp()           # totp.secret / totp.uri for the authenticator app
        totp = await user.verify_totp(code="123456")
        print(totp.backup_codes)                  # first enrolment only
    """

    def __init__(self, frontend: AsyncFrontend, data: User) -> None:
        self._frontend = frontend
        self._data = data

    def __repr__(self) -> str:
        return f"<AsyncUser {self.id} totp_enabled={self.totp_enabled}>"

    @property
    def data(self) -> User:
        """The latest :class:`~totpkit.types.User` this handle has seen."""
        return self._data

    @property
    def id(self) -> str:
        """The user id (``user_...``)."""
        return self._data.id

    @property
    def totp_enabled(self) -> bool:
        """Whether the user has a *verified* TOTP."""
        return self._data.totp_enabled

    @property
    def backup_code_enabled(self) -> bool:
        """Whether the user has at least one unused backup code."""
        return self._data.backup_code_enabled

    @property
    def two_factor_enabled(self) -> bool:
        """Whether the user has any second factor."""
        return self._data.two_factor_enabled

    @property
    def primary_email_address(self) -> str | None:
        """The primary email address, or ``None`` if the user has none."""
        for address in self._data.email_addresses:
            if address.id == self._data.primary_email_address_id:
                return address.email_address
        return None

    async def reload(self) -> None:
        """Fetch the user again (``GET /v1/me``) and replace :attr:`data`."""
        self._data = await self._frontend._request_wrapped("GET", "/v1/me", _USER)

    async def create_totp(self) -> TOTP:
        """Start TOTP enrolment (``POST /v1/me/totp``): a new secret and ``otpauth://`` URI.

        Calling it again before verifying replaces the pending secret. The secret is returned only
        here. Raises :class:`~totpkit.BadRequestError` (``totp_already_enabled``) when the user
        already has a verified TOTP.
        """
        return await self._call("POST", "/v1/me/totp", _TOTP)

    async def verify_totp(self, *, code: str) -> TOTP:
        """Finish enrolment (``POST /v1/me/totp/attempt_verification``) with a code from the app.

        On the first enrolment the answer carries a new set of ``backup_codes``. A wrong or
        already-used code raises :class:`~totpkit.UnprocessableEntityError` (``form_code_incorrect``);
        no pending TOTP raises :class:`~totpkit.NotFoundError`. An empty ``code`` raises
        :class:`ValueError` without sending anything.
        """
        require_non_empty("code", code)
        return await self._call("POST", "/v1/me/totp/attempt_verification", _TOTP, form={"code": code})

    async def disable_totp(self) -> DeletedObject:
        """Remove the TOTP, verified or not (``DELETE /v1/me/totp``).

        When it was the user's last second factor the backup codes go too. Raises
        :class:`~totpkit.NotFoundError` when there is no TOTP.
        """
        return await self._call("DELETE", "/v1/me/totp", _DELETED)

    async def create_backup_code(self) -> BackupCodes:
        """Replace the user's backup codes with a new set (``POST /v1/me/backup_codes``).

        Raises :class:`~totpkit.BadRequestError` (``backup_codes_not_available``) unless the user
        has a verified TOTP.
        """
        return await self._call("POST", "/v1/me/backup_codes", _BACKUP_CODES)

    async def get_active_sessions(self) -> list[ActiveSession]:
        """The user's live sessions on every device, oldest first (``GET /v1/me/sessions/active``).

        Clerk's "Active devices": no session carries a token; ``latest_activity`` holds no device details.
        """
        return await self._frontend._request("GET", "/v1/me/sessions/active", _ACTIVE_SESSIONS)

    async def get_sessions(self) -> list[Session]:
        """Every session the user ever had, any status, oldest first (``GET /v1/me/sessions``)."""
        return await self._frontend._request("GET", "/v1/me/sessions", _SESSIONS)

    async def revoke_session(self, session_id: str) -> Session:
        """Sign one of the user's sessions out on whichever device holds it (status ``revoked``).

        ``POST /v1/me/sessions/{id}/revoke``. Another user's or an unknown id raises
        :class:`~totpkit.NotFoundError`; a stale session with reverification on raises
        :class:`~totpkit.PermissionDeniedError`. An empty id raises :class:`ValueError` without sending anything.
        """
        path = f"/v1/me/sessions/{path_param('session_id', session_id)}/revoke"
        return await self._call("POST", path, _SESSION)

    async def _call(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[ClientWrapped[T]],
        form: dict[str, str] | None = None,
    ) -> T:
        result = await self._frontend._request_wrapped(method, path, decoder, form=form)
        refreshed = self._frontend._user_from_last_client(self.id)
        if refreshed is not None:
            self._data = refreshed
        return result
