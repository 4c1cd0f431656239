"""Sessions of the current client (``/v1/client/sessions/{id}``) and session tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from .._http import path_param
from ..types import ClientWrapped, Session, SessionVerificationLevel, Token
from .session_verification import SESSION_VERIFICATION_DECODER, AsyncSessionVerification

if TYPE_CHECKING:
    from .._client import AsyncFrontend

__all__ = ("SESSION_DECODER", "AsyncSession")

SESSION_DECODER = msgspec.json.Decoder(ClientWrapped[Session])
_TOKEN = msgspec.json.Decoder(Token)


class AsyncSession:
    """A live handle on one session; :meth:`touch`, :meth:`end` and :meth:`reload` refresh :attr:`data`.

    Usage::

        session = await fapi.get_session()
        jwt = await session.get_token()    # RS256, verify with fapi.get_jwks()
    """

    def __init__(self, frontend: AsyncFrontend, data: Session) -> None:
        self._frontend = frontend
        self._data = data

    def __repr__(self) -> str:
        return f"<AsyncSession {self.id} status={self.status!r}>"

    @property
    def data(self) -> Session:
        """The latest :class:`~totpkit.types.Session` this handle has seen."""
        return self._data

    @property
    def id(self) -> str:
        """The session id (``sess_...``)."""
        return self._data.id

    @property
    def status(self) -> str:
        """``active``, ``ended``, ``expired``, ..."""
        return self._data.status

    async def reload(self) -> None:
        """Fetch the session again (``GET /v1/client/sessions/{id}``)."""
        self._data = await self._frontend._request_wrapped("GET", self._path(""), SESSION_DECODER)

    async def get_token(self, *, organization_id: str | None = None) -> str:
        """Mint a short-lived session JWT (``POST .../tokens``); ``organization_id`` is sent empty when ``None``."""
        token = await self._frontend._request(
            "POST", self._path("/tokens"), _TOKEN, form={"organization_id": organization_id}
        )
        return token.jwt

    async def touch(self) -> None:
        """Mark the session active (``POST .../touch``); it becomes the frontend's current session."""
        self._data = await self._frontend._request_wrapped(
            "POST", self._path("/touch"), SESSION_DECODER, form={"active_organization_id": None}
        )
        self._frontend._select_session(self.id)

    async def verify(self, *, level: SessionVerificationLevel = "second_factor") -> AsyncSessionVerification:
        """Start a reverification (step-up) of this session (``POST .../verify``).

        ``second_factor`` and ``multi_factor`` fall back to ``first_factor`` for a user without a
        second factor. Answer the returned verification's ``attempt_*`` until it is ``complete``;
        then changes refused with 403 ``session_reverification_required`` go through.
        """
        return await self._verification_step(self._path("/verify"), {"level": level})

    async def _verification_step(self, path: str, form: dict[str, str]) -> AsyncSessionVerification:
        """Send one reverification request; adopt the session it carries and wrap the answer."""
        data = await self._frontend._request_wrapped("POST", path, SESSION_VERIFICATION_DECODER, form=form)
        self._data = data.session
        return AsyncSessionVerification(self, data)

    async def end(self) -> None:
        """Sign this session out (``POST .../end``); :attr:`status` becomes ``ended``."""
        self._data = await self._frontend._request_wrapped("POST", self._path("/end"), SESSION_DECODER)
        self._frontend._forget_session(self.id)

    def _path(self, suffix: str) -> str:
        return f"/v1/client/sessions/{path_param('session_id', self.id)}{suffix}"
