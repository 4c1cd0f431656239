"""The sign-in attempt resource (``/v1/client/sign_ins``)."""

from __future__ import annotations

import msgspec

from ._base import ClerkStruct
from .user import Verification

__all__ = ("SignIn", "SignInFactor", "SignInStatus", "SignInUserData")

SignInStatus = str
"""``needs_identifier``, ``needs_first_factor``, ``needs_second_factor``, ``complete``, ``abandoned``..."""


class SignInFactor(ClerkStruct, kw_only=True):
    """A factor the user can present: ``{"strategy": "totp"}``; extra keys are left out when unset."""

    strategy: str
    safe_identifier: str | msgspec.UnsetType = msgspec.UNSET
    email_address_id: str | msgspec.UnsetType = msgspec.UNSET
    primary: bool | msgspec.UnsetType | None = msgspec.UNSET
    default: bool | msgspec.UnsetType = msgspec.UNSET


class SignInUserData(ClerkStruct, kw_only=True):
    """The user's display data once the identifier is known."""

    first_name: str | None
    last_name: str | None
    image_url: str = ""
    has_image: bool = False


class SignIn(ClerkStruct, tag_field="object", tag="sign_in_attempt", kw_only=True):
    """A sign-in attempt.

    After the password, a user with MFA is in ``needs_second_factor``; ``supported_second_factors``
    lists ``totp`` and ``backup_code`` as the user has them. When ``status`` is ``complete``,
    ``created_session_id`` names the new session.
    """

    id: str
    status: SignInStatus
    supported_identifiers: list[str] = msgspec.field(default_factory=lambda: ["email_address"])
    supported_first_factors: list[SignInFactor] | None = None
    supported_second_factors: list[SignInFactor] | None = None
    first_factor_verification: Verification | None = None
    second_factor_verification: Verification | None = None
    identifier: str | None = None
    user_data: SignInUserData | None = None
    created_session_id: str | None = None
    abandon_at: int
