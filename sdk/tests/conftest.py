"""Shared fixtures: a respx router behind an injected httpx client, and wire-JSON builders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest
import respx

from totpkit import AsyncBackend, AsyncFrontend
from totpkit.types import (
    TOTP,
    ClerkAPIError,
    ClerkErrors,
    Client,
    ClientWrapped,
    EmailAddress,
    PublicUserData,
    Session,
    SignIn,
    Token,
    User,
)

BASE_URL = "https://fapi.example.test"
NOW_MS = 1_700_000_000_000


class Wire:
    """Builds the JSON bodies the server sends, from the shared wire structs."""

    base_url = BASE_URL

    def user(self, **changes: Any) -> User:
        """A user ``user_1`` with primary email jane@example.com and no MFA."""
        email = EmailAddress(
            id="idn_1", email_address="jane@example.com", verification=None, created_at=NOW_MS, updated_at=NOW_MS
        )
        fields: dict[str, Any] = {
            "id": "user_1",
            "primary_email_address_id": "idn_1",
            "password_enabled": True,
            "two_factor_enabled": False,
            "totp_enabled": False,
            "backup_code_enabled": False,
            "email_addresses": [email],
            "created_at": NOW_MS,
            "updated_at": NOW_MS,
        }
        fields.update(changes)
        return User(**fields)

    def session(self, session_id: str = "sess_1", *, user: User | None = None, status: str = "active") -> Session:
        """An active session of ``user`` (default :meth:`user`)."""
        user = user or self.user()
        public = PublicUserData(
            first_name=None,
            last_name=None,
            image_url="",
            has_image=False,
            identifier="jane@example.com",
            user_id=user.id,
        )
        return Session(
            id=session_id,
            status=status,
            expire_at=NOW_MS,
            abandon_at=NOW_MS,
            last_active_at=NOW_MS,
            last_active_token=Token(jwt="a.b.c"),
            user=user,
            public_user_data=public,
            factor_verification_age=[0, -1],
            created_at=NOW_MS,
            updated_at=NOW_MS,
        )

    def client(self, *sessions: Session, sign_in: SignIn | None = None) -> Client:
        """A client holding ``sessions``; the last one is the last active session."""
        return Client(
            id="client_1",
            sessions=list(sessions),
            sign_in=sign_in,
            last_active_session_id=sessions[-1].id if sessions else None,
            created_at=NOW_MS,
            updated_at=NOW_MS,
        )

    def sign_in(self, status: str, *, created_session_id: str | None = None) -> SignIn:
        """A sign-in in ``status``."""
        return SignIn(
            id="sia_1",
            status=status,
            identifier="jane@example.com",
            created_session_id=created_session_id,
            abandon_at=NOW_MS,
        )

    def totp(self, *, verified: bool = False, backup_codes: list[str] | None = None) -> TOTP:
        """A TOTP; the secret and URI are set only while unverified."""
        secret = None if verified else "JBSWY3DPEHPK3PXP"
        uri = None if verified else f"otpauth://totp/x:jane@example.com?secret={secret}"
        return TOTP(
            id="totp_1",
            secret=secret,
            uri=uri,
            verified=verified,
            backup_codes=backup_codes,
            created_at=NOW_MS,
            updated_at=NOW_MS,
        )

    def wrapped(self, response: object, client: Client | None = None, **headers: str) -> httpx.Response:
        """A 200 ``{response, client}`` answer."""
        return self.json(ClientWrapped(response=response, client=client), headers=headers)

    def json(self, body: object, *, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
        """An answer whose body is ``body`` encoded as JSON."""
        return httpx.Response(
            status, content=msgspec.json.encode(body), headers={"content-type": "application/json", **(headers or {})}
        )

    def error(
        self,
        status: int,
        code: str,
        long_message: str = "Something",
        *,
        trace: str = "ab" * 16,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """A Clerk error answer."""
        meta = {"param_name": param} if param else {}
        error = ClerkAPIError(message="msg", long_message=long_message, code=code, meta=meta)
        return self.json(ClerkErrors(errors=[error], meta={}, clerk_trace_id=trace), status=status, headers=headers)


@pytest.fixture(name="wire")
def fx_wire() -> Wire:
    return Wire()


@pytest.fixture(name="router")
def fx_router() -> respx.MockRouter:
    return respx.MockRouter(base_url=BASE_URL, assert_all_called=False)


@pytest.fixture(name="http_client")
async def fx_http_client(router: respx.MockRouter) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(router.async_handler)) as client:
        yield client


@pytest.fixture(name="sleeps")
def fx_sleeps() -> list[float]:
    """Every delay the SDK asked to sleep, instead of sleeping."""
    return []


@pytest.fixture(name="fapi")
def fx_fapi(http_client: httpx.AsyncClient, sleeps: list[float]) -> AsyncFrontend:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return AsyncFrontend(BASE_URL, http_client=http_client, _sleep=sleep, _jitter=lambda: 0.0)


@pytest.fixture(name="bapi")
def fx_bapi(http_client: httpx.AsyncClient, sleeps: list[float]) -> AsyncBackend:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return AsyncBackend(BASE_URL, secret_key="sk_test_abc", http_client=http_client, _sleep=sleep, _jitter=lambda: 0.0)
