"""Make sure the public API reads as documented and passes the type checker.

This module is type-checked (``mypy --strict sdk/tests/typing``) and never executed: a changed
return type or parameter in the public API fails the type check.
"""

from __future__ import annotations

import httpx

from totpkit import (
    DEFAULT_MAX_RETRIES,
    APIStatusError,
    AsyncBackend,
    AsyncFrontend,
    AsyncSession,
    AsyncSessionVerification,
    AsyncSignIn,
    AsyncUser,
    InvalidSessionTokenError,
    JWKSCache,
    NotFoundError,
    RateLimitError,
    SecondFactorStrategy,
    SessionClaims,
    UnprocessableEntityError,
    types,
    verify_session_token,
)
from totpkit.testing import FakeFrontendAPI, totp_code

__all__ = ("backend_flow", "fake_flow", "frontend_flow", "handle_errors", "protect_route", "step_up_flow")


async def frontend_flow(base_url: str, password: str, now: float) -> str:
    """Sign in, enrol TOTP, regenerate backup codes, mint a token, disable TOTP."""
    async with AsyncFrontend(base_url, timeout=httpx.Timeout(10.0), max_retries=DEFAULT_MAX_RETRIES) as fapi:
        environment: types.Environment = await fapi.get_environment()
        second_factors: list[str] = environment.second_factors()
        sign_in: AsyncSignIn = await fapi.sign_in(identifier="jane@example.com", password=password)
        if sign_in.status == "needs_first_factor":
            sign_in = await sign_in.attempt_first_factor(strategy="password", password=password)
        strategy: SecondFactorStrategy = "totp"
        if sign_in.status == "needs_second_factor" and "totp" in second_factors:
            sign_in = await sign_in.attempt_second_factor(strategy=strategy, code="123456")
        data: types.SignIn = sign_in.data
        session_id: str | None = data.created_session_id or fapi.session_id
        token: str | None = fapi.client_token
        last: types.Client | None = fapi.last_client

        user: AsyncUser = await fapi.get_user()
        totp: types.TOTP = await user.create_totp()
        secret: str | None = totp.secret
        totp = await user.verify_totp(code=totp_code(secret or "", at=now))
        backup_codes: list[str] | None = totp.backup_codes
        codes: types.BackupCodes = await user.create_backup_code()
        deleted: types.DeletedObject = await user.disable_totp()
        await user.reload()
        latest: types.User = user.data
        flags: tuple[bool, bool, bool] = (user.totp_enabled, user.backup_code_enabled, user.two_factor_enabled)
        email: str | None = user.primary_email_address

        session: AsyncSession = await fapi.get_session(session_id)
        jwt: str = await session.get_token(organization_id=None)
        await session.touch()
        session_data: types.Session = session.data
        jwks: types.JWKS = await fapi.get_jwks()
        client: types.Client | None = await fapi.get_client()
        await session.end()
        await fapi.sign_out()
        del token, last, backup_codes, codes, deleted, latest, flags, email, session_data, jwks, client
        return jwt


async def step_up_flow(fapi: AsyncFrontend, password: str, code: str) -> list[int]:
    """Reverify the current session (password, then a code) and read the fresh factor ages."""
    session: AsyncSession = await fapi.get_session()
    level: types.SessionVerificationLevel = "multi_factor"
    verification: AsyncSessionVerification = await session.verify(level=level)
    if verification.status == "needs_first_factor":
        verification = await verification.attempt_first_factor(password=password)
    if verification.status == "needs_second_factor":
        verification = await verification.attempt_second_factor(strategy="backup_code", code=code)
    data: types.SessionVerification = verification.data
    factors: list[types.SignInFactor] = verification.supported_first_factors + verification.supported_second_factors
    del data, factors
    return session.data.factor_verification_age


async def backend_flow(base_url: str, http_client: httpx.AsyncClient) -> types.User:
    """Create a user with imported MFA through the Backend API, then fetch it."""
    async with AsyncBackend(base_url, secret_key="sk_test_x", http_client=http_client) as bapi:
        created: types.User = await bapi.create_user(
            email_address=["jane@example.com"], password="pw", totp_secret="JBSWY3DPEHPK3PXP", backup_codes=None
        )
        checked: types.TOTPVerification = await bapi.verify_totp(created.id, "123456")
        code_type: str = checked.code_type
        removed: list[types.UserIdResponse] = [
            await bapi.delete_totp(created.id),
            await bapi.delete_backup_codes(created.id),
            await bapi.disable_mfa(created.id),
        ]
        locked: types.User = await bapi.lock_user(removed[0].user_id if code_type else created.id)
        await bapi.unlock_user(locked.id)
        return await bapi.update_user(created.id, first_name="Jane", totp_secret=None, backup_codes=["a"])


async def handle_errors(fapi: AsyncFrontend) -> str | None:
    """The exception attributes callers rely on."""
    try:
        await fapi.get_user()
    except RateLimitError as error:
        retry_after: float | None = error.retry_after
        return str(retry_after)
    except UnprocessableEntityError as error:
        errors: list[types.ClerkAPIError] = error.errors
        return errors[0].long_message
    except NotFoundError as error:
        return error.clerk_trace_id
    except APIStatusError as error:
        status: int = error.status_code
        code: str | None = error.code
        response: httpx.Response = error.response
        return f"{status} {code} {response.status_code}"
    return None


async def fake_flow(now: float) -> bool:
    """The fake server hands out bound clients."""
    async with FakeFrontendAPI(clock=lambda: now, random_bytes=None) as fake:
        user_id: str = fake.add_user("jane@example.com", "pw", totp_secret=None, backup_codes=["a"])
        fapi: AsyncFrontend = fake.frontend()
        bapi: AsyncBackend = fake.backend()
        http_client: httpx.AsyncClient = fake.http_client()
        called: bool = fake.router["totp_create"].called
        await fapi.sign_in(identifier="jane@example.com", password="pw")
        del user_id, bapi, http_client
        return called


async def protect_route(token: str, jwks: JWKSCache, issuer: str, now: float) -> str | None:
    """Verify a session token as a host app would; the user id if its second factor is recent."""
    try:
        claims: SessionClaims = await verify_session_token(
            token, jwks=jwks, issuer=issuer, authorized_parties=["https://app.example.com"], leeway=5.0
        )
    except InvalidSessionTokenError as exc:
        reason: str = exc.reason
        return reason
    session_id: str = claims.session_id
    age: int | None = claims.second_factor_age(now=now)
    recent: bool = claims.has_recent_second_factor(10, now=now)
    return claims.user_id if recent and age is not None and session_id else None
