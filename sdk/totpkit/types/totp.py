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

    def qr_svg(self, *, scale: int = 4, border: int = 4) -> str:
        """The otpauth URI as an inline ``<svg>`` QR code (see :func:`totpkit.qr.qr_svg`; extra ``qr``).

        Raises:
            ValueError: If this answer carries no URI (only the create answer does).
            MissingDependencyError: Without the ``qr`` extra.
        """
        from ..qr import qr_svg

        return qr_svg(self._enrolment_uri(), scale=scale, border=border, title="Scan with your authenticator app")

    def qr_terminal(self, *, border: int = 2) -> str:
        """The otpauth URI as a QR code in block characters for a terminal (see :func:`totpkit.qr.qr_terminal`).

        Raises:
            ValueError: If this answer carries no URI (only the create answer does).
            MissingDependencyError: Without the ``qr`` extra.
        """
        from ..qr import qr_terminal

        return qr_terminal(self._enrolment_uri(), border=border)

    def _enrolment_uri(self) -> str:
        if not self.uri:
            raise ValueError("this TOTP carries no otpauth URI: only the answer to create_totp() has one")
        return self.uri


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
