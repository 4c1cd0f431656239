"""The session reverification (step-up) resource: ``POST /v1/client/sessions/{id}/verify[/...]``."""

from __future__ import annotations

from typing import Literal

from ._base import ClerkStruct
from .session import Session
from .sign_in import SignInFactor
from .user import Verification

__all__ = ("SessionVerification", "SessionVerificationLevel", "SessionVerificationStatus")

SessionVerificationLevel = Literal["first_factor", "second_factor", "multi_factor"]
"""What a reverification asks for: the password, a second factor, or both (in that order)."""

SessionVerificationStatus = str
"""``needs_first_factor``, ``needs_second_factor`` or ``complete``."""


class SessionVerification(ClerkStruct, tag_field="object", tag="session_reverification", kw_only=True):
    """A reverification of a signed-in session (Clerk's ``SessionReverification``).

    ``level`` is the level being verified: a requested ``second_factor`` or ``multi_factor`` becomes
    ``first_factor`` for a user without a second factor. ``status`` says what is still needed; once
    ``complete``, ``session.factor_verification_age`` (and new session tokens' ``fva``) show the
    fresh verification. The verification stubs stay ``null`` until the factor is attempted.
    """

    level: str
    status: SessionVerificationStatus
    supported_first_factors: list[SignInFactor] | None
    supported_second_factors: list[SignInFactor] | None
    first_factor_verification: Verification | None
    second_factor_verification: Verification | None
    session: Session
