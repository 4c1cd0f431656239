"""Handlers of ``/v1/client/sign_ins``: password first factor, TOTP or backup-code second factor."""

from __future__ import annotations

import hmac

from ..types.request_body import password_attempt, second_factor_attempt
from . import errors, mfa
from .context import Call
from .state import ClientRecord, SignInRecord, UserRecord
from .views import sign_in_view, wrapped

__all__ = ("attempt_first_factor", "attempt_second_factor", "sign_in_create", "sign_in_get")

_SIGN_IN_LIFETIME_MS = 24 * 3600 * 1000


def _password_matches(user: UserRecord | None, password: str) -> bool:
    stored = user.password if user is not None else None
    return stored is not None and hmac.compare_digest(stored.encode(), password.encode())


def sign_in_create(call: Call) -> object:
    """Start a sign-in with ``identifier`` (+ ``password``); makes the client if there is none."""
    params = call.params()
    identifier = params.required_str("identifier")
    strategy = params.optional_str("strategy")
    password = params.optional_str("password") or None
    if strategy not in (None, "", "password"):
        raise errors.form_param_value_invalid("strategy", strategy)
    if strategy == "password" and not password:
        raise errors.form_param_missing("password")
    state = call.state
    user = state.user_by_email(identifier.strip())
    if password is not None and not _password_matches(user, password):
        raise errors.form_identifier_not_found() if user is None else errors.form_password_incorrect()
    if user is None:
        raise errors.form_identifier_not_found()
    mfa.ensure_not_locked(state, user)
    client = call.ensure_client()
    sign_in = SignInRecord(id=state.new_id("sia_"), user_id=user.id, identifier=user.email, created_at=state.now_ms())
    client.sign_ins[sign_in.id] = sign_in
    if password is not None:
        _first_factor_passed(call, client, sign_in, user)
    else:
        client.sign_in_id, client.updated_at = sign_in.id, sign_in.created_at
    return wrapped(call, sign_in_view(state, sign_in))


def _client_sign_in(call: Call, sign_in_id: str) -> tuple[SignInRecord, ClientRecord]:
    """The client's own sign-in; 404 for unknown, foreign or abandoned ids."""
    client = call.client
    sign_in = client.sign_ins.get(sign_in_id) if client is not None else None
    if client is None or sign_in is None or call.state.is_abandoned(sign_in):
        raise errors.resource_not_found(f"No sign in was found with id {sign_in_id[:64]}")
    return sign_in, client


def sign_in_get(call: Call, sign_in_id: str) -> object:
    sign_in, _ = _client_sign_in(call, sign_in_id)
    return wrapped(call, sign_in_view(call.state, sign_in))


def attempt_first_factor(call: Call, sign_in_id: str) -> object:
    """``strategy=password&password=...`` for a ``needs_first_factor`` sign-in."""
    params = call.params()
    password = password_attempt(params)
    sign_in, client = _client_sign_in(call, sign_in_id)
    if sign_in.status != "needs_first_factor":
        raise errors.client_state_invalid("attempt_first_factor")
    user = call.state.users[sign_in.user_id]
    mfa.ensure_not_locked(call.state, user)
    if not _password_matches(user, password):
        sign_in.first_factor_strategy = "password"
        sign_in.first_factor_attempts += 1
        raise errors.form_password_incorrect()
    _first_factor_passed(call, client, sign_in, user)
    return wrapped(call, sign_in_view(call.state, sign_in))


def _first_factor_passed(call: Call, client: ClientRecord, sign_in: SignInRecord, user: UserRecord) -> None:
    sign_in.first_factor_strategy, sign_in.first_factor_verified = "password", True
    sign_in.first_factor_verified_at = call.state.now_ms()
    sign_in.first_factor_attempts += 1
    if user.totp_enabled:
        sign_in.status = "needs_second_factor"
        client.sign_in_id, client.updated_at = sign_in.id, call.state.now_ms()
    else:
        _complete(call, client, sign_in, user, second_factor=False)


def attempt_second_factor(call: Call, sign_in_id: str) -> object:
    """``strategy=totp|backup_code&code=...``: ``complete`` and a new session on success."""
    params = call.params()
    strategy, code = second_factor_attempt(params)
    sign_in, client = _client_sign_in(call, sign_in_id)
    if sign_in.status != "needs_second_factor":
        raise errors.client_state_invalid("attempt_second_factor")
    state = call.state
    user = state.users[sign_in.user_id]
    if strategy not in user.second_factors():
        raise errors.strategy_for_user_invalid()
    mfa.ensure_not_locked(state, user)
    sign_in.second_factor_strategy = strategy
    sign_in.second_factor_attempts += 1
    mfa.check_code_form(state, user, strategy, code)
    sign_in.second_factor_verified = True
    _complete(call, client, sign_in, user, second_factor=True)
    return wrapped(call, sign_in_view(state, sign_in))


def _complete(
    call: Call, client: ClientRecord, sign_in: SignInRecord, user: UserRecord, *, second_factor: bool
) -> None:
    """Finish a sign-in: a new active session on the re-issued client, made its last active one."""
    client = _reissued(call, client, sign_in)
    session = call.state.new_session(
        user, second_factor=second_factor, first_factor_at=sign_in.first_factor_verified_at
    )
    client.sessions.append(session)
    sign_in.status, sign_in.created_session_id = "complete", session.id
    client.sign_in_id, client.last_active_session_id = None, session.id
    client.last_authentication_strategy = "password"
    client.updated_at = user.last_sign_in_at = user.last_active_at = user.updated_at = session.created_at


def _reissued(call: Call, client: ClientRecord, sign_in: SignInRecord) -> ClientRecord:
    """The client the session goes on; a re-issued one takes the old client's sessions and this sign-in."""
    holder = call.reissue_client()
    if holder is not client:
        holder.sessions, client.sessions = client.sessions, []
        holder.sign_ins[sign_in.id] = client.sign_ins.pop(sign_in.id)
        client.sign_in_id = client.last_active_session_id = None
        client.updated_at = call.state.now_ms()
    return holder
