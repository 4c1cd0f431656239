"""Backend API (BAPI) answers that are not shared with the Frontend API."""

from __future__ import annotations

from ._base import ClerkStruct

__all__ = ("TOTPVerification", "UserIdResponse")


class TOTPVerification(ClerkStruct, kw_only=True):
    """``POST /v1/users/{id}/verify_totp``: whether the code was valid and which kind it was."""

    verified: bool
    code_type: str


class UserIdResponse(ClerkStruct, kw_only=True):
    """``DELETE /v1/users/{id}/totp|backup_code|mfa``: ``{"user_id": ...}``."""

    user_id: str
