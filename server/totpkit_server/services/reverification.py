"""Session reverification (step-up): fresh proof of a factor before a session may change MFA.

A reverification belongs to one live session of the caller's own client (another client's session
answers 404 like an unknown one). ``start`` picks the effective level: ``second_factor`` and
``multi_factor`` fall back to ``first_factor`` for a user without a verified TOTP (Clerk's rule).
Each successful factor stamps the session's ``first_factor_at`` / ``second_factor_at``, so its
``factor_verification_age`` and every session token minted afterwards (``fva``) show it.

Codes go through :meth:`MFAService.check_second_factor` (the atomic compare-and-set: a TOTP step
or a backup code is accepted once, whether by a sign-in or a reverification). Wrong codes and wrong
passwords are 422 and count towards the user's lockout; a locked user gets 403 ``user_locked``, at the
start of a reverification and at every attempt.
A successful second factor resets the failure count; a correct password resets it only for a user
without a second factor (otherwise the password would reset the count that protects the TOTP).

The gate (:meth:`ReverificationService.ensure_recent`) runs before MFA changes when reverification
is on (``TOTPKitConfig.step_up_max_age``: ``reverification_max_age``, by default 10 minutes in
production): a user with a verified TOTP needs a second factor
verified by this session within that many minutes, a user without one (first enrolment) a password.
"""

from __future__ import annotations

from totpkit.types import SessionVerification, SignInFactor, Verification

from ..core import errors
from ..core.audit import AuditEvent, AuditOutcome
from ..storage.records import ClientRecord, SessionRecord, SessionVerificationRecord, UserRecord
from .auth import AuthService
from .instance import Instance
from .mfa import MFAService
from .render import Renderer

__all__ = ("LEVELS", "ReverificationService", "render_verification")

LEVELS = ("first_factor", "second_factor", "multi_factor")
"""The levels ``POST /v1/client/sessions/{id}/verify`` accepts."""

"""The second factors a reverification accepts."""

_MINUTE_MS = 60_000
_PURPOSE = "reverification"


