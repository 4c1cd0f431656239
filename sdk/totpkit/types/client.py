"""The Client resource (one browser or device) and the ``{response, client}`` envelope."""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from ._base import ClerkStruct, JSONObject
from .session import Session
from .sign_in import SignIn

__all__ = ("Client", "ClientWrapped")

T = TypeVar("T")


class Client(ClerkStruct, tag_field="object", tag="client", kw_only=True):
    """A client: its sessions and the sign-in in progress, if any.

    ``last_active_session_id`` is the session ``/v1/me`` acts on when ``_clerk_session_id`` is not given.
    """

    id: str
    sessions: list[Session] = msgspec.field(default_factory=list)
    sign_in: SignIn | None = None
    sign_up: JSONObject | None = None
    last_active_session_id: str | None = None
    last_authentication_strategy: str | None = None
    cookie_expires_at: int | None = None
    captcha_bypass: bool = False
    created_at: int
    updated_at: int


class ClientWrapped(msgspec.Struct, Generic[T], kw_only=True):
    """Clerk's ``{"response": ..., "client": ...}`` envelope.

    ``client`` is the caller's whole Client *after* the request (clerk-js rebuilds its state from it);
    ``None`` when the caller has no client, e.g. ``GET /v1/client`` on a fresh device.
    """

    response: T
    client: Client | None
