"""Session reverification (step-up): ``POST /v1/client/sessions/{id}/verify`` and its attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from .._http import path_param, require_non_empty
from ..types import ClientWrapped, SessionVerification, SignInFactor

if TYPE_CHECKING:
    from .session import AsyncSession

__all__ = ("SESSION_VERIFICATION_DECODER", "AsyncSessionVerification")

SESSION_VERIFICATION_DECODER = msgspec.json.Decoder(ClientWrapped[SessionVerification])


class AsyncSessionVerification:
    """A snapshot of one reverification of a session; each attempt returns a *new* snapshot.

    ``status`` goes ``needs_first_factor`` (password) and/or ``needs_second_factor`` (TOTP or
    backup code) to ``complete``. Every answer also refreshes the :class:`~totpkit.AsyncSession` that
    started it, so ``session.data.factor_verification_age`` shows the fresh verification.

    Usage::

        try:
            await user.create_backup_code()
        except PermissionDeniedError as error:          # 403 session_reverification_required
            session = await fapi.get_session()
            verification = await session.verify(level="second_factor")
            if verification.status == "needs_second_factor":
                verification = await verification.attempt_second_factor(strategy="totp", code="123456")
            await user.create_backup_code()
    """

    def __init__(self, session: AsyncSession, data: SessionVerification) -> None:
        self._session = session
        self._data = data

    def __repr__(self) -> str:
        return f"<AsyncSessionVerification {self._session.id} level={self.level!r} status={self.status!r}>"

    @property
    def data(self) -> SessionVerification:
        """The :class:`~totpkit.types.SessionVerification` as the server returned it."""
        return self._data

    @property
    def level(self) -> str:
        """``first_factor``, ``second_factor`` or ``multi_factor`` (the first for a user without MFA)."""
        return self._data.level

    @property
    def status(self) -> str:
        """``needs_first_factor``, ``needs_second_factor`` or ``complete``."""
        return self._data.status

    @property
    def supported_first_factors(self) -> list[SignInFactor]:
        """The first factors the user may present (``password``)."""
        return list(self._data.supported_first_factors or [])

    @property
    def supported_second_factors(self) -> list[SignInFactor]:
        """The second factors the user may present (``totp``, ``backup_code``)."""
        return list(self._data.supported_second_factors or [])

    async def attempt_first_factor(
        self, *, strategy: Literal["password"] = "password", password: str
    ) -> AsyncSessionVerification:
        """Present the password (``POST .../verify/attempt_first_factor``).

        A wrong password raises :class:`~totpkit.UnprocessableEntityError` (``form_password_incorrect``)
        and counts towards the user's lockout; a verification not waiting for a first factor raises
        :class:`~totpkit.BadRequestError` (``client_state_invalid``). An empty ``password`` raises
        :class:`ValueError` without sending anything.
        """
        require_non_empty("password", password)
        return await self._step("/attempt_first_factor", {"strategy": strategy, "password": password})

    async def attempt_second_factor(
        self, *, strategy: Literal["totp", "backup_code"], code: str
    ) -> AsyncSessionVerification:
        """Present a TOTP or backup code (``POST .../verify/attempt_second_factor``).

        A wrong, reused or out-of-window code raises :class:`~totpkit.UnprocessableEntityError`
        (``form_code_incorrect``) and counts towards the lockout (then
        :class:`~totpkit.PermissionDeniedError`, ``user_locked``); a strategy the user lacks raises
        :class:`~totpkit.BadRequestError`. An empty ``code`` raises :class:`ValueError` without sending.
        """
        require_non_empty("code", code)
        return await self._step("/attempt_second_factor", {"strategy": strategy, "code": code})

    async def _step(self, suffix: str, form: dict[str, str]) -> AsyncSessionVerification:
        path = f"/v1/client/sessions/{path_param('session_id', self._session.id)}/verify{suffix}"
        return await self._session._verification_step(path, form)