class ReverificationService:
    """Start and answer reverifications, and gate MFA changes on a recent one."""

    __slots__ = ("auth", "instance", "mfa")

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.auth = AuthService(instance)
        self.mfa = self.auth.mfa

    # --- the gate -------------------------------------------------------------------------------

    async def ensure_recent(self, user: UserRecord, session: SessionRecord) -> None:
        """403 ``session_reverification_required`` unless ``session`` verified the factor that guards
        the user's MFA within ``config.step_up_max_age`` minutes; nothing when reverification is off.

        The factor is the second factor for a user with a verified TOTP, the password otherwise.
        """
        max_age = self.instance.config.step_up_max_age
        if max_age is None:
            return
        if (await self.mfa.state(user.id)).has_totp:
            level, verified_at = "second_factor", session.second_factor_at
        else:
            level, verified_at = "first_factor", session.first_factor_at
        if verified_at is None or self.instance.now_ms() - verified_at >= max_age * _MINUTE_MS:
            raise errors.session_reverification_required(level, max_age)

    # --- the flow -------------------------------------------------------------------------------

    async def start(self, client: ClientRecord | None, session_id: str, level: str) -> SessionVerificationRecord:
        """Start (or restart) the session's reverification at ``level`` (one of :data:`LEVELS`).

        403 ``user_locked`` while the session's user is locked: a locked user cannot reverify, so
        cannot change MFA, until the lockout ends (the attempts refuse it too).
        """
        session = await self.auth.live_session(client, session_id)
        user = await self.instance.store.get_user(session.user_id)
        if user is None:
            raise errors.authentication_invalid()
        await self.mfa.refuse_if_locked(user, AuditEvent.VERIFICATION_FAILED, level=level, purpose=_PURPOSE)
        has_totp = (await self.mfa.state(session.user_id)).has_totp
        effective = level if has_totp else "first_factor"
        now = self.instance.now_ms()
        verification = SessionVerificationRecord(
            session_id=session.id,
            user_id=session.user_id,
            level=effective,
            status="needs_second_factor" if effective == "second_factor" else "needs_first_factor",
            created_at=now,
            updated_at=now,
        )
        await self.instance.store.save_session_verification(verification)
        return verification

    async def attempt_first_factor(
        self, client: ClientRecord | None, session_id: str, *, password: str
    ) -> SessionVerificationRecord:
        """Check the password of a ``needs_first_factor`` reverification (422 ``form_password_incorrect``)."""
        verification, user = await self._waiting_for(client, session_id, "needs_first_factor", "attempt_first_factor")
        await self.mfa.refuse_if_locked(user, AuditEvent.VERIFICATION_FAILED, factor="password", purpose=_PURPOSE)
        verification.first_factor_strategy = "password"
        verification.first_factor_attempts += 1
        if not await self.instance.verify_password(user.password_hash, password):
            await self._save(verification)
            await self.instance.audit(
                AuditEvent.VERIFICATION_FAILED,
                AuditOutcome.FAILURE,
                user_id=user.id,
                session_id=verification.session_id,
                detail={"factor": "password", "purpose": _PURPOSE},
            )
            await self.mfa.register_failure(user)
            raise errors.form_password_incorrect()
        has_totp = (await self.mfa.state(user.id)).has_totp
        if not has_totp:
            await self.instance.store.reset_verification_failures(user.id)
        verification.first_factor_verified = True
        verification.status = "needs_second_factor" if verification.level == "multi_factor" and has_totp else "complete"
        await self._stamp(verification, "first_factor")
        return verification

    async def attempt_second_factor(
        self, client: ClientRecord | None, session_id: str, *, strategy: str, code: str
    ) -> SessionVerificationRecord:
        """Check a TOTP or backup code of a ``needs_second_factor`` reverification; ``complete`` on success.

        400 ``strategy_for_user_invalid`` for a factor the user lacks; 422 ``form_code_incorrect`` for
        a wrong, replayed or used code.
        """
        verification, user = await self._waiting_for(client, session_id, "needs_second_factor", "attempt_second_factor")
        if strategy not in {factor.strategy for factor in (await self.mfa.state(user.id)).second_factors()}:
            raise errors.strategy_for_user_invalid()
        await self.mfa.refuse_if_locked(user, AuditEvent.VERIFICATION_FAILED, factor=strategy, purpose=_PURPOSE)
        verification.second_factor_strategy = strategy
        verification.second_factor_attempts += 1
        if not await self.mfa.check_second_factor(user, strategy, code, purpose=_PURPOSE):
            await self._save(verification)
            await self.mfa.register_failure(user, warn=True)
            raise errors.form_code_incorrect()
        verification.second_factor_verified = True  # consuming the code reset the failures (see Store)
        verification.status = "complete"
        await self._stamp(verification, "second_factor")
        return verification

    async def _waiting_for(
        self, client: ClientRecord | None, session_id: str, status: str, action: str
    ) -> tuple[SessionVerificationRecord, UserRecord]:
        """The live session's reverification and user; 400 ``client_state_invalid`` unless it is at ``status``."""
        session = await self.auth.live_session(client, session_id)
        verification = await self.instance.store.get_session_verification(session.id)
        if verification is None or verification.status != status:
            raise errors.client_state_invalid(action)
        user = await self.instance.store.get_user(session.user_id)
        if user is None:
            raise errors.authentication_invalid()
        return verification, user

    async def _save(self, verification: SessionVerificationRecord) -> None:
        verification.updated_at = self.instance.now_ms()
        await self.instance.store.save_session_verification(verification)

    async def _stamp(self, verification: SessionVerificationRecord, factor: str) -> None:
        """Record the verified factor on the session (401 if it ended meanwhile), then the verification."""
        if not await self.instance.store.mark_session_factor_verified(
            verification.session_id, factor, self.instance.now_ms()
        ):
            raise errors.authentication_invalid()
        await self._save(verification)
        await self.instance.audit(
            AuditEvent.SESSION_REVERIFIED,
            user_id=verification.user_id,
            session_id=verification.session_id,
            detail={"factor": factor, "level": verification.level, "status": verification.status},
        )


async def render_verification(renderer: Renderer, verification: SessionVerificationRecord) -> SessionVerification:
    """The ``session_reverification`` resource, with the session as it is now."""
    store = renderer.instance.store
    session = await store.get_session(verification.session_id)
    user = await store.get_user(verification.user_id)
    if session is None or user is None:
        raise LookupError(f"reverification of session {verification.session_id} lost its session or user")
    second_factors = (await MFAService(renderer.instance).state(user.id)).second_factors()
    return SessionVerification(
        level=verification.level,
        status=verification.status,
        supported_first_factors=[SignInFactor(strategy="password")] if user.password_hash is not None else None,
        supported_second_factors=second_factors or None,
        first_factor_verification=Verification.of_factor(
            verification.first_factor_strategy,
            verified=verification.first_factor_verified,
            attempts=verification.first_factor_attempts,
        ),
        second_factor_verification=Verification.of_factor(
            verification.second_factor_strategy,
            verified=verification.second_factor_verified,
            attempts=verification.second_factor_attempts,
        ),
        session=await renderer.session(session),
    )
