"""The Store: every persistent operation totpkit needs, as an ABC of async methods.

Backends (``sqlite.py`` now, PostgreSQL later) implement it with their own SQL. Methods that guard
a security invariant are *atomic* compare-and-set operations; their docstrings say what must hold
when two callers race, across processes too. Nothing here is SQLite-specific.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType

from .records import BackupCodeRecord, ClientRecord, SessionRecord, SignInRecord, TOTPRecord, UserRecord

__all__ = ("DuplicateError", "Store")


class DuplicateError(Exception):
    """A unique value (a user's email address) is already taken."""


class Store(ABC):
    """Persistent state of a totpkit instance."""

    __slots__ = ()

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations. Calling it twice is a no-op."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections. Calling it on a closed store is a no-op."""

    @abstractmethod
    async def schema_version(self) -> int:
        """The number of the last migration applied."""

    # --- users -------------------------------------------------------------------------------

    @abstractmethod
    async def create_user(self, user: UserRecord) -> None:
        """Insert ``user``. Raises :class:`DuplicateError` if the email (case-insensitive) exists."""

    @abstractmethod
    async def get_user(self, user_id: str) -> UserRecord | None:
        """The user, or ``None`` if there is none with this id."""

    @abstractmethod
    async def get_user_by_email(self, email: str) -> UserRecord | None:
        """The user whose email matches case-insensitively, or ``None``."""

    @abstractmethod
    async def update_user(self, user: UserRecord) -> None:
        """Overwrite the profile fields and timestamps of an existing user. No-op if absent.

        The lockout counters (``failed_attempts``, ``locked_until``) are *not* written: only
        :meth:`register_verification_failure` and :meth:`reset_verification_failures` change them.
        """

    @abstractmethod
    async def register_verification_failure(
        self, user_id: str, *, at: int, max_attempts: int, lockout_ms: int
    ) -> UserRecord | None:
        """Atomically count one failed verification; lock the user until ``at + lockout_ms`` on reaching
        ``max_attempts`` (``0`` disables locking). Returns the updated user, or ``None`` if unknown.
        """

    @abstractmethod
    async def reset_verification_failures(self, user_id: str) -> None:
        """Clear the failed-verification counter and any lock (after a successful verification)."""

    # --- TOTP -----------------------------------------------------------------------------------

    @abstractmethod
    async def get_totp(self, user_id: str) -> TOTPRecord | None:
        """The user's TOTP (verified or pending), or ``None``."""

    @abstractmethod
    async def replace_pending_totp(self, totp: TOTPRecord) -> bool:
        """Store an unverified TOTP for ``totp.user_id``, replacing an unverified one.

        Atomic: returns ``False`` and changes nothing if the user has a verified TOTP (also when a
        concurrent enrolment verified one in between).
        """

    @abstractmethod
    async def complete_totp_enrolment(
        self,
        *,
        user_id: str,
        totp_id: str,
        step: int,
        at: int,
        backup_codes: list[BackupCodeRecord] | None,
    ) -> bool:
        """Mark the pending TOTP ``totp_id`` verified with ``step`` as its last used step.

        In one transaction: the compare-and-set (``verified`` false and ``last_used_step < step``),
        the user's ``mfa_enabled_at`` (set if MFA was off), and, when ``backup_codes`` is given, the
        insertion of that set in place of any previous one. Returns ``False`` and changes nothing if
        the TOTP is gone, already verified, or the step is not newer: of two racing calls with the
        same code exactly one succeeds.
        """

    @abstractmethod
    async def consume_totp_step(self, user_id: str, step: int, at: int) -> bool:
        """Accept time step ``step`` for the user's *verified* TOTP, at most once.

        Atomic compare-and-set ``last_used_step < step``: of any number of concurrent calls with the
        same or an older step, at most one returns ``True``.
        """

    @abstractmethod
    async def disable_totp(self, user_id: str, at: int) -> TOTPRecord | None:
        """Delete the user's TOTP; returns what was deleted, or ``None`` if there was none.

        In the same transaction: when that leaves the user without a verified second factor, their
        backup codes are deleted and ``mfa_disabled_at`` is set (if MFA had been on).
        """

    @abstractmethod
    async def import_totp(self, totp: TOTPRecord, at: int) -> None:
        """Set a verified, imported TOTP for ``totp.user_id`` (replacing any) and mark MFA enabled."""

    # --- backup codes ---------------------------------------------------------------------------

    @abstractmethod
    async def replace_backup_codes(self, user_id: str, codes: list[BackupCodeRecord]) -> None:
        """Atomically replace the user's whole set of backup codes with ``codes``."""

    @abstractmethod
    async def list_unused_backup_codes(self, user_id: str) -> list[BackupCodeRecord]:
        """The user's backup codes that have not been used, oldest first."""

    @abstractmethod
    async def consume_backup_code(self, code_id: str, at: int) -> bool:
        """Mark a backup code used. Atomic: of concurrent calls for one code, exactly one gets ``True``."""

    # --- clients and dev browsers ---------------------------------------------------------------

    @abstractmethod
    async def create_client(self, client: ClientRecord) -> None:
        """Insert a new client."""

    @abstractmethod
    async def get_client(self, client_id: str) -> ClientRecord | None:
        """The client, or ``None``."""

    @abstractmethod
    async def get_client_by_token_hash(self, token_hash: str) -> ClientRecord | None:
        """The client whose token hashes to ``token_hash``, or ``None``."""

    @abstractmethod
    async def update_client(self, client: ClientRecord) -> None:
        """Overwrite the mutable fields of a client. No-op if absent."""

    @abstractmethod
    async def create_dev_browser(self, token_hash: str, at: int) -> None:
        """Record a dev-browser token (by hash), not yet bound to a client."""

    @abstractmethod
    async def get_dev_browser(self, token_hash: str) -> tuple[bool, str | None]:
        """``(known, client_id)`` for a dev-browser token hash; ``client_id`` is ``None`` until bound."""

    @abstractmethod
    async def bind_dev_browser(self, token_hash: str, client_id: str) -> None:
        """Bind a dev-browser token to a client."""

    # --- sessions -------------------------------------------------------------------------------

    @abstractmethod
    async def create_session(self, session: SessionRecord) -> None:
        """Insert a new session."""

    @abstractmethod
    async def get_session(self, session_id: str) -> SessionRecord | None:
        """The session, or ``None``."""

    @abstractmethod
    async def list_client_sessions(self, client_id: str) -> list[SessionRecord]:
        """All sessions of a client, oldest first."""

    @abstractmethod
    async def update_session(self, session: SessionRecord) -> None:
        """Overwrite the mutable fields of a session. No-op if absent."""

    # --- sign-ins -------------------------------------------------------------------------------

    @abstractmethod
    async def create_sign_in(self, sign_in: SignInRecord) -> None:
        """Insert a new sign-in attempt."""

    @abstractmethod
    async def get_sign_in(self, sign_in_id: str) -> SignInRecord | None:
        """The sign-in attempt, or ``None``."""

    @abstractmethod
    async def update_sign_in(self, sign_in: SignInRecord) -> None:
        """Overwrite the mutable fields of a sign-in attempt. No-op if absent."""

    @abstractmethod
    async def record_second_factor_failure(self, sign_in_id: str) -> None:
        """Atomically add one to the sign-in's second-factor attempts."""
