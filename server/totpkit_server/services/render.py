"""Turning storage records into Clerk's wire structs (the ``totpkit.types`` shared with the SDK)."""

from __future__ import annotations

from totpkit.types import (
    ActiveSession,
    Client,
    EmailAddress,
    PublicUserData,
    Session,
    SessionActivity,
    SignIn,
    SignInFactor,
    SignInUserData,
    Token,
    User,
    Verification,
)
from totpkit.types.session import factor_verification_age
from totpkit.types.user import DEFAULT_IMAGE_URL, lockout_state

from ..core.tokens import sign_jwt
from ..storage.records import ClientRecord, SessionRecord, SignInRecord, UserRecord
from .instance import Instance
from .mfa import MFAService

__all__ = ("Renderer",)

_COOKIE_LIFETIME_MS = 365 * 24 * 3600 * 1000
_LIVE_SESSION_STATUSES = ("active", "pending")


class Renderer:
    """Builds wire structs for one request (``origin`` and ``issuer`` go into session tokens)."""

    __slots__ = ("instance", "issuer", "origin")

    def __init__(self, instance: Instance, *, issuer: str, origin: str | None) -> None:
        self.instance = instance
        self.issuer = issuer
        self.origin = origin

    async def user(self, user: UserRecord) -> User:
        """The full User resource."""
        state = await MFAService(self.instance).state(user.id)
        lockout = lockout_state(
            locked_until=user.locked_until,
            failed_attempts=user.failed_attempts,
            max_attempts=self.instance.config.lockout_max_attempts,
            now_ms=self.instance.now_ms(),
        )
        return User(
            id=user.id,
            first_name=user.first_name,
            last_name=user.last_name,
            primary_email_address_id=user.email_id,
            password_enabled=user.password_hash is not None,
            two_factor_enabled=state.has_totp,
            totp_enabled=state.has_totp,
            backup_code_enabled=state.has_backup_codes,
            email_addresses=[
                EmailAddress.verified_by_admin(id=user.email_id, email_address=user.email, created_at=user.created_at)
            ],
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

    @staticmethod
    def public_user_data(user: UserRecord) -> PublicUserData:
        """The public part of a user shown with sessions."""
        return PublicUserData(
            first_name=user.first_name,
            last_name=user.last_name,
            image_url=DEFAULT_IMAGE_URL,
            has_image=False,
            identifier=user.email,
            user_id=user.id,
        )

    def factor_verification_age(self, session: SessionRecord) -> list[int]:
        """``[minutes since first factor, minutes since second factor]``, ``-1`` for never."""
        return factor_verification_age(
            now_ms=self.instance.now_ms(),
            first_factor_at=session.first_factor_at,
            second_factor_at=session.second_factor_at,
        )

    def session_token(self, session: SessionRecord) -> str:
        """Mint an RS256 session JWT with Clerk's claims for ``session``."""
        instance = self.instance
        iat = int(instance.now())
        claims: dict[str, object] = {}
        if self.origin:
            claims["azp"] = self.origin
        claims.update(
            exp=iat + instance.config.session_token_lifetime,
            fva=self.factor_verification_age(session),
            iat=iat,
            iss=self.issuer,
            jti=instance.random_bytes(10).hex(),
            nbf=iat - 10,
            sid=session.id,
            sub=session.user_id,
            v=2,
        )
        return sign_jwt(claims, instance.keys.signing_keys[0])

    async def session(
        self, session: SessionRecord, *, with_token: bool = True, rendered_user: User | None = None
    ) -> Session:
        """The Session resource with its user and a fresh ``last_active_token`` when active.

        ``with_token=False`` leaves ``last_active_token`` null (lists of the user's sessions on other
        devices must not hand out their tokens); ``rendered_user`` saves rendering the same user again.
        """
        user = await self.instance.store.get_user(session.user_id)
        if user is None:
            raise LookupError(f"session {session.id} has no user")
        live = session.status in _LIVE_SESSION_STATUSES
        return Session(
            id=session.id,
            status=session.status,
            expire_at=session.expire_at,
            abandon_at=session.abandon_at,
            last_active_at=session.last_active_at,
            last_active_token=Token(jwt=self.session_token(session)) if live and with_token else None,
            user=rendered_user or await self.user(user),
            public_user_data=self.public_user_data(user),
            factor_verification_age=self.factor_verification_age(session),
            created_at=session.created_at,
            updated_at=session.updated_at,
        )

    @staticmethod
    def active_session(session: SessionRecord) -> ActiveSession:
        """A session as "Active devices" lists it: no user, no token, a minimal ``latest_activity``."""
        return ActiveSession(
            id=session.id,
            status=session.status,
            expire_at=session.expire_at,
            abandon_at=session.abandon_at,
            last_active_at=session.last_active_at,
            latest_activity=SessionActivity(id=session.id),
        )

    async def sign_in(self, sign_in: SignInRecord) -> SignIn:
        """The SignIn resource."""
        user = await self.instance.store.get_user(sign_in.user_id) if sign_in.user_id else None
        second_factors = None
        if user is not None and sign_in.status in ("needs_second_factor", "complete"):
            factors = (await MFAService(self.instance).state(user.id)).second_factors()
            second_factors = factors or None
        return SignIn(
            id=sign_in.id,
            status=sign_in.status,
            supported_identifiers=["email_address"],
            supported_first_factors=[SignInFactor(strategy="password")] if user is not None else [],
            supported_second_factors=second_factors,
            first_factor_verification=Verification.of_factor(
                sign_in.first_factor_strategy,
                verified=sign_in.first_factor_verified,
                attempts=sign_in.first_factor_attempts,
            ),
            second_factor_verification=Verification.of_factor(
                sign_in.second_factor_strategy,
                verified=sign_in.second_factor_verified,
                attempts=sign_in.second_factor_attempts,
            ),
            identifier=sign_in.identifier,
            user_data=SignInUserData(first_name=user.first_name, last_name=user.last_name) if user else None,
            created_session_id=sign_in.created_session_id,
            abandon_at=sign_in.abandon_at,
        )

    async def client(self, client: ClientRecord | None) -> Client | None:
        """The Client resource with its live sessions and the sign-in in progress."""
        if client is None:
            return None
        store = self.instance.store
        sessions = [s for s in await store.list_client_sessions(client.id) if s.status in _LIVE_SESSION_STATUSES]
        sign_in = await store.get_sign_in(client.sign_in_id) if client.sign_in_id else None
        if sign_in is not None and sign_in.abandon_at <= self.instance.now_ms():
            sign_in = None  # abandoned: Clerk drops it from the client
        return Client(
            id=client.id,
            sessions=[await self.session(s) for s in sessions],
            sign_in=await self.sign_in(sign_in) if sign_in is not None else None,
            sign_up=None,
            last_active_session_id=client.last_active_session_id,
            last_authentication_strategy=client.last_authentication_strategy,
            cookie_expires_at=client.created_at + _COOKIE_LIFETIME_MS,
            captcha_bypass=False,
            created_at=client.created_at,
            updated_at=client.updated_at,
        )
