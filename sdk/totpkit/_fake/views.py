"""Rendering the fake's records as the wire structs of :mod:`totpkit.types`, as the server does."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, quote_plus

from ..types import (
    TOTP,
    Client,
    ClientWrapped,
    EmailAddress,
    PublicUserData,
    Session,
    SignIn,
    SignInFactor,
    SignInUserData,
    Token,
    User,
    Verification,
)
from ..types.session import factor_verification_age
from ..types.user import DEFAULT_IMAGE_URL, lockout_state
from ._rsa import sign_jwt
from .context import Call
from .state import ClientRecord, FakeState, SessionRecord, SignInRecord, TOTPRecord, UserRecord

__all__ = ("client_view", "session_jwt", "session_view", "sign_in_view", "totp_view", "user_view", "wrapped")

_MINUTE_MS = 60_000
_DAY_MS = 86_400_000


def wrapped(call: Call, response: object) -> ClientWrapped[Any]:
    """``{"response": ..., "client": <the caller's client as it is now>}``."""
    return ClientWrapped(response=response, client=client_view(call, call.client))


def client_view(call: Call, client: ClientRecord | None) -> Client | None:
    if client is None:
        return None
    sign_in = client.sign_ins.get(client.sign_in_id) if client.sign_in_id else None
    if sign_in is not None and call.state.is_abandoned(sign_in):
        sign_in = None
    return Client(
        id=client.id,
        sessions=[session_view(call, s) for s in client.sessions if s.status == "active"],
        sign_in=sign_in_view(call.state, sign_in) if sign_in is not None else None,
        sign_up=None,
        last_active_session_id=client.last_active_session_id,
        last_authentication_strategy=client.last_authentication_strategy,
        cookie_expires_at=client.created_at + 365 * _DAY_MS,
        captcha_bypass=False,
        created_at=client.created_at,
        updated_at=client.updated_at,
    )


def user_view(state: FakeState, user: UserRecord) -> User:
    lockout = lockout_state(
        locked_until=user.locked_until,
        failed_attempts=user.failed_attempts,
        max_attempts=state.lockout_max_attempts,
        now_ms=state.now_ms(),
    )
    email = EmailAddress.verified_by_admin(id=user.email_id, email_address=user.email, created_at=user.created_at)
    return User(
        id=user.id,
        first_name=user.first_name,
        last_name=user.last_name,
        primary_email_address_id=user.email_id,
        password_enabled=user.password is not None,
        two_factor_enabled=user.totp_enabled,
        totp_enabled=user.totp_enabled,
        backup_code_enabled=bool(user.backup_codes),
        email_addresses=[email],
        last_sign_in_at=user.last_sign_in_at,
        locked=lockout.locked,
        lockout_expires_in_seconds=lockout.lockout_expires_in_seconds,
        verification_attempts_remaining=lockout.verification_attempts_remaining,
        mfa_enabled_at=user.mfa_enabled_at,
        mfa_disabled_at=user.mfa_disabled_at,
        last_active_at=user.last_active_at,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def session_view(call: Call, session: SessionRecord, *, with_token: bool = True) -> Session:
    """The Session with its user; ``with_token=False`` (the /v1/me/sessions lists) sends no token."""
    user = call.state.users[session.user_id]
    public = PublicUserData(
        first_name=user.first_name,
        last_name=user.last_name,
        image_url=DEFAULT_IMAGE_URL,
        has_image=False,
        identifier=user.email,
        user_id=user.id,
    )
    return Session(
        id=session.id,
        status=session.status,
        expire_at=session.expire_at,
        abandon_at=session.abandon_at,
        last_active_at=session.last_active_at,
        last_active_token=Token(jwt=session_jwt(call, session)) if session.status == "active" and with_token else None,
        user=user_view(call.state, user),
        public_user_data=public,
        factor_verification_age=_factor_age(call.state, session),
        created_at=session.created_at,
        updated_at=session.updated_at,
    )


def _factor_age(state: FakeState, session: SessionRecord) -> list[int]:
    return factor_verification_age(
        now_ms=state.now_ms(), first_factor_at=session.first_factor_at, second_factor_at=session.second_factor_at
    )


def session_jwt(call: Call, session: SessionRecord) -> str:
    """A real RS256 session token, verifiable with the key at ``/.well-known/jwks.json``."""
    state = call.state
    issued = int(state.clock())
    claims: dict[str, object] = {
        "exp": issued + state.token_lifetime,
        "fva": _factor_age(state, session),
        "iat": issued,
        "iss": state.base_url,
        "jti": state.random_bytes(10).hex(),
        "nbf": issued - 10,
        "sid": session.id,
        "sub": session.user_id,
        "v": 2,
    }
    origin = call.request.headers.get("origin")
    if origin:
        claims["azp"] = origin
    return sign_jwt(claims)


def sign_in_view(state: FakeState, sign_in: SignInRecord) -> SignIn:
    user = state.users[sign_in.user_id]
    second_factors = None
    if sign_in.status in ("needs_second_factor", "complete"):
        second_factors = [SignInFactor(strategy=strategy) for strategy in user.second_factors()] or None
    return SignIn(
        id=sign_in.id,
        status=sign_in.status,
        supported_identifiers=["email_address"],
        supported_first_factors=[SignInFactor(strategy="password")],
        supported_second_factors=second_factors,
        first_factor_verification=Verification.of_factor(
            "password" if sign_in.first_factor_strategy else None,
            verified=sign_in.first_factor_verified,
            attempts=sign_in.first_factor_attempts,
        ),
        second_factor_verification=Verification.of_factor(
            sign_in.second_factor_strategy,
            verified=sign_in.second_factor_verified,
            attempts=sign_in.second_factor_attempts,
        ),
        identifier=sign_in.identifier,
        user_data=SignInUserData(first_name=user.first_name, last_name=user.last_name),
        created_session_id=sign_in.created_session_id,
        abandon_at=sign_in.created_at + _DAY_MS,
    )


def totp_view(
    state: FakeState, totp: TOTPRecord, *, reveal_to: UserRecord | None = None, backup_codes: list[str] | None = None
) -> TOTP:
    """The TOTP as the wire shows it; secret and URI only when ``reveal_to`` (the create call)."""
    return TOTP(
        id=totp.id,
        secret=totp.secret if reveal_to is not None else None,
        uri=_totp_uri(state, totp.secret, reveal_to.email) if reveal_to is not None else None,
        verified=totp.verified,
        backup_codes=backup_codes,
        created_at=totp.created_at,
        updated_at=totp.updated_at,
    )


def _totp_uri(state: FakeState, secret: str, account: str) -> str:
    """``otpauth://totp/<Issuer>:<account>?...``: path percent-encoded, query spaces as ``+``."""
    issuer = f"{state.application_name} (development)"
    label = f"{quote(issuer, safe='')}:{quote(account, safe='@')}"
    query = f"algorithm=SHA1&digits=6&issuer={quote_plus(issuer)}&period=30&secret={secret}"
    return f"otpauth://totp/{label}?{query}"
