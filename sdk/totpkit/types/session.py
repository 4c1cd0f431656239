"""Sessions, session tokens and the public part of a user shown with them."""

from __future__ import annotations

import msgspec

from ._base import ClerkStruct, JSONObject
from .user import User

__all__ = (
    "JWK",
    "JWKS",
    "ActiveSession",
    "PublicUserData",
    "Session",
    "SessionActivity",
    "SessionStatus",
    "Token",
    "factor_verification_age",
)

SessionStatus = str
"""``active``, ``ended``, ``revoked``, ``expired``, ``removed``, ``abandoned`` or ``pending``."""


class Token(ClerkStruct, tag_field="object", tag="token", kw_only=True):
    """A session token: an RS256 JWT minted by ``POST /v1/client/sessions/{id}/tokens``."""

    jwt: str


class PublicUserData(ClerkStruct, kw_only=True):
    """What a session shows of its user without the full User."""

    first_name: str | None
    last_name: str | None
    image_url: str | None
    has_image: bool
    identifier: str
    user_id: str | None


class Session(ClerkStruct, tag_field="object", tag="session", kw_only=True):
    """A signed-in session of a client.

    ``factor_verification_age`` is ``[minutes since first factor, minutes since second factor]``,
    ``-1`` for a factor never verified in this session; the session JWT carries it as ``fva``.
    """

    id: str
    status: SessionStatus
    expire_at: int
    abandon_at: int
    last_active_at: int
    last_active_token: Token | None = None
    last_active_organization_id: str | None = None
    actor: JSONObject | None = None
    tasks: list[JSONObject] | None = None
    user: User | None = None
    public_user_data: PublicUserData | None
    factor_verification_age: list[int]
    created_at: int
    updated_at: int


class SessionActivity(ClerkStruct, tag_field="object", tag="session_activity", kw_only=True):
    """What a session's last request looked like (``Client.SessionActivity``).

    totpkit records no device details: only ``id`` (the session's own id: one activity per session)
    and ``is_mobile`` (the keys Clerk requires) are sent, and Clerk's UI shows the device as "Web browser".
    """

    id: str
    is_mobile: bool = False
    device_type: str | msgspec.UnsetType = msgspec.UNSET
    browser_name: str | msgspec.UnsetType = msgspec.UNSET
    browser_version: str | msgspec.UnsetType = msgspec.UNSET
    ip_address: str | msgspec.UnsetType = msgspec.UNSET
    city: str | msgspec.UnsetType = msgspec.UNSET
    country: str | msgspec.UnsetType = msgspec.UNSET


class ActiveSession(ClerkStruct, tag_field="object", tag="session", kw_only=True):
    """One of the user's live sessions on any device (``GET /v1/me/sessions/active``).

    ``Client.ActiveSession``: the session without its user, plus ``latest_activity``; no
    ``last_active_token`` is ever sent here (a token of another device's session must not leak).
    """

    id: str
    status: SessionStatus
    expire_at: int
    abandon_at: int
    last_active_at: int
    last_active_token: Token | None = None
    actor: JSONObject | None = None
    tasks: list[JSONObject] | None = None
    latest_activity: SessionActivity


class JWK(ClerkStruct, kw_only=True):
    """One RSA public key of the JWKS document."""

    use: str
    kty: str
    kid: str
    alg: str
    n: str
    e: str


class JWKS(ClerkStruct, kw_only=True):
    """``GET /.well-known/jwks.json``: the keys that verify session tokens."""

    keys: list[JWK] = msgspec.field(default_factory=list)


def factor_verification_age(*, now_ms: int, first_factor_at: int | None, second_factor_at: int | None) -> list[int]:
    """``[minutes since the first factor, minutes since the second factor]``; ``-1`` for never.

    The ``factor_verification_age`` of a Session and the ``fva`` claim of its tokens.
    """

    def age(at: int | None) -> int:
        return -1 if at is None else max(0, (now_ms - at) // 60_000)

    return [age(first_factor_at), age(second_factor_at)]
