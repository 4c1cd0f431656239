"""Handlers of ``/v1/me/sessions``: the signed-in user's sessions on every client, as the server answers."""

from __future__ import annotations

from ..types import ActiveSession, SessionActivity
from . import errors
from .context import Call
from .handlers_client import pick_last_active
from .handlers_me import current_session
from .handlers_session_verify import ensure_recent
from .state import ClientRecord, SessionRecord
from .views import session_view, wrapped

__all__ = ("session_revoke", "sessions_active", "sessions_list")


def _user_sessions(call: Call, user_id: str) -> list[tuple[SessionRecord, ClientRecord]]:
    """The user's sessions on every client with their clients, oldest first."""
    found = [(s, c) for c in call.state.clients.values() for s in c.sessions if s.user_id == user_id]
    return sorted(found, key=lambda pair: (pair[0].created_at, pair[0].id))


def sessions_active(call: Call) -> object:
    """Live sessions only, each without user or token, with a minimal ``latest_activity``."""
    user, _ = current_session(call)
    return [
        ActiveSession(
            id=s.id,
            status=s.status,
            expire_at=s.expire_at,
            abandon_at=s.abandon_at,
            last_active_at=s.last_active_at,
            latest_activity=SessionActivity(id=s.id),
        )
        for s, _ in _user_sessions(call, user.id)
        if call.state.is_live(s)
    ]


def sessions_list(call: Call) -> object:
    """Every session of the user, any status, each with the user and no token."""
    user, _ = current_session(call)
    return [session_view(call, s, with_token=False) for s, _ in _user_sessions(call, user.id)]


def session_revoke(call: Call, session_id: str) -> object:
    """Revoke one of the user's sessions on any client; 404 for another user's or an unknown id."""
    call.params()
    user, session = current_session(call)
    ensure_recent(call.state, user, session)
    target = next(((s, c) for s, c in _user_sessions(call, user.id) if s.id == session_id), None)
    if target is None:
        raise errors.resource_not_found(f"No session was found with id {session_id[:64]}")
    revoked, client = target
    now = call.state.now_ms()
    if revoked.status == "active":
        revoked.status, revoked.updated_at = "revoked", now
    if client.last_active_session_id == revoked.id:
        pick_last_active(client)
    client.updated_at = now
    return wrapped(call, session_view(call, revoked, with_token=False))
