""":class:`FakeFrontendAPI`: the public face of the fake (state, router, HTTP clients, helpers)."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import Self

import httpx
import respx

from .._client import AsyncBackend, AsyncFrontend
from ..otp import decode_secret
from .routes import ROUTE_NAMES, add_routes
from .state import FakeState

__all__ = ("FakeFrontendAPI",)


class FakeFrontendAPI:
    """A stateful in-memory fake of the totpkit server for tests, built on a ``respx`` router.

    **Parameters:**

    * ``base_url`` - where the fake "lives"; clients built by :meth:`frontend` and :meth:`backend`
      use it. It may contain a path prefix.
    * ``clock`` - returns the current Unix time in seconds; drives timestamps, TOTP steps, JWTs and
      lockouts.
    * ``secret_key`` - the Backend API secret key (``Authorization: Bearer <secret_key>``).
    * ``application_name`` - the TOTP issuer (with `` (development)``) and the environment's name.
    * ``random_bytes`` - the randomness source (ids, secrets, tokens, backup codes); ``os.urandom``
      by default.
    * ``reverification_max_age`` - the server's setting of that name: minutes after which MFA changes
      answer 403 ``session_reverification_required`` until the session reverifies
      (``/v1/client/sessions/{id}/verify``); ``None`` (the default) turns the gate off.
    * ``allowed_origins`` - the server's setting of that name: browser origins that get CORS answers;
      ``None`` (the default) accepts loopback origins only, like a development server.

    The router is :attr:`router`; every route is named (``environment``, ``sign_in_create``,
    ``totp_verify``, ``bapi_user_get`` ... see :data:`ROUTE_NAMES`), and a last ``not_found`` route
    answers anything else: 405 ``method_not_allowed`` for a known path, else 404
    ``resource_not_found``. HTTP clients made by :meth:`http_client`, :meth:`frontend` and
    :meth:`backend` are closed by :meth:`aclose`.

    Like the server, ten consecutive wrong codes (enrolment or second factor) lock a user for an
    hour (403 ``user_locked``); the eighth and ninth answer 422 ``account_lockout_warning``; a
    correct code resets the count. Unlike the server, the fake applies no request-rate limits.
    """

    ROUTE_NAMES = ROUTE_NAMES
    """The named routes of :attr:`router`, besides the catch-all ``not_found``."""

    def __init__(
        self,
        base_url: str = "https://fapi.totpkit.test",
        *,
        clock: Callable[[], float],
        secret_key: str = "sk_test_fake",  # noqa: S107 - a fake key for a fake server
        application_name: str = "totpkit",
        random_bytes: Callable[[int], bytes] | None = None,
        reverification_max_age: int | None = None,
        allowed_origins: tuple[str, ...] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret_key = secret_key
        self.application_name = application_name
        self._state = FakeState(
            base_url=self.base_url,
            clock=clock,
            random_bytes=random_bytes or os.urandom,
            secret_key=secret_key,
            application_name=application_name,
            reverification_max_age=reverification_max_age,
            allowed_origins=allowed_origins,
        )
        self._http_clients: list[httpx.AsyncClient] = []
        self.router = respx.MockRouter(base_url=self.base_url, assert_all_called=False)
        add_routes(self.router, self._state)

    def __repr__(self) -> str:
        return f"<FakeFrontendAPI {self.base_url!r} users={len(self._state.users)}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every HTTP client this fake handed out."""
        for client in self._http_clients:
            await client.aclose()
        self._http_clients.clear()

    def add_user(
        self,
        email: str,
        password: str | None,
        *,
        totp_secret: str | None = None,
        backup_codes: list[str] | None = None,
    ) -> str:
        """Create a user and return its id; a ``totp_secret`` is imported as a verified TOTP.

        Raises :class:`ValueError` for an email that is taken, and
        :class:`~totpkit.otp.InvalidSecretError` for a secret that is not base32.
        """
        if self._state.user_by_email(email.strip()) is not None:
            raise ValueError(f"a user with email {email!r} already exists")
        if totp_secret is not None:
            decode_secret(totp_secret)
        return self._state.create_user(email, password, totp_secret=totp_secret, backup_codes=backup_codes).id

    def http_client(self) -> httpx.AsyncClient:
        """An :class:`httpx.AsyncClient` whose requests are answered by this fake."""
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.router.async_handler), base_url=self.base_url)
        self._http_clients.append(client)
        return client

    def frontend(self, *, client_token: str | None = None) -> AsyncFrontend:
        """An :class:`~totpkit.AsyncFrontend` bound to this fake (a new device unless ``client_token``)."""
        return AsyncFrontend(self.base_url, http_client=self.http_client(), client_token=client_token)

    def backend(self) -> AsyncBackend:
        """An :class:`~totpkit.AsyncBackend` bound to this fake, using its secret key."""
        return AsyncBackend(self.base_url, secret_key=self.secret_key, http_client=self.http_client())
