"""The Store: every persistent operation totpkit needs, as an ABC of async methods.

Backends (``sqlite.py``, ``postgres.py``) implement it with their own SQL. Methods that guard
a security invariant are *atomic* compare-and-set operations; their docstrings say what must hold
when two callers race, across processes too. Nothing here is SQLite-specific.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from types import TracebackType
from typing import ClassVar

from .records import (
    AuditEventRecord,
    BackupCodeRecord,
    ClientRecord,
    SealingKeyUsage,
    SessionRecord,
    SessionVerificationRecord,
    SignInRecord,
    SweepCounts,
    TOTPRecord,
    UserRecord,
)

__all__ = ("DuplicateError", "Store")


class DuplicateError(Exception):
    """A unique value (a user's email address) is already taken."""


class Store(ABC):
    """Persistent state of a totpkit instance."""

    __slots__ = ()

    latest_schema_version: ClassVar[int]
    """The schema version this code's migrations reach; ``GET /readyz`` is 503 while :meth:`schema_version`
    differs."""

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
        :meth:`register_verification_failure`, :meth:`reset_verification_failures` and a successful
        :meth:`consume_totp_step` / :meth:`consume_backup_code` change them.
        """

    @abstractmethod
    async def register_verification_failure(
        self, user_id: str, *, at: int, max_attempts: int, lockout_ms: int
    ) -> UserRecord | None:
        """Atomically count one failed verification; lock the user until ``at + lockout_ms`` on reaching
        ``max_attempts`` (``0`` disables locking). Returns the updated user, or ``None`` if unknown.

        After a lockout has ended (``locked_until <= at``) the count starts again at 1 and the lock is
        cleared; a running lockout is kept as it is, never extended.
        """

    @abstractmethod
    async def reset_verification_failures(self, user_id: str) -> None:
        """Clear the failed-verification counter and any lock (after a successful verification).

        Only a user with a non-zero count is touched, so a :meth:`lock_user` lock (which zeroes the
        count) survives a verification that passed the lock check just before the lock was set.
        """

    @abstractmethod
    async def lock_user(self, user_id: str, *, at: int, lockout_ms: int) -> UserRecord | None:
        """Lock the user like a lockout that ends at ``at + lockout_ms`` (the Backend API's lock).

        Atomically: ``locked_until`` becomes the later of its current value and ``at + lockout_ms``
        (a longer lockout in progress is never shortened), ``failed_attempts = 0`` and
        ``updated_at = at``. The lock then ends by itself like any lockout, or earlier through
        :meth:`unlock_user`; ``lockout_ms = 0`` locks nothing. Returns the updated user, or
        ``None`` (and changes nothing) if there is no such user.
        """

    @abstractmethod
    async def unlock_user(self, user_id: str, at: int) -> UserRecord | None:
        """Lift the user's lock or lockout at once; ``updated_at = at``.

        In one statement ``locked_until`` and the failed-verification counter are cleared.
        Unlocking an unlocked user only moves ``updated_at``. Returns the updated user, or
        ``None`` if there is no such user.
        """

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
        same or an older step, at most one returns ``True``. That one also resets the user's failed
        verifications as :meth:`reset_verification_failures` does, in the same transaction: a reset
        done later would erase failures counted in between by the calls that lost the race.
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
        """Mark a backup code used. Atomic: of concurrent calls for one code, exactly one gets ``True``.

        The one that gets ``True`` resets its owner's failed verifications in the same transaction,
        as :meth:`consume_totp_step` does (and for the same reason).
        """

    @abstractmethod
    async def delete_backup_codes(self, user_id: str, at: int) -> int:
        """Delete all of the user's backup codes (used or not); returns how many of them were unused.

        When any was unused, the user's ``updated_at`` becomes ``at`` in the same transaction. The
        TOTP and ``mfa_disabled_at`` are untouched (backup codes alone are not a second factor).
        """

    @abstractmethod
    async def disable_mfa(self, user_id: str, at: int) -> tuple[TOTPRecord | None, int]:
        """Delete the user's TOTP (verified or pending) and all backup codes in one transaction.

        Sets ``mfa_disabled_at`` when a verified TOTP was deleted, and ``updated_at`` when a TOTP or
        an unused backup code was; a user without MFA state is left as is. Returns the deleted TOTP
        (or ``None``) and how many unused backup codes were deleted.
        """

    # --- sealing keys (rotation) ----------------------------------------------------------------

    @abstractmethod
    async def sealing_key_usage(self) -> dict[str, SealingKeyUsage]:
        """Per key id, what the stored values still need from the sealing key ring.

        The key id is read from the stored text: ``v1.<key_id>.…`` sealed TOTP secrets (verified or
        pending) and ``h1.<key_id>.…`` digests of *unused* backup codes. Used codes, imported bcrypt
        digests and values in neither format are not counted. Keys that protect nothing are absent.
        """

    @abstractmethod
    async def list_totps_sealed_with(
        self, key_id: str, *, after_id: str | None = None, limit: int = 100
    ) -> list[TOTPRecord]:
        """Up to ``limit`` TOTPs whose secret is sealed under ``key_id``, ordered by TOTP id.

        Only ids greater than ``after_id`` are returned (keyset pagination), so a caller walking the
        batches visits each row once even when some rows cannot be re-sealed.
        """

    @abstractmethod
    async def reseal_totp(self, totp_id: str, *, old_sealed: str, new_sealed: str) -> bool:
        """Replace the sealed secret of TOTP ``totp_id`` with ``new_sealed`` (same secret, new key).

        Atomic compare-and-set on ``sealed_secret = old_sealed``: returns ``False`` and changes nothing
        when the row is gone or was replaced meanwhile (a concurrent enrolment), so a re-seal never
        overwrites a newer secret. Nothing else changes: not ``last_used_step``, not ``updated_at``.
        """

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
    async def list_user_sessions(self, user_id: str) -> list[SessionRecord]:
        """All sessions of a user on every client, oldest first."""

    @abstractmethod
    async def update_session(self, session: SessionRecord) -> None:
        """Overwrite the mutable fields of a session. No-op if absent."""

    @abstractmethod
    async def mark_session_factor_verified(self, session_id: str, factor: str, at: int) -> bool:
        """Set ``first_factor_at`` (``factor="first_factor"``) or ``second_factor_at`` (``"second_factor"``)
        and ``updated_at`` to ``at``, only while the session is ``active`` or ``pending``.

        One statement, so a session ended concurrently stays ended. Returns whether it was updated.
        """

    @abstractmethod
    async def save_session_verification(self, verification: SessionVerificationRecord) -> None:
        """Insert the session's reverification, or overwrite the one it has (one per session)."""

    @abstractmethod
    async def get_session_verification(self, session_id: str) -> SessionVerificationRecord | None:
        """The session's reverification in progress (or finished), or ``None``."""

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

    # --- request-rate limits --------------------------------------------------------------------

    @abstractmethod
    async def hit_rate_limits(self, buckets: Sequence[str], *, window_start: int) -> list[int]:
        """Count one request in each of ``buckets`` for the window starting at ``window_start`` (Unix ms).

        Returns each bucket's count in that window, this request included, in the order given. In
        one transaction, atomic across processes sharing the database: of ``n`` concurrent hits on
        one bucket, the counts returned are exactly ``k+1 .. k+n``. Every row of an ended window
        (``window_start`` below this one) is deleted first, so the table holds at most one row per
        bucket seen in the current window and a bucket's first hit in a new window counts 1. A row
        of a *later* window (a process whose clock runs ahead) is counted in that later window.
        An empty ``buckets`` changes nothing and returns ``[]``.
        """

    # --- expiry ---------------------------------------------------------------------------------

    @abstractmethod
    async def sweep_expired(self, *, now: int, idle_before: int, rate_limits_before: int) -> SweepCounts:
        """Delete what anonymous callers left behind and nobody uses any more; returns the counts.

        In one transaction, in this order (all times Unix ms):

        1. sign-ins with ``abandon_at <= now``, whatever their status (a finished one is history);
        2. sessions that are over: ``expire_at <= idle_before``, or ``status`` other than ``active``
           / ``pending`` and ``updated_at <= idle_before`` (their reverifications go with them);
        3. clients with ``updated_at <= idle_before`` that have no session and no sign-in left;
        4. dev browsers bound to no client (never bound, or their client was deleted, which sets
           ``client_id`` to NULL) with ``created_at <= idle_before``;
        5. rate-limit rows with ``window_start < rate_limits_before`` (ended windows).

        Users, TOTPs, backup codes and the audit log are never touched. Idempotent, and safe to run
        concurrently from several processes (each row is deleted once; the counts say by whom).
        """

    # --- audit log (public: host apps read it through the ``totpkit_store`` dependency) ---------

    @abstractmethod
    async def append_audit_event(self, event: AuditEventRecord) -> int:
        """Append ``event`` to the audit log and return its sequence number (``event.seq`` is ignored).

        Sequence numbers only grow, in append order, also across processes sharing the database.
        The log is append-only: no method updates or deletes an entry, and backends refuse it
        (SQLite by triggers). Entries outlive the user they name. Raises
        :class:`DuplicateError` if ``event.id`` was used already.
        """

    @abstractmethod
    async def list_audit_events(
        self,
        *,
        user_id: str | None = None,
        since: int | None = None,
        until: int | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[AuditEventRecord]:
        """Audit events in append order (ascending ``seq``), each with its ``seq`` set.

        Filters combine: ``user_id`` exactly; ``since <= at < until`` (Unix ms; either bound may be
        ``None``); only ``seq > after_seq``, so passing the last ``seq`` of a page gets the next page.
        At most ``limit`` events, which must be 1-1000 (ValueError otherwise). An unknown user or an
        empty range gives ``[]``.
        """
