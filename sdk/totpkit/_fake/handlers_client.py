"""Handlers of ``/v1/environment``, ``/v1/dev_browser``, the JWKS, ``/v1/client`` and its sessions."""

from __future__ import annotations

from ..types import JWKS, ClientWrapped, Token
from . import errors
from ._rsa import public_jwk
from .context import Call, effective_method
from .state import ClientRecord, SessionRecord
from .views import client_view, session_jwt, session_view, wrapped

__all__ = (
    "client_create",
    "client_delete",
    "client_get",
    "dev_browser_create",
    "environment",
    "jwks",
    "pick_last_active",
    "session_end",
    "session_get",
    "session_remove",
    "session_tokens",
    "session_touch",
    "sessions_delete",
)


def environment(call: Call) -> object:
    effective_method(call.request, ("GET", "PATCH"))
    return call.state.environment


def dev_browser_create(call: Call) -> object:
    token = call.state.new_id("dvb_")
    call.state.dev_browsers[token] = None
    return {"object": "dev_browser", "id": token}


def jwks(call: Call) -> object:
    return JWKS(keys=[public_jwk()])


def client_get(call: Call) -> object:
    view = client_view(call, call.client)
    return ClientWrapped(response=view, client=view)


def client_create(call: Call) -> object:
    """``PUT`` (or ``POST``) makes a client; ``POST ?_method=`` other than PUT/DELETE is 405."""
    if effective_method(call.request, ("POST", "PUT", "DELETE")) == "DELETE":
        return client_delete(call)
    call.ensure_client()
    return client_get(call)


def client_delete(call: Call) -> object:
    """Sign out: end every session of the client and drop its sign-in in progress."""
    client = call.client
    if client is not None:
        now = call.state.now_ms()
        for session in client.sessions:
            if session.status == "active":
                session.status, session.updated_at = "ended", now
        client.sign_in_id, client.last_active_session_id, client.updated_at = None, None, now
    return client_get(call)


def _session(call: Call, session_id: str) -> tuple[SessionRecord, ClientRecord]:
    """The client's own session; 404 for unknown or foreign ids."""
    client = call.client
    session = client.session(session_id) if client is not None else None
    if client is None or session is None:
        raise errors.resource_not_found(f"No session was found with id {session_id[:64]}")
    return session, client


def _live_session(call: Call, session_id: str) -> tuple[SessionRecord, ClientRecord]:
    """The client's own session if still active; 404 unknown, 401 ended or expired."""
    session, client = _session(call, session_id)
    if not call.state.is_live(session):
        raise errors.authentication_invalid()
    return session, client


def session_get(call: Call, session_id: str) -> object:
    session, _ = _session(call, session_id)
    return wrapped(call, session_view(call, session))


def session_touch(call: Call, session_id: str) -> object:
    """Make the session the client's active one and refresh ``last_active_at``."""
    call.params()
    session, client = _live_session(call, session_id)
    now = call.state.now_ms()
    session.last_active_at = session.updated_at = client.updated_at = now
    client.last_active_session_id = session.id
    return wrapped(call, session_view(call, session))


def session_end(call: Call, session_id: str) -> object:
    """Sign one session out (status ``ended``)."""
    return _end_session(call, session_id, "ended")


def session_remove(call: Call, session_id: str) -> object:
    """Remove one session from the client (status ``removed``)."""
    return _end_session(call, session_id, "removed")


def sessions_delete(call: Call) -> object:
    """``DELETE /v1/client/sessions``: sign out of every session, keep the client."""
    effective_method(call.request, ("DELETE",))
    return client_delete(call)


def _end_session(call: Call, session_id: str, status: str) -> object:
    call.params()
    session, client = _session(call, session_id)
    now = call.state.now_ms()
    if session.status == "active":
        session.status, session.updated_at = status, now
    if client.last_active_session_id == session.id:
        pick_last_active(client)
    client.updated_at = now
    return wrapped(call, session_view(call, session))


def pick_last_active(client: ClientRecord) -> None:
    remaining = [s.id for s in client.sessions if s.status == "active"]
    client.last_active_session_id = remaining[-1] if remaining else None


def session_tokens(call: Call, session_id: str) -> object:
    """A fresh session JWT (a JWT template name in the path is ignored)."""
    call.params()
    session, _ = _live_session(call, session_id)
    return Token(jwt=session_jwt(call, session))
