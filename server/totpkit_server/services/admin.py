"""Backend API operations on one user's MFA and lock state (``/v1/users/{id}/...``).

Codes are checked by :class:`MFAService` (an atomic compare-and-set: a TOTP time step is accepted
once, a backup code is consumed once). A wrong code counts towards the same per-user lockout as a
wrong code at sign-in, and a locked user is refused (403 ``user_locked``) before any code is
checked, so the Backend API is no way around the lockout. A lock set here is a lockout of
``lockout_duration`` seconds, as Clerk's is: it ends by itself, or when
:meth:`UserAdminService.unlock` lifts it.
"""

from __future__ import annotations

from totpkit.types import TOTPVerification

from ..core import errors
from ..core.audit import AuditDetail, AuditEvent
from ..storage.records import TOTPRecord, UserRecord
from .instance import Instance
from .mfa import MFAService, MFAState
from .users import UserService

__all__ = ("UserAdminService",)

_PURPOSE = "backend_api"
"""How these operations are told apart in the audit log (detail ``purpose`` / ``reason``)."""


class UserAdminService:
    """What the Backend API may do to a user's second factors and locks; unknown users are 404."""

    __slots__ = ("instance", "mfa", "users")

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.mfa = MFAService(instance)
        self.users = UserService(instance)

    async def verify_code(self, user_id: str, code: str) -> TOTPVerification:
        """Check a TOTP code or a backup code of the user; a backup code is consumed.

        ``code_type`` tells which it was: exactly ``totp_digits`` ASCII digits are a TOTP code,
        anything else a backup code. Errors, in this order: 404 unknown user; 400
        ``totp_disabled`` without a verified TOTP; 403 ``user_locked``; 422
        ``totp_invalid_length`` for a code that can be neither (not a TOTP code's length, and the
        user has no unused backup codes; not counted as a failure, it could never succeed);
        422 ``totp_incorrect_code`` for a wrong, replayed or used code, counted towards the
        lockout (the attempt that reaches the limit answers 403 ``user_locked``). A success
        resets the failure count. Each checked code, and each refusal of a locked user, is audited
        with purpose ``backend_api``.
        """
        user = await self.users.get_user(user_id)
        state = await self.mfa.state(user.id)
        if not state.has_totp:
            raise errors.totp_disabled()
        await self.mfa.refuse_if_locked(user, AuditEvent.VERIFICATION_FAILED, purpose=_PURPOSE)
        code_type = self._code_type(code, state)
        if not await self.mfa.check_second_factor(user, code_type, code, purpose=_PURPOSE):
            await self.mfa.register_failure(user)
            raise errors.totp_incorrect_code()
        # consuming the code reset the failures (see Store.consume_totp_step)
        return TOTPVerification(verified=True, code_type=code_type)

    def _code_type(self, code: str, state: MFAState) -> str:
        typed = code.strip()
        digits = self.instance.config.totp_digits
        if len(typed) == digits and typed.isascii() and typed.isdigit():
            return "totp"
        if state.has_backup_codes:
            return "backup_code"
        if len(typed) != digits:
            raise errors.totp_invalid_length(digits)
        return "totp"  # the right length but not digits: checked, and refused, as a TOTP code

    async def delete_totp(self, user_id: str) -> str:
        """Remove the user's TOTP like ``DELETE /v1/me/totp`` (backup codes go with a verified one).

        Idempotent: a user without a TOTP is left as is (also when a concurrent request removed
        it first). Returns the user id.
        """
        user = await self.users.get_user(user_id)
        deleted = await self.instance.store.disable_totp(user.id, self.instance.now_ms())
        await self._audit_totp_deleted(user.id, deleted)
        return user.id

    async def delete_backup_codes(self, user_id: str) -> str:
        """Remove all of the user's backup codes; the TOTP stays. Idempotent; returns the user id."""
        user = await self.users.get_user(user_id)
        deleted = await self.instance.store.delete_backup_codes(user.id, self.instance.now_ms())
        await self._audit_codes_deleted(user.id, deleted)
        return user.id

    async def disable_mfa(self, user_id: str) -> str:
        """Remove the TOTP (verified or pending) and every backup code at once. Idempotent.

        ``mfa_disabled_at`` is set when a verified TOTP goes (``mfa_enabled_at`` is kept, as Clerk
        does). Returns the user id.
        """
        user = await self.users.get_user(user_id)
        totp, codes = await self.instance.store.disable_mfa(user.id, self.instance.now_ms())
        await self._audit_totp_deleted(user.id, totp)
        await self._audit_codes_deleted(user.id, codes)
        return user.id

    async def lock(self, user_id: str) -> UserRecord:
        """Lock the user for ``lockout_duration`` seconds, like a lockout from failed verifications.

        Until it ends (or :meth:`unlock`), sign-in attempts and code checks answer 403
        ``user_locked`` with the time left, and the User shows ``locked: true``, the
        ``lockout_expires_in_seconds`` left and ``verification_attempts_remaining: 0``. A lockout
        that ends later is kept as it is (never shortened); locking again otherwise restarts the
        duration. The failure count is reset (a fresh set of attempts follows the lock anyway).
        Sessions the user already has stay valid.
        """
        user = await self.instance.store.lock_user(
            user_id, at=self.instance.now_ms(), lockout_ms=self.instance.lockout_ms
        )
        if user is None:
            raise _no_user(user_id)
        await self.instance.audit(AuditEvent.USER_LOCKED, user_id=user.id, detail={"reason": _PURPOSE})
        return user

    async def unlock(self, user_id: str) -> UserRecord:
        """Lift the lock set by :meth:`lock` or a lockout at once, and reset the failure count."""
        user = await self.instance.store.unlock_user(user_id, self.instance.now_ms())
        if user is None:
            raise _no_user(user_id)
        await self.instance.audit(AuditEvent.USER_UNLOCKED, user_id=user.id, detail={"reason": _PURPOSE})
        return user

    async def _audit_totp_deleted(self, user_id: str, totp: TOTPRecord | None) -> None:
        if totp is not None:
            detail: AuditDetail = {"totp_id": totp.id, "was_verified": totp.verified, "reason": _PURPOSE}
            await self.instance.audit(AuditEvent.TOTP_DISABLED, user_id=user_id, detail=detail)

    async def _audit_codes_deleted(self, user_id: str, count: int) -> None:
        if count:
            detail: AuditDetail = {"count": count, "reason": _PURPOSE}
            await self.instance.audit(AuditEvent.BACKUP_CODES_DELETED, user_id=user_id, detail=detail)


def _no_user(user_id: str) -> errors.ClerkAPIException:
    return errors.resource_not_found(f"No user was found with id {user_id[:64]}")
