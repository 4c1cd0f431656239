"""TOTP enrolment, backup codes and second-factor checks: the security-critical paths.

Every acceptance of a code goes through an atomic compare-and-set in the store (a TOTP time step
above ``last_used_step``, a backup code with ``used_at`` still null), so a code works once even
when requests race. Failed checks count towards the user's lockout; a success resets the count.
"""

from __future__ import annotations

import logging
import math

from totpkit.types import TOTP, BackupCodes, DeletedObject, SignInFactor

from ..core import errors
from ..core.audit import AuditEvent, AuditOutcome
from ..core.backup_codes import (
    backup_code_matches,
    digest_backup_code,
    digests_worth_checking,
    generate_backup_codes,
    is_bcrypt_digest,
)
from ..core.otp import find_matching_step, generate_secret, otpauth_uri
from ..core.sealing import SealingError
from ..key_rotation import reseal_if_stale
from ..storage.records import BackupCodeRecord, TOTPRecord, UserRecord
from .instance import Instance

__all__ = ("MFAService", "MFAState")

logger = logging.getLogger("totpkit.mfa")

MAX_CODE_LENGTH = 64
"""Codes longer than this are rejected without any hashing (bounded CPU per attempt)."""

LOCKOUT_WARNING_ATTEMPTS = 2
"""A wrong code that leaves this many attempts or fewer (but not none) is answered with a warning."""


class MFAState:
    """What a user has set up as second factors."""

    __slots__ = ("has_backup_codes", "has_totp")

    def __init__(self, *, has_totp: bool, has_backup_codes: bool) -> None:
        self.has_totp = has_totp
        self.has_backup_codes = has_backup_codes

    def second_factors(self) -> list[SignInFactor]:
        """The ``supported_second_factors`` of a sign-in for this user."""
        factors = [SignInFactor(strategy="totp")] if self.has_totp else []
        if self.has_backup_codes:
            factors.append(SignInFactor(strategy="backup_code"))
        return factors


