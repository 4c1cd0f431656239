"""Creating, reading and updating users (Backend API and ``totpkit create-user``)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ..core import errors
from ..core.audit import AuditEvent
from ..core.backup_codes import MAX_BCRYPT_COST, MAX_BCRYPT_DIGESTS, bcrypt_cost, is_bcrypt_digest
from ..core.otp import is_valid_import_secret
from ..storage.base import DuplicateError
from ..storage.records import UserRecord
from .instance import Instance
from .mfa import MFAService

__all__ = ("MAX_PASSWORD_LENGTH", "MIN_PASSWORD_LENGTH", "UserService")

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
MAX_IMPORTED_BACKUP_CODES = 50
MAX_BACKUP_CODE_LENGTH = 128
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{1,63}$")


class UserService:
    """User creation with optional MFA import, as Clerk's ``POST /v1/users`` accepts it."""

    __slots__ = ("instance",)

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    async def create_user(
        self,
        *,
        email: str,
        password: str | None,
        first_name: str | None = None,
        last_name: str | None = None,
        totp_secret: str | None = None,
        backup_codes: list[str] | None = None,
    ) -> UserRecord:
        """Validate everything first, then create the user and import MFA state.

        422 errors: malformed email, short/long password, bad ``totp_secret``, bad ``backup_codes``;
        an email that exists already → ``form_identifier_exists``. Nothing is stored on error.
        """
        email = email.strip()
        if not _EMAIL.match(email):
            raise errors.form_param_format_invalid("email_address", "email_address must be a valid email address.")
        if password is not None and len(password) < MIN_PASSWORD_LENGTH:
            raise errors.password_too_short()
        if password is not None and len(password) > MAX_PASSWORD_LENGTH:
            raise errors.form_param_format_invalid("password", "password must be at most 256 characters.")
        if totp_secret is not None and not is_valid_import_secret(totp_secret):
            raise errors.invalid_totp_secret()
        if backup_codes is not None:
            _check_backup_codes(backup_codes)
        for name, value in (("first_name", first_name), ("last_name", last_name)):
            if value is not None and len(value) > 256:
                raise errors.form_param_format_invalid(name, f"{name} must be at most 256 characters.")
        instance = self.instance
        password_hash = await instance.hash_password(password) if password is not None else None
        now = instance.now_ms()
        user = UserRecord(
            id=instance.new_id("user"),
            email=email,
            email_id=instance.new_id("idn"),
            password_hash=password_hash,
            first_name=first_name,
            last_name=last_name,
            created_at=now,
            updated_at=now,
        )
        try:
            await instance.store.create_user(user)
        except DuplicateError:
            raise errors.form_identifier_exists() from None
        await instance.audit(AuditEvent.USER_CREATED, user_id=user.id)
        if totp_secret is not None or backup_codes is not None:
            await MFAService(instance).import_credentials(user, totp_secret=totp_secret, backup_codes=backup_codes)
            user = await instance.store.get_user(user.id) or user
        return user

    async def get_user(self, user_id: str) -> UserRecord:
        """The user, or 404 ``resource_not_found``."""
        user = await self.instance.store.get_user(user_id)
        if user is None:
            raise errors.resource_not_found(f"No user was found with id {user_id[:64]}")
        return user

    async def update_user(
        self,
        user_id: str,
        *,
        names: Mapping[str, str | None],
        totp_secret: str | None = None,
        backup_codes: list[str] | None = None,
    ) -> UserRecord:
        """Change names and import MFA state, as Clerk's ``PATCH /v1/users/{id}`` does.

        ``names`` holds only the fields to change (``first_name``, ``last_name``; ``None`` clears
        one). ``totp_secret`` replaces any TOTP (pending or verified) with a verified one;
        ``backup_codes`` (plain or bcrypt) replace the whole set. Everything is validated first,
        so an error stores nothing: 404 unknown user, 422 ``invalid_totp_secret_code``, 422
        ``form_param_format_invalid`` for bad codes or names longer than 256 characters. With
        nothing to change the user is returned as is.
        """
        user = await self.get_user(user_id)
        for name, value in names.items():
            _check_name(name, value)
        if totp_secret is not None and not is_valid_import_secret(totp_secret):
            raise errors.invalid_totp_secret()
        if backup_codes is not None:
            _check_backup_codes(backup_codes)
        if not names and totp_secret is None and backup_codes is None:
            return user
        user.first_name = names.get("first_name", user.first_name)
        user.last_name = names.get("last_name", user.last_name)
        user.updated_at = self.instance.now_ms()
        await self.instance.store.update_user(user)
        if totp_secret is not None or backup_codes is not None:
            await MFAService(self.instance).import_credentials(user, totp_secret=totp_secret, backup_codes=backup_codes)
        return await self.get_user(user_id)


def _check_name(name: str, value: str | None) -> None:
    if name not in ("first_name", "last_name"):
        raise errors.form_param_unknown(name)
    if value is not None and len(value) > 256:
        raise errors.form_param_format_invalid(name, f"{name} must be at most 256 characters.")


def _check_backup_codes(codes: list[str]) -> None:
    if len(codes) > MAX_IMPORTED_BACKUP_CODES:
        raise errors.form_param_format_invalid("backup_codes", f"at most {MAX_IMPORTED_BACKUP_CODES} backup codes.")
    for code in codes:
        if not code.strip() or len(code) > MAX_BACKUP_CODE_LENGTH:
            raise errors.form_param_format_invalid("backup_codes", "each backup code must be 1-128 characters.")
        if code.startswith("$2") and not is_bcrypt_digest(code):
            raise errors.form_param_format_invalid("backup_codes", "a bcrypt digest is malformed.")
    _check_bcrypt_digests([code for code in codes if is_bcrypt_digest(code)])


def _check_bcrypt_digests(digests: list[str]) -> None:
    """Refuse imports whose bcrypt digests would make every wrong backup code expensive to check."""
    if len(digests) > MAX_BCRYPT_DIGESTS:
        raise errors.form_param_format_invalid("backup_codes", f"at most {MAX_BCRYPT_DIGESTS} bcrypt digests.")
    if any((bcrypt_cost(digest) or 0) > MAX_BCRYPT_COST for digest in digests):
        raise errors.form_param_format_invalid(
            "backup_codes", f"bcrypt digests must have a cost factor of at most {MAX_BCRYPT_COST}."
        )
