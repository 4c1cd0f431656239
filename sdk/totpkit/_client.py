"""The two clients: :class:`AsyncFrontend` (Clerk's Frontend API) and :class:`AsyncBackend` (Backend API)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx
import msgspec

from ._backend_users import BackendUserAdmin
from ._constants import DEFAULT_API_VERSION, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT
from ._exceptions import TotpkitError
from ._http import BaseClient, Clock, FormValue, Sleep, path_param, require_non_empty
from .resources.session import SESSION_DECODER, AsyncSession
from .resources.sign_in import SIGN_IN_DECODER, AsyncSignIn
from .resources.user import AsyncUser
from .types import JWKS, Client, ClientWrapped, Environment, SignIn, User

__all__ = ("AsyncBackend", "AsyncFrontend")

T = TypeVar("T")

_ENVIRONMENT = msgspec.json.Decoder(Environment)
_JWKS = msgspec.json.Decoder(JWKS)
_CLIENT = msgspec.json.Decoder(ClientWrapped[Client | None])
_USER = msgspec.json.Decoder(ClientWrapped[User])
_BARE_USER = msgspec.json.Decoder(User)


class AsyncFrontend(BaseClient):
    """A client of the Frontend API in native mode, as Clerk's iOS and Android SDKs speak it.

    Every request carries ``_is_native=1``, the client token in the ``Authorization`` header (an
    empty value before the server has issued one) and ``clerk-api-version``. A response with an
    ``Authorization`` header replaces the token (an empty value, or ``Bearer`` alone, clears it).
    ``/v1/me`` requests add ``_clerk_session_id`` once the session is known: the one created by the
    last completed sign-in, else the client's ``last_active_session_id``.

    Usage::

        async with AsyncFrontend("http://127.0.0.1:8000") as fapi:
            sign_in = await fapi.sign_in(identifier="jane@example.com", password="...")
            user = await fapi.get_user()

    **Parameters:**

    * ``base_url`` - the FAPI root, optionally with a path prefix (``http://host/fapi``).
    * ``http_client`` - an :class:`httpx.AsyncClient` to send through (a test client, a mock
      transport, shared pools). It is **not** closed by :meth:`aclose`; its owner closes it.
    * ``timeout`` - seconds, or an :class:`httpx.Timeout`, applied to every request.
    * ``max_retries`` - retries for 429 and unsent requests (no connection), and for 5xx and timeouts of
      reads only (0 disables them); a POST that carries a code is never repeated after it was sent.
    * ``client_token`` - a client token from an earlier run, to resume that client.
    * ``api_version`` - the ``clerk-api-version`` header.
    """

    def __init__(
        self,
        base_url: str,
        *,
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        client_token: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        _sleep: Sleep | None = None,
        _jitter: Callable[[], float] | None = None,
        _clock: Clock | None = None,
    ) -> None:
        super().__init__(
            base_url,
            http_client=http_client,
            timeout=timeout,
            max_retries=max_retries,
            sleep=_sleep,
            jitter=_jitter,
            clock=_clock,
        )
        self._client_token = client_token or None
        self._api_version = api_version
        self._last_client: Client | None = None
        self._session_id: str | None = None

    def __repr__(self) -> str:
        return f"<AsyncFrontend {self.base_url!r} session_id={self.session_id!r}>"

    @property
    def client_token(self) -> str | None:
        """The client token sent in ``Authorization``; ``None`` until the server issues one."""
        return self._client_token

    @property
    def last_client(self) -> Client | None:
        """The newest client snapshot received (``None`` before any, or when the server has no client)."""
        return self._last_client

    @property
    def session_id(self) -> str | None:
        """The session ``/v1/me`` acts on: the last completed sign-in's, else the client's last active one."""
        if self._session_id is not None:
            return self._session_id
        return self._last_client.last_active_session_id if self._last_client is not None else None

    async def get_environment(self) -> Environment:
        """The instance configuration (``GET /v1/environment``), e.g. which second factors are on."""
        return await self._request("GET", "/v1/environment", _ENVIRONMENT)

    async def get_client(self) -> Client | None:
        """This device's client (``GET /v1/client``); ``None`` when the server knows no client for it."""
        return await self._request_wrapped("GET", "/v1/client", _CLIENT)

    async def sign_out(self) -> Client | None:
        """End every session of the client (``DELETE /v1/client``) and forget the current session."""
        client = await self._request_wrapped("DELETE", "/v1/client", _CLIENT)
        self._session_id = None
        return client

    async def get_jwks(self) -> JWKS:
        """The public keys that verify session tokens (``GET /.well-known/jwks.json``)."""
        return await self._request("GET", "/.well-known/jwks.json", _JWKS)

    async def sign_in(
        self, *, identifier: str, password: str | None = None, strategy: str | None = None
    ) -> AsyncSignIn:
        """Start a sign-in (``POST /v1/client/sign_ins``), creating a client if there is none.

        With ``password`` the answer is ``complete`` (user without MFA) or ``needs_second_factor``;
        without it, ``needs_first_factor``. A wrong password or unknown identifier raises
        :class:`~totpkit.UnprocessableEntityError`. An empty ``identifier`` raises :class:`ValueError`.
        """
        require_non_empty("identifier", identifier)
        form: dict[str, FormValue] = {"identifier": identifier}
        if password is not None:
            form["password"] = password
        if strategy is not None:
            form["strategy"] = strategy
        data = await self._request_wrapped("POST", "/v1/client/sign_ins", SIGN_IN_DECODER, form=form)
        return self._adopt_sign_in(data)

    async def get_user(self) -> AsyncUser:
        """The signed-in user (``GET /v1/me``); :class:`~totpkit.AuthenticationError` when signed out."""
        return AsyncUser(self, await self._request_wrapped("GET", "/v1/me", _USER))

    async def get_session(self, session_id: str | None = None) -> AsyncSession:
        """A session of this client (``GET /v1/client/sessions/{id}``), by default the current one.

        Without ``session_id`` and without a known session, the client is fetched first; if it has
        no active session either, :class:`~totpkit.TotpkitError` is raised.
        """
        if session_id is None:
            session_id = self.session_id or await self._refresh_session_id()
        path = f"/v1/client/sessions/{path_param('session_id', session_id)}"
        return AsyncSession(self, await self._request_wrapped("GET", path, SESSION_DECODER))

    async def _refresh_session_id(self) -> str:
        await self.get_client()
        if self.session_id is None:
            raise TotpkitError("No active session: sign in first, or pass a session id.")
        return self.session_id

    async def _request_wrapped(
        self,
        method: str,
        path: str,
        decoder: msgspec.json.Decoder[ClientWrapped[T]],
        *,
        form: Mapping[str, FormValue] | None = None,
    ) -> T:
        """Send a request whose answer is ``{response, client}``; keep the client, return the response."""
        wrapped = await self._request(method, path, decoder, form=form)
        self._last_client = wrapped.client
        return wrapped.response

    def _adopt_sign_in(self, data: SignIn) -> AsyncSignIn:
        """Wrap a sign-in; a complete one makes its new session the current session."""
        if data.status == "complete" and data.created_session_id:
            self._session_id = data.created_session_id
        return AsyncSignIn(self, data)

    def _select_session(self, session_id: str) -> None:
        self._session_id = session_id

    def _forget_session(self, session_id: str) -> None:
        if self._session_id == session_id:
            self._session_id = None

    def _user_from_last_client(self, user_id: str) -> User | None:
        """The newest copy of user ``user_id`` in the last client snapshot, if it has one."""
        sessions = self._last_client.sessions if self._last_client is not None else []
        ordered = sorted(sessions, key=lambda session: session.id != self.session_id)
        for session in ordered:
            if session.user is not None and session.user.id == user_id:
                return session.user
        return None

    def _default_headers(self, path: str) -> dict[str, str]:
        headers = super()._default_headers(path)
        headers["authorization"] = self._client_token or ""
        headers["clerk-api-version"] = self._api_version
        return headers

    def _default_query(self, path: str) -> dict[str, str]:
        query = {"_is_native": "1"}
        session_id = self.session_id
        if path.startswith("/v1/me") and session_id is not None:
            query["_clerk_session_id"] = session_id
        return query

    def _on_response(self, response: httpx.Response) -> None:
        token = response.headers.get("authorization")
        if token is not None:
            self._client_token = None if token.strip() in {"", "Bearer"} else token


class AsyncBackend(BackendUserAdmin):
    """A client of the Backend API, authenticated with the instance's secret key.

    Requests send ``Authorization: Bearer <secret_key>`` and JSON bodies; answers are bare
    resources (no ``{response, client}`` envelope). ``http_client`` is used and left open exactly as
    for :class:`AsyncFrontend`. Besides creating and reading users it administers their MFA and
    locks (:meth:`verify_totp`, :meth:`delete_totp`, :meth:`delete_backup_codes`,
    :meth:`disable_mfa`, :meth:`lock_user`, :meth:`unlock_user`, :meth:`update_user`).

    Usage::

        async with AsyncBackend("http://127.0.0.1:8000", secret_key="sk_test_...") as bapi:
            user = await bapi.create_user(email_address=["jane@example.com"], password="...")
            checked = await bapi.verify_totp(user.id, "123456")
    """

    def __init__(
        self,
        base_url: str,
        *,
        secret_key: str,
        http_client: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        api_version: str = DEFAULT_API_VERSION,
        _sleep: Sleep | None = None,
        _jitter: Callable[[], float] | None = None,
        _clock: Clock | None = None,
    ) -> None:
        require_non_empty("secret_key", secret_key)
        super().__init__(
            base_url,
            http_client=http_client,
            timeout=timeout,
            max_retries=max_retries,
            sleep=_sleep,
            jitter=_jitter,
            clock=_clock,
        )
        self._secret_key = secret_key
        self._api_version = api_version

    def __repr__(self) -> str:
        return f"<AsyncBackend {self.base_url!r}>"

    async def create_user(
        self,
        *,
        email_address: list[str],
        password: str | None = None,
        totp_secret: str | None = None,
        backup_codes: list[str] | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
    ) -> User:
        """Create a user (``POST /v1/users``), optionally importing a TOTP secret and backup codes.

        ``None`` arguments are left out of the body. An imported ``totp_secret`` (base32, SHA1,
        6 digits, 30 s) counts as verified; ``backup_codes`` are plaintext codes.
        """
        fields: dict[str, Any] = {
            "email_address": email_address,
            "password": password,
            "totp_secret": totp_secret,
            "backup_codes": backup_codes,
            "first_name": first_name,
            "last_name": last_name,
        }
        body = {key: value for key, value in fields.items() if value is not None}
        return await self._request("POST", "/v1/users", _BARE_USER, json=body)

    async def get_user(self, user_id: str) -> User:
        """Fetch a user (``GET /v1/users/{user_id}``); an empty ``user_id`` raises :class:`ValueError`."""
        return await self._request("GET", f"/v1/users/{path_param('user_id', user_id)}", _BARE_USER)

    def _default_headers(self, path: str) -> dict[str, str]:
        headers = super()._default_headers(path)
        headers["authorization"] = f"Bearer {self._secret_key}"
        headers["clerk-api-version"] = self._api_version
        return headers