class MFAService:
    """TOTP and backup-code operations for one instance."""

    __slots__ = ("instance",)

    def __init__(self, instance: Instance) -> None:
        self.instance = instance

    async def state(self, user_id: str) -> MFAState:
        """Read the user's TOTP and backup-code state."""
        store = self.instance.store
        totp = await store.get_totp(user_id)
        codes = await store.list_unused_backup_codes(user_id)
        return MFAState(has_totp=totp is not None and totp.verified, has_backup_codes=bool(codes))

    # --- lockout --------------------------------------------------------------------------------

    def ensure_not_locked(self, user: UserRecord) -> None:
        """Raise ``user_locked`` (with the seconds left) while the user's lockout or Backend API lock lasts."""
        now = self.instance.now_ms()
        if user.locked_until is not None and user.locked_until > now:
            raise errors.user_locked(math.ceil((user.locked_until - now) / 1000))

    async def register_failure(self, user: UserRecord, *, warn: bool = False) -> None:
        """Count a failed verification; raises 403 ``user_locked`` if this one locked the user.

        With ``warn`` (the Frontend API's code forms), a failure that leaves only 1 or
        :data:`LOCKOUT_WARNING_ATTEMPTS` attempts raises 422 ``account_lockout_warning`` instead of
        returning. Otherwise it returns and the caller raises its own wrong-code error.
        """
        config = self.instance.config
        updated = await self.instance.store.register_verification_failure(
            user.id,
            at=self.instance.now_ms(),
            max_attempts=config.lockout_max_attempts,
            lockout_ms=self.instance.lockout_ms,
        )
        if updated is not None:
            if 0 < config.lockout_max_attempts == updated.failed_attempts:  # exactly the failure that locked
                await self.instance.audit(
                    AuditEvent.USER_LOCKED,
                    user_id=user.id,
                    detail={"reason": "failed_verifications", "failed_attempts": updated.failed_attempts},
                )
            self.ensure_not_locked(updated)
            remaining = config.lockout_max_attempts - updated.failed_attempts
            if warn and config.lockout_max_attempts > 0 and 0 < remaining <= LOCKOUT_WARNING_ATTEMPTS:
                raise errors.account_lockout_warning(remaining)

    async def refuse_if_locked(self, user: UserRecord, event: AuditEvent, **detail: str) -> None:
        """:meth:`ensure_not_locked`, recording ``event`` with outcome ``denied`` before refusing."""
        try:
            self.ensure_not_locked(user)
        except errors.ClerkAPIException:
            await self.instance.audit(event, AuditOutcome.DENIED, user_id=user.id, detail=detail)
            raise

    # --- TOTP -----------------------------------------------------------------------------------

    def _seal(self, secret: str, user_id: str) -> str:
        keys = self.instance.keys
        return keys.key_ring.seal(
            secret.encode("ascii"), context=user_id.encode(), random_bytes=self.instance.random_bytes
        )

    def _unseal(self, totp: TOTPRecord) -> str:
        try:
            return self.instance.keys.key_ring.unseal(totp.sealed_secret, context=totp.user_id.encode()).decode("ascii")
        except (SealingError, UnicodeDecodeError):
            logger.error("sealed TOTP secret of user %s cannot be opened (tampered or key missing)", totp.user_id)
            raise errors.internal_error() from None

    def _match(self, secret: str, code: str) -> int | None:
        config = self.instance.config
        if len(code) > MAX_CODE_LENGTH:
            return None
        return find_matching_step(
            secret,
            code,
            at=self.instance.now(),
            period=config.totp_period,
            digits=config.totp_digits,
            algorithm=config.totp_algorithm,
            window=config.totp_window,
        )

    async def create_totp(self, user: UserRecord) -> TOTP:
        """Start enrolment: a new secret, returned once with its otpauth URI.

        Replaces a pending (unverified) TOTP; 400 ``totp_already_enabled`` if one is verified.
        """
        instance, config = self.instance, self.instance.config
        now = instance.now_ms()
        secret = generate_secret(instance.random_bytes)
        record = TOTPRecord(
            id=instance.new_id("totp"),
            user_id=user.id,
            sealed_secret=self._seal(secret, user.id),
            verified=False,
            created_at=now,
            updated_at=now,
        )
        if not await instance.store.replace_pending_totp(record):
            raise errors.totp_already_enabled()
        await instance.audit(AuditEvent.TOTP_ENROLMENT_STARTED, user_id=user.id, detail={"totp_id": record.id})
        uri = otpauth_uri(
            secret,
            issuer=config.totp_issuer,
            account=user.email,
            digits=config.totp_digits,
            period=config.totp_period,
            algorithm=config.totp_algorithm,
        )
        return TOTP(id=record.id, secret=secret, uri=uri, verified=False, created_at=now, updated_at=now)

    async def verify_totp(self, user: UserRecord, code: str) -> TOTP:
        """Finish enrolment with a code from the app; the first verification also issues backup codes.

        Errors: 404 no pending TOTP, 400 already verified, 403 locked, 422 wrong or replayed code.
        """
        instance = self.instance
        totp = await instance.store.get_totp(user.id)
        if totp is None:
            raise errors.resource_not_found("No TOTP was found for this user. Create one first.")
        if totp.verified:
            raise errors.totp_already_enabled()
        await self.refuse_if_locked(user, AuditEvent.VERIFICATION_FAILED, factor="totp", purpose="enrolment")
        step = self._match(self._unseal(totp), code)
        if step is None:
            await self._audit_failed_code(user, "totp", "enrolment")
            await self.register_failure(user, warn=True)
            raise errors.form_code_incorrect()
        codes = await self._first_backup_codes(user.id)
        now = instance.now_ms()
        records = self._code_records(user.id, codes, now) if codes else None
        if not await instance.store.complete_totp_enrolment(
            user_id=user.id, totp_id=totp.id, step=step, at=now, backup_codes=records
        ):
            await self._audit_failed_code(user, "totp", "enrolment")
            raise errors.form_code_incorrect()
        await instance.audit(AuditEvent.TOTP_ENROLLED, user_id=user.id, detail={"totp_id": totp.id})
        if codes:
            await self._audit_codes_generated(user, len(codes), "enrolment")
        return TOTP(
            id=totp.id,
            secret=None,
            uri=None,
            verified=True,
            backup_codes=codes,
            created_at=totp.created_at,
            updated_at=now,
        )

    async def disable_totp(self, user: UserRecord) -> DeletedObject:
        """Remove the user's TOTP (and, with it gone, their backup codes). 404 if there is none."""
        deleted = await self.instance.store.disable_totp(user.id, self.instance.now_ms())
        if deleted is None:
            raise errors.resource_not_found("No TOTP was found for this user.")
        await self.instance.audit(
            AuditEvent.TOTP_DISABLED, user_id=user.id, detail={"totp_id": deleted.id, "was_verified": deleted.verified}
        )
        return DeletedObject(object="totp", id=deleted.id, deleted=True)

    # --- backup codes ---------------------------------------------------------------------------

    async def _first_backup_codes(self, user_id: str) -> list[str] | None:
        if not self.instance.config.backup_codes_enabled:
            return None
        if await self.instance.store.list_unused_backup_codes(user_id):
            return None
        return self._generate_codes()

    def _generate_codes(self) -> list[str]:
        return generate_backup_codes(self.instance.random_bytes, count=self.instance.config.backup_code_count)

    def _code_records(
        self, user_id: str, codes: list[str], now: int, set_id: str | None = None
    ) -> list[BackupCodeRecord]:
        key_ring, set_id = self.instance.keys.key_ring, set_id or self.instance.new_id("bcode")
        return [
            BackupCodeRecord(
                id=f"{set_id}_{index}",
                user_id=user_id,
                set_id=set_id,
                digest=digest_backup_code(key_ring, code, user_id=user_id),
                created_at=now,
            )
            for index, code in enumerate(codes)
        ]

    async def create_backup_codes(self, user: UserRecord) -> BackupCodes:
        """Replace the user's backup codes with a new set; 400 without a verified TOTP."""
        instance = self.instance
        totp = await instance.store.get_totp(user.id)
        if totp is None or not totp.verified or not instance.config.backup_codes_enabled:
            raise errors.backup_codes_not_available()
        now = instance.now_ms()
        set_id = instance.new_id("bcode")
        codes = self._generate_codes()
        await instance.store.replace_backup_codes(user.id, self._code_records(user.id, codes, now, set_id))
        await self._audit_codes_generated(user, len(codes), "regenerated")
        return BackupCodes(id=set_id, codes=codes, created_at=now, updated_at=now)

    async def _audit_codes_generated(self, user: UserRecord, count: int, reason: str) -> None:
        await self.instance.audit(
            AuditEvent.BACKUP_CODES_GENERATED, user_id=user.id, detail={"count": count, "reason": reason}
        )

    # --- second factor --------------------------------------------------------------------------

    async def check_second_factor(
        self, user: UserRecord, strategy: str, code: str, *, purpose: str = "sign_in"
    ) -> bool:
        """Whether ``code`` is a valid, unused ``totp`` or ``backup_code`` of the user; consumes it if so.

        Does not count failures; the caller decides (sign-in, reverification, BAPI). A consumed code
        resets the user's failed verifications in the store's consuming transaction, so failures of
        concurrent requests that lost the race to it are never erased by a later reset. Audited either
        way, with ``purpose`` (``sign_in``, ``reverification``, ``backend_api``): ``totp.verified`` or
        ``backup_code.used`` on success, ``verification.failed`` otherwise.
        """
        if strategy == "totp":
            accepted = await self._consume_totp(user, code)
            if accepted:
                await self.instance.audit(AuditEvent.TOTP_VERIFIED, user_id=user.id, detail={"purpose": purpose})
        else:
            accepted = await self._consume_backup_code(user, code)
            if accepted:
                remaining = len(await self.instance.store.list_unused_backup_codes(user.id))
                await self.instance.audit(
                    AuditEvent.BACKUP_CODE_USED, user_id=user.id, detail={"purpose": purpose, "remaining": remaining}
                )
        if not accepted:
            await self._audit_failed_code(user, strategy, purpose)
        return accepted

    async def _audit_failed_code(self, user: UserRecord, factor: str, purpose: str) -> None:
        await self.instance.audit(
            AuditEvent.VERIFICATION_FAILED,
            AuditOutcome.FAILURE,
            user_id=user.id,
            detail={"factor": factor, "purpose": purpose},
        )

    async def _consume_totp(self, user: UserRecord, code: str) -> bool:
        totp = await self.instance.store.get_totp(user.id)
        if totp is None or not totp.verified:
            return False
        secret = self._unseal(totp)
        step = self._match(secret, code)
        if step is None or not await self.instance.store.consume_totp_step(user.id, step, self.instance.now_ms()):
            return False
        # after a key rotation: move this secret to the active sealing key (compare-and-set; lazy re-seal)
        await reseal_if_stale(
            self.instance.store, self.instance.keys.key_ring, totp, secret.encode("ascii"), self.instance.random_bytes
        )
        return True

    async def _consume_backup_code(self, user: UserRecord, code: str) -> bool:
        if not code or len(code) > MAX_CODE_LENGTH:
            return False
        records = await self.instance.store.list_unused_backup_codes(user.id)
        checked = digests_worth_checking([record.digest for record in records])  # bounded bcrypt work
        candidates = [record for record, check in zip(records, checked, strict=True) if check]
        if any(is_bcrypt_digest(record.digest) for record in candidates):  # slow: off the event loop
            matched = await self.instance.hashing.run(self._find_backup_code, user.id, code, candidates)
        else:
            matched = self._find_backup_code(user.id, code, candidates)
        if matched is None:
            return False
        return await self.instance.store.consume_backup_code(matched.id, self.instance.now_ms())

    def _find_backup_code(self, user_id: str, code: str, records: list[BackupCodeRecord]) -> BackupCodeRecord | None:
        """The first record ``code`` matches; every record is checked, so the time does not tell which."""
        key_ring = self.instance.keys.key_ring
        matched: BackupCodeRecord | None = None
        for record in records:
            if backup_code_matches(key_ring, code, record.digest, user_id=user_id) and matched is None:
                matched = record
        return matched

    async def import_credentials(
        self, user: UserRecord, *, totp_secret: str | None, backup_codes: list[str] | None
    ) -> None:
        """Import Clerk-style MFA state (BAPI): a base32 TOTP secret and plain or bcrypt backup codes."""
        instance = self.instance
        now = instance.now_ms()
        if totp_secret is not None:
            secret = totp_secret.replace(" ", "").upper()
            record = TOTPRecord(
                id=instance.new_id("totp"),
                user_id=user.id,
                sealed_secret=self._seal(secret, user.id),
                verified=True,
                created_at=now,
                updated_at=now,
            )
            await instance.store.import_totp(record, now)
        if backup_codes is not None:
            set_id = instance.new_id("bcode")
            records = [
                BackupCodeRecord(
                    id=f"{set_id}_{index}",
                    user_id=user.id,
                    set_id=set_id,
                    digest=code
                    if is_bcrypt_digest(code)
                    else digest_backup_code(instance.keys.key_ring, code, user_id=user.id),
                    created_at=now,
                )
                for index, code in enumerate(backup_codes)
            ]
            await instance.store.replace_backup_codes(user.id, records)
        await instance.audit(
            AuditEvent.MFA_IMPORTED,
            user_id=user.id,
            detail={
                "totp": totp_secret is not None,
                "backup_codes": None if backup_codes is None else len(backup_codes),
            },
        )
