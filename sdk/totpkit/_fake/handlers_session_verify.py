"""Session reverification, as the server's ``fapi/session_verify.py`` and ``services/reverification.py``.

``POST /v1/client/sessions/{id}/verify`` (``level``) starts a reverification of one of the caller's
live sessions; ``.../attempt_first_factor`` (password) and ``.../attempt_second_factor`` (TOTP or
backup code) answer it. ``second_factor`` and ``multi_factor`` fall back to ``first_factor`` for a
user without TOTP. Each verified factor stamps the session, so ``fva`` shows it. Wrong codes and
passwords are 422 and count towards the lockout (a locked user gets 403 ``user_locked`` at the start
and at every attempt); a right code resets it, a right password only for a user without TOTP.
:func:`ensure_recent` is the 403 gate of MFA changes.
"""

from __future__ import annotations

from ..types import SessionVerification, SignInFactor, Verification
from ..types.request_body import password_attempt, second_factor_attempt
from . import errors, mfa
from .context import Call
from .handlers_client import _live_session
from .handlers_sign_in import _password_matches
from .state import FakeState, SessionRecord, SessionVerificationRecord, UserRecord
from .views import session_view, wrapped

__all__ = ("ensure_recent", "verify_attempt_first_factor", "verify_attempt_second_factor", "verify_start")

_LEVELS = ("first_factor", "second_factor", "multi_factor")
_MINUTE_MS = 60_000


def ensure_recent(state: FakeState, user: UserRecord, session: SessionRecord) -> None:
    """403 ``session_reverification_required`` unless the session verified the factor guarding the user's
    MFA (second factor with TOTP, else password) within ``reverification_max_age`` minutes."""
    max_age = state.reverification_max_age
    if max_age is None:
        return
    level, verified_at = (
        ("second_factor", session.second_factor_at) if user.totp_enabled else ("first_factor", session.first_factor_at)
    )
    if verified_at is None or state.now_ms() - verified_at >= max_age * _MINUTE_MS:
        raise errors.session_reverification_required(level, max_age)


def verify_start(call: Call, session_id: str) -> object:
    """Start (or restart) the session's reverification at ``level``."""
    level = call.params().required_str("level")
    if level not in _LEVELS:
        raise errors.form_param_value_invalid("level", level)
    session, _ = _live_session(call, session_id)
    user = call.state.users[session.user_id]
    mfa.ensure_not_locked(call.state, user)
    effective = level if user.totp_enabled else "first_factor"
    status = "needs_second_factor" if effective == "second_factor" else "needs_first_factor"
    verification = SessionVerificationRecord(session.id, user.id, effective, status)
    call.state.session_verifications[session.id] = verification
    return _answer(call, verification)


def verify_attempt_first_factor(call: Call, session_id: str) -> object:
    """``strategy=password&password=...`` for a reverification in ``needs_first_factor``."""
    params = call.params()
    password = password_attempt(params)
    verification, session, user = _waiting_for(call, session_id, "needs_first_factor", "attempt_first_factor")
    state = call.state
    mfa.ensure_not_locked(state, user)
    verification.first_factor_strategy = "password"
    verification.first_factor_attempts += 1
    if not _password_matches(user, password):
        mfa.register_failure(state, user)
        raise errors.form_password_incorrect()
    if not user.totp_enabled:
        mfa.reset(user)
    verification.first_factor_verified = True
    needs_code = verification.level == "multi_factor" and user.totp_enabled
    verification.status = "needs_second_factor" if needs_code else "complete"
    session.first_factor_at = session.updated_at = state.now_ms()
    return _answer(call, verification)


def verify_attempt_second_factor(call: Call, session_id: str) -> object:
    """``strategy=totp|backup_code&code=...`` for a reverification in ``needs_second_factor``."""
    params = call.params()
    strategy, code = second_factor_attempt(params)
    verification, session, user = _waiting_for(call, session_id, "needs_second_factor", "attempt_second_factor")
    state = call.state
    if strategy not in user.second_factors():
        raise errors.strategy_for_user_invalid()
    mfa.ensure_not_locked(state, user)
    verification.second_factor_strategy = strategy
    verification.second_factor_attempts += 1
    mfa.check_code_form(state, user, strategy, code)
    verification.second_factor_verified = True
    verification.status = "complete"
    session.second_factor_at = session.updated_at = state.now_ms()
    return _answer(call, verification)


def _waiting_for(
    call: Call, session_id: str, status: str, action: str
) -> tuple[SessionVerificationRecord, SessionRecord, UserRecord]:
    """The live session's reverification; 400 ``client_state_invalid`` unless it is at ``status``."""
    session, _ = _live_session(call, session_id)
    verification = call.state.session_verifications.get(session.id)
    if verification is None or verification.status != status:
        raise errors.client_state_invalid(action)
    return verification, session, call.state.users[session.user_id]


def _answer(call: Call, verification: SessionVerificationRecord) -> object:
    """``{"response": <session_reverification>, "client": ...}`` with the session as it is now."""
    client = call.client
    session = client.session(verification.session_id) if client is not None else None
    if session is None:
        raise errors.resource_not_found(f"No session was found with id {verification.session_id[:64]}")
    user = call.state.users[verification.user_id]
    view = SessionVerification(
        level=verification.level,
        status=verification.status,
        supported_first_factors=[SignInFactor(strategy="password")] if user.password is not None else None,
        supported_second_factors=[SignInFactor(strategy=s) for s in user.second_factors()] or None,
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
        session=session_view(call, session),
    )
    return wrapped(call, view)
