"""TOTP, backup-code and deleted-object resources (``/v1/me/totp``, ``/v1/me/backup_codes``)."""

from __future__ import annotations

import msgspec

from ._base import ClerkStruct

__all__ = ("TOTP", "BackupCodes", "DeletedObject")


class TOTP(ClerkStruct, tag_field="object", tag="totp", kw_only=True):
    """An authenticator-app credential.

    ``secret`` and ``uri`` are set only in the answer to the create call; every later answer carries
    ``null``. ``backup_codes`` is present (non-null) only on the verification answer that generated
    a first set of backup codes.
    """

    id: str
    secret: str | None
    uri: str | None
    verified: bool
    backup_codes: list[str] | None = None
    created_at: int
    updated_at: int


class BackupCodes(ClerkStruct, tag_field="object", tag="backup_code", kw_only=True):
    """A freshly generated set of backup codes, in plaintext, shown exactly once."""

    id: str
    codes: list[str]
    created_at: int
    updated_at: int


class DeletedObject(ClerkStruct, kw_only=True):
    """The answer to a delete: ``{"object": "totp", "id": ..., "deleted": true}``.

    Untagged on purpose: ``object`` names the kind of the deleted thing, so it repeats other tags.
    """

    object: str
    id: str | msgspec.UnsetType = msgspec.UNSET
    deleted: bool
