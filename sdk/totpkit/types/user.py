"""The User resource (``/v1/me``, BAPI ``/v1/users/{id}``) and the pieces embedded in it."""

from __future__ import annotations

import math
from typing import NamedTuple

import msgspec

from ._base import ClerkStruct, JSONObject

__all__ = ("DEFAULT_IMAGE_URL", "EmailAddress", "LockoutState", "User", "Verification", "lockout_state")

DEFAULT_IMAGE_URL = (
    "data:image/svg+xml;base64,PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIHZpZXdCb3g9IjAgMCA2NC"
    "A2NCI+PHJlY3Qgd2lkdGg9IjY0IiBoZWlnaHQ9IjY0IiBmaWxsPSIjZDRkNGQ4Ii8+PGNpcmNsZSBjeD0iMzIiIGN5PSIyNSIgcj"
    "0iMTEiIGZpbGw9IiNmNGY0ZjUiLz48cGF0aCBkPSJNMTIgNTZjMi0xMSAxMC0xNyAyMC0xN3MxOCA2IDIwIDE3eiIgZmlsbD0iI2"
    "Y0ZjRmNSIvPjwvc3ZnPg=="
)
"""A neutral avatar (inline SVG: no image host) as ``image_url`` of users without a picture; Clerk's
prebuilt UI shows ``image_url`` as the avatar and a broken image for an empty one."""


class Verification(ClerkStruct, kw_only=True):
    """A verification stub: ``verification_password``, ``verification_totp``, ``verification_admin``...

    ``object`` is the discriminator Clerk uses; ``status`` is ``unverified`` or ``verified`` for the
    strategies totpkit issues. Timestamps (``expire_at``) are Unix milliseconds or ``null``.
    """

    object: str
    status: str
    strategy: str
    attempts: int | None
    expire_at: int | None

    @classmethod
    def of_factor(cls, strategy: str | None, *, verified: bool, attempts: int) -> Verification | None:
        """The stub of a sign-in's or reverification's factor: ``None`` before it was attempted, else
        ``verification_<strategy>``, ``verified`` or ``unverified``, with the attempts so far and no expiry.
        """
        if strategy is None:
            return None
        return cls(
            object=f"verification_{strategy}",
            status="verified" if verified else "unverified",
            strategy=strategy,
            attempts=attempts,
            expire_at=None,
        )


class EmailAddress(ClerkStruct, tag_field="object", tag="email_address", kw_only=True):
    """An email identification of a user."""

    id: str
    email_address: str
    reserved: bool = False
    verification: Verification | None
    linked_to: list[JSONObject] = msgspec.field(default_factory=list)
    created_at: int
    updated_at: int

    @classmethod
    def verified_by_admin(cls, *, id: str, email_address: str, created_at: int) -> EmailAddress:
        """An address created verified (BAPI, ``totpkit create-user``): a ``verification_admin`` stub."""
        verification = Verification(
            object="verification_admin", status="verified", strategy="admin", attempts=None, expire_at=None
        )
        return cls(
            id=id, email_address=email_address, verification=verification, created_at=created_at, updated_at=created_at
        )


class User(ClerkStruct, tag_field="object", tag="user", kw_only=True):
    """A user as Clerk's Frontend and Backend APIs show it.

    ``delete_self_enabled`` is false (totpkit has no self-deletion route, so Clerk's UserProfile
    offers no dead "Delete account"); ``image_url`` is :data:`DEFAULT_IMAGE_URL`.

    MFA state: ``totp_enabled`` (a *verified* TOTP exists), ``backup_code_enabled`` (unused backup
    codes exist), ``two_factor_enabled`` (any second factor), ``mfa_enabled_at`` / ``mfa_disabled_at``
    (Unix ms of the last transition; ``mfa_enabled_at`` is kept when MFA is disabled).
    Lockout: ``locked``, ``lockout_expires_in_seconds`` (``null`` unless locked),
    ``verification_attempts_remaining`` (failed second-factor attempts left before a lockout).
    """

    id: str
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    image_url: str = DEFAULT_IMAGE_URL
    has_image: bool = False
    primary_email_address_id: str | None
    primary_phone_number_id: str | None = None
    primary_web3_wallet_id: str | None = None
    password_enabled: bool
    two_factor_enabled: bool
    totp_enabled: bool
    backup_code_enabled: bool
    email_addresses: list[EmailAddress] = msgspec.field(default_factory=list)
    phone_numbers: list[JSONObject] = msgspec.field(default_factory=list)
    web3_wallets: list[JSONObject] = msgspec.field(default_factory=list)
    passkeys: list[JSONObject] = msgspec.field(default_factory=list)
    organization_memberships: list[JSONObject] = msgspec.field(default_factory=list)
    external_accounts: list[JSONObject] = msgspec.field(default_factory=list)
    saml_accounts: list[JSONObject] = msgspec.field(default_factory=list)
    enterprise_accounts: list[JSONObject] = msgspec.field(default_factory=list)
    public_metadata: JSONObject = msgspec.field(default_factory=dict)
    unsafe_metadata: JSONObject = msgspec.field(default_factory=dict)
    external_id: str | None = None
    last_sign_in_at: int | None = None
    banned: bool = False
    locked: bool = False
    lockout_expires_in_seconds: int | None = None
    verification_attempts_remaining: int | None = None
    mfa_enabled_at: int | None = None
    mfa_disabled_at: int | None = None
    delete_self_enabled: bool = False
    create_organization_enabled: bool = False
    last_active_at: int | None = None
    legal_accepted_at: int | None = None
    created_at: int
    updated_at: int


class LockoutState(NamedTuple):
    """The User's lockout fields, as Clerk shows them."""

    locked: bool
    lockout_expires_in_seconds: int | None
    verification_attempts_remaining: int | None


def lockout_state(
    *,
    locked_until: int | None,
    failed_attempts: int,
    max_attempts: int,
    now_ms: int,
) -> LockoutState:
    """Clerk's lockout fields from the stored counters (times in Unix ms; ``max_attempts`` 0: no lockout).

    ``locked_until`` is the end of a lockout from failed verifications or of a Backend API lock
    alike. ``lockout_expires_in_seconds`` is rounded up and ``None`` unless locked;
    ``verification_attempts_remaining`` is ``None`` when lockout is off, ``0`` while locked
    (whatever the count: a Backend API lock resets it), and the full ``max_attempts`` once a
    lockout has ended (the next failure starts a new count).
    """
    locked = locked_until is not None and locked_until > now_ms
    expires_in = math.ceil((locked_until - now_ms) / 1000) if locked and locked_until is not None else None
    ended = locked_until is not None and not locked  # an ended lockout gives a fresh set of attempts
    remaining: int | None
    if max_attempts <= 0:
        remaining = None
    elif locked:
        remaining = 0
    elif ended:
        remaining = max_attempts
    else:
        remaining = max(0, max_attempts - failed_attempts)
    return LockoutState(locked, expires_in, remaining)
