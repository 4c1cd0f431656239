"""Sign-in attempts (``/v1/client/sign_ins``): password first factor, TOTP or backup-code second factor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import msgspec

from .._http import path_param, require_non_empty
from ..types import ClientWrapped, SignIn, SignInFactor

if TYPE_CHECKING:
    from .._client import AsyncFrontend

__all__ = ("SIGN_IN_DECODER", "AsyncSignIn", "SecondFactorStrategy")

SIGN_IN_DECODER = msgspec.json.Decoder(ClientWrapped[SignIn])

SecondFactorStrategy = Literal["totp", "backup_code"]
"""The second factors totpkit supports."""


class AsyncSignIn:
    """A snapshot of one sign-in attempt; each step returns a *new* :class:`AsyncSignIn`.

    ``status`` moves from ``needs_first_factor`` (created without a password) to
    ``needs_second_factor`` (the user has MFA) to ``complete``; a complete sign-in's
    ``created_session_id`` becomes the frontend's current session.

    Usage::

        sign_in = await fapi.sign_in(identifier="jane@example.com", password="...")
        if sign_in.status == "needs_second_factor":
            sign_in = await sign_in.attempt_second_factor(strategy="totp", code="123456")
    """

    def __init__(self, frontend: AsyncFrontend, data: SignIn) -> None:
        self._frontend = frontend
        self._data = data

    def __repr__(self) -> str:
        return f"<AsyncSignIn {self.id} status={self.status!r}>"

    @property
    def data(self) -> SignIn:
        """The :class:`~totpkit.types.SignIn` as the server returned it."""
        return self._data

    @property
    def id(self) -> str:
        """The sign-in id (``sia_...``)."""
        return self._data.id

    @property
    def status(self) -> str:
        """``needs_first_factor``, ``needs_second_factor``, ``complete``, ..."""
        return self._data.status

    @property
    def created_session_id(self) -> str | None:
        """The session created when the sign-in completed, else ``None``."""
        return self._data.created_session_id

    @property
    def supported_second_factors(self) -> list[SignInFactor]:
        """The second factors the user may present (empty before the first factor is verified)."""
        return list(self._data.supported_second_factors or [])

    async def reload(self) -> AsyncSignIn:
        """Fetch the sign-in again (``GET /v1/client/sign_ins/{id}``)."""
        return await self._step("GET", "")

    async def attempt_first_factor(self, *, strategy: Literal["password"] = "password", password: str) -> AsyncSignIn:
        """Present the password (``POST .../attempt_first_factor``).

        A wrong password raises :class:`~totpkit.UnprocessableEntityError` (``form_password_incorrect``);
        a sign-in not waiting for a first factor raises :class:`~totpkit.BadRequestError`.
        """
        return await self._step("POST", "/attempt_first_factor", {"strategy": strategy, "password": password})

    async def attempt_second_factor(self, *, strategy: SecondFactorStrategy, code: str) -> AsyncSignIn:
        """Present a TOTP or backup code (``POST .../attempt_second_factor``).

        A wrong, reused or out-of-window code raises :class:`~totpkit.UnprocessableEntityError`
        (``form_code_incorrect``); a strategy the user lacks raises :class:`~totpkit.BadRequestError`
        (``strategy_for_user_invalid``). An empty ``code`` raises :class:`ValueError` without sending.
        """
        require_non_empty("code", code)
        return await self._step("POST", "/attempt_second_factor", {"strategy": strategy, "code": code})

    async def _step(self, method: str, suffix: str, form: dict[str, str] | None = None) -> AsyncSignIn:
        path = f"/v1/client/sign_ins/{path_param('sign_in_id', self.id)}{suffix}"
        data = await self._frontend._request_wrapped(method, path, SIGN_IN_DECODER, form=form)
        return self._frontend._adopt_sign_in(data)
