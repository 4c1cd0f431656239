"""The embedded SQLite store (aiosqlite, WAL): the default for ``totpkit serve``.

One connection per store, guarded by an :class:`asyncio.Lock` so that a transaction of one request
never interleaves with another's statements. Compare-and-set methods use ``UPDATE ... WHERE`` and
read ``rowcount``; writes run in ``BEGIN IMMEDIATE`` transactions, so the invariants hold when
several server processes share one database file (SQLite serialises writers; ``busy_timeout``
makes the others wait instead of failing).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec

from ._sqlite_migrations import MIGRATIONS
from .base import DuplicateError, Store
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

__all__ = ("SQLiteStore",)

R = TypeVar("R", bound=msgspec.Struct)

_USER_COLUMNS = (
    "id, email, email_id, password_hash, first_name, last_name, created_at, updated_at, last_sign_in_at, "
    "last_active_at, mfa_enabled_at, mfa_disabled_at, failed_attempts, locked_until"
)
# What update_user writes: everything but the lockout counters, which only the atomic
# register/reset/lock/unlock methods change (a stale record must never undo them).
_USER_PROFILE_COLUMNS = _USER_COLUMNS.replace(", failed_attempts, locked_until", "")
# One failed verification: an ended lockout starts a fresh count; a running lockout is never
# extended (a request that passed the lock check just before it began still counts, nothing more).
_NEW_FAILURE_COUNT = "CASE WHEN locked_until <= :at THEN 1 ELSE failed_attempts + 1 END"
_COUNT_FAILURE = (
    f"UPDATE users SET failed_attempts = {_NEW_FAILURE_COUNT}, locked_until = CASE "
    "WHEN locked_until > :at THEN locked_until "
    f"WHEN :max > 0 AND {_NEW_FAILURE_COUNT} >= :max THEN :until "
    "WHEN locked_until <= :at THEN NULL ELSE locked_until END "
    "WHERE id = :id"
)
# A success clears the count and any lockout; a user with no failures (so also one locked by
# lock_user, which zeroes the count) is left alone.
_RESET_FAILURES = "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE failed_attempts > 0 AND id = "
_TOTP_COLUMNS = "id, user_id, sealed_secret, verified, last_used_step, created_at, updated_at"
_CODE_COLUMNS = "id, user_id, set_id, digest, used_at, created_at"
_CLIENT_COLUMNS = (
    "id, token_hash, sign_in_id, last_active_session_id, last_authentication_strategy, created_at, updated_at"
)
_SESSION_COLUMNS = (
    "id, client_id, user_id, status, created_at, updated_at, last_active_at, expire_at, abandon_at, "
    "first_factor_at, second_factor_at"
)
_SIGN_IN_COLUMNS = (
    "id, client_id, user_id, identifier, status, first_factor_strategy, first_factor_verified, "
    "first_factor_attempts, first_factor_verified_at, second_factor_strategy, second_factor_verified, "
    "second_factor_attempts, "
    "created_session_id, created_at, updated_at, abandon_at"
)
_SESSION_VERIFICATION_COLUMNS = (
    "session_id, user_id, level, status, first_factor_strategy, first_factor_verified, first_factor_attempts, "
    "second_factor_strategy, second_factor_verified, second_factor_attempts, created_at, updated_at"
)


def _record(cls: type[R], columns: str, row: Sequence[Any] | None) -> R | None:
    if row is None:
        return None
    names = [c.strip() for c in columns.split(",")]
    return msgspec.convert(dict(zip(names, row, strict=True)), cls, strict=False)


def _values(record: msgspec.Struct, columns: str) -> tuple[Any, ...]:
    return tuple(getattr(record, c.strip()) for c in columns.split(","))


def _placeholders(columns: str) -> str:
    return ", ".join("?" for _ in columns.split(","))


def _assignments(columns: str) -> str:
    return ", ".join(f"{c.strip()} = ?" for c in columns.split(",")[1:])


_AUDIT_COLUMNS = "seq, id, at, event, outcome, user_id, client_id, session_id, ip, trace_id, detail"


def _audit_event(row: Sequence[Any]) -> AuditEventRecord:
    """An audit row as a record (``detail`` is stored as JSON text)."""
    names = [c.strip() for c in _AUDIT_COLUMNS.split(",")]
    fields = dict(zip(names, row, strict=True))
    fields["detail"] = msgspec.json.decode(fields["detail"] or "{}")
    return msgspec.convert(fields, AuditEventRecord)


def _create_private(path: Path) -> None:
    """Create the database file (and its directory) readable by the owner only.

    SQLite gives the ``-wal`` and ``-shm`` files the database file's permissions. An existing file
    keeps the permissions it has.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


class SQLiteStore(Store):
    """A :class:`Store` in one SQLite file."""

    __slots__ = ("_conn", "_lock", "_path")

    latest_schema_version = len(MIGRATIONS)

    def __init__(self, path: str | Path) -> None:
        self._path = Path(path)
        self._conn: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    async def open(self) -> None:
        if self._conn is not None:
            return
        _create_private(self._path)
        conn = await aiosqlite.connect(self._path, isolation_level=None)
        try:
            await conn.execute("PRAGMA busy_timeout = 10000")
            await _enable_wal(conn)
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            await conn.close()
            raise
        self._conn = conn
        await self._migrate()

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()

    def _connection(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("the store is not open; call open() or use it as an async context manager")
        return self._conn

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            conn = self._connection()
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def _fetchone(self, sql: str, params: Iterable[Any]) -> Sequence[Any] | None:
        async with self._lock:
            cursor = await self._connection().execute(sql, tuple(params))
            row = await cursor.fetchone()
            await cursor.close()
        return row

    async def _fetchall(self, sql: str, params: Iterable[Any]) -> list[Sequence[Any]]:
        async with self._lock:
            cursor = await self._connection().execute(sql, tuple(params))
            rows = await cursor.fetchall()
            await cursor.close()
        return list(rows)

    async def _execute(self, sql: str, params: Iterable[Any]) -> int:
        async with self._transaction() as conn:
            cursor = await conn.execute(sql, tuple(params))
            count = cursor.rowcount
            await cursor.close()
        return count

    async def _migrate(self) -> None:
        async with self._transaction() as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            cursor = await conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            for version, script in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                statements = script.split(";") if isinstance(script, str) else script
                for statement in statements:
                    if statement.strip():
                        await conn.execute(statement)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))

    async def schema_version(self) -> int:
        row = await self._fetchone("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", ())
        return int(row[0]) if row else 0

    # --- users -------------------------------------------------------------------------------

    async def create_user(self, user: UserRecord) -> None:
        sql = f"INSERT INTO users ({_USER_COLUMNS}, email_lower) VALUES ({_placeholders(_USER_COLUMNS)}, ?)"
        try:
            await self._execute(sql, (*_values(user, _USER_COLUMNS), user.email.lower()))
        except sqlite3.IntegrityError as exc:
            raise DuplicateError(user.email) from exc

    async def get_user(self, user_id: str) -> UserRecord | None:
        row = await self._fetchone(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
        return _record(UserRecord, _USER_COLUMNS, row)

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        row = await self._fetchone(f"SELECT {_USER_COLUMNS} FROM users WHERE email_lower = ?", (email.lower(),))
        return _record(UserRecord, _USER_COLUMNS, row)

    async def update_user(self, user: UserRecord) -> None:
        values = _values(user, _USER_PROFILE_COLUMNS)
        await self._execute(
            f"UPDATE users SET {_assignments(_USER_PROFILE_COLUMNS)} WHERE id = ?", (*values[1:], user.id)
        )

    async def register_verification_failure(
        self, user_id: str, *, at: int, max_attempts: int, lockout_ms: int
    ) -> UserRecord | None:
        async with self._transaction() as conn:
            await conn.execute(_COUNT_FAILURE, {"at": at, "max": max_attempts, "until": at + lockout_ms, "id": user_id})
            cursor = await conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
            row = await cursor.fetchone()
            await cursor.close()
        return _record(UserRecord, _USER_COLUMNS, row)

    async def reset_verification_failures(self, user_id: str) -> None:
        await self._execute(_RESET_FAILURES + "?", (user_id,))

    async def _update_user_returning(self, sql: str, params: tuple[Any, ...], user_id: str) -> UserRecord | None:
        async with self._transaction() as conn:
            await conn.execute(sql, params)
            cursor = await conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,))
            row = await cursor.fetchone()
            await cursor.close()
        return _record(UserRecord, _USER_COLUMNS, row)

    async def lock_user(self, user_id: str, *, at: int, lockout_ms: int) -> UserRecord | None:
        return await self._update_user_returning(
            "UPDATE users SET locked_until = MAX(COALESCE(locked_until, 0), ?), failed_attempts = 0, "
            "updated_at = ? WHERE id = ?",
            (at + lockout_ms, at, user_id),
            user_id,
        )

    async def unlock_user(self, user_id: str, at: int) -> UserRecord | None:
        return await self._update_user_returning(
            "UPDATE users SET locked_until = NULL, failed_attempts = 0, updated_at = ? WHERE id = ?",
            (at, user_id),
            user_id,
        )

    # --- TOTP -----------------------------------------------------------------------------------

    async def get_totp(self, user_id: str) -> TOTPRecord | None:
        row = await self._fetchone(f"SELECT {_TOTP_COLUMNS} FROM totp_credentials WHERE user_id = ?", (user_id,))
        return _record(TOTPRecord, _TOTP_COLUMNS, row)

    async def replace_pending_totp(self, totp: TOTPRecord) -> bool:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM totp_credentials WHERE user_id = ? AND verified = 0", (totp.user_id,)
            )
            await cursor.close()
            cursor = await conn.execute(
                f"INSERT OR IGNORE INTO totp_credentials ({_TOTP_COLUMNS}) VALUES ({_placeholders(_TOTP_COLUMNS)})",
                _values(totp, _TOTP_COLUMNS),
            )
            inserted = cursor.rowcount == 1
            await cursor.close()
        return inserted

    async def complete_totp_enrolment(
        self,
        *,
        user_id: str,
        totp_id: str,
        step: int,
        at: int,
        backup_codes: list[BackupCodeRecord] | None,
    ) -> bool:
        async with self._transaction() as conn:
            cursor = await conn.execute(
                "UPDATE totp_credentials SET verified = 1, last_used_step = ?, updated_at = ? "
                "WHERE id = ? AND user_id = ? AND verified = 0 AND last_used_step < ?",
                (step, at, totp_id, user_id, step),
            )
            if cursor.rowcount != 1:
                await cursor.close()
                return False
            await cursor.close()
            await conn.execute(
                "UPDATE users SET mfa_enabled_at = ?, updated_at = ?, failed_attempts = 0, locked_until = NULL "
                "WHERE id = ?",
                (at, at, user_id),
            )
            if backup_codes is not None:
                await self._replace_codes(conn, user_id, backup_codes)
        return True

    async def consume_totp_step(self, user_id: str, step: int, at: int) -> bool:
        consume = (
            "UPDATE totp_credentials SET last_used_step = ?, updated_at = ? "
            "WHERE user_id = ? AND verified = 1 AND last_used_step < ?"
        )
        return await self._consume_and_reset(consume, (step, at, user_id, step), _RESET_FAILURES + "?", (user_id,))

    async def _consume_and_reset(
        self, consume: str, params: tuple[Any, ...], reset: str, reset_params: tuple[Any, ...]
    ) -> bool:
        """Run the compare-and-set ``consume``; if it took, ``reset`` the failures in the same transaction."""
        async with self._transaction() as conn:
            cursor = await conn.execute(consume, params)
            consumed = cursor.rowcount == 1
            await cursor.close()
            if consumed:
                await conn.execute(reset, reset_params)
        return consumed

    async def disable_totp(self, user_id: str, at: int) -> TOTPRecord | None:
        async with self._transaction() as conn:
            cursor = await conn.execute(f"SELECT {_TOTP_COLUMNS} FROM totp_credentials WHERE user_id = ?", (user_id,))
            existing = _record(TOTPRecord, _TOTP_COLUMNS, await cursor.fetchone())
            await cursor.close()
            if existing is None:
                return None
            await conn.execute("DELETE FROM totp_credentials WHERE user_id = ?", (user_id,))
            if existing.verified:
                await conn.execute("DELETE FROM backup_codes WHERE user_id = ?", (user_id,))
                await conn.execute(
                    "UPDATE users SET mfa_disabled_at = ?, updated_at = ? WHERE id = ?", (at, at, user_id)
                )
        return existing

    async def import_totp(self, totp: TOTPRecord, at: int) -> None:
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM totp_credentials WHERE user_id = ?", (totp.user_id,))
            await conn.execute(
                f"INSERT INTO totp_credentials ({_TOTP_COLUMNS}) VALUES ({_placeholders(_TOTP_COLUMNS)})",
                _values(totp, _TOTP_COLUMNS),
            )
            await conn.execute(
                "UPDATE users SET mfa_enabled_at = COALESCE(mfa_enabled_at, ?), updated_at = ? WHERE id = ?",
                (at, at, totp.user_id),
            )

    # --- backup codes ---------------------------------------------------------------------------

    @staticmethod
    async def _replace_codes(conn: aiosqlite.Connection, user_id: str, codes: list[BackupCodeRecord]) -> None:
        await conn.execute("DELETE FROM backup_codes WHERE user_id = ?", (user_id,))
        await conn.executemany(
            f"INSERT INTO backup_codes ({_CODE_COLUMNS}) VALUES ({_placeholders(_CODE_COLUMNS)})",
            [_values(code, _CODE_COLUMNS) for code in codes],
        )

    async def replace_backup_codes(self, user_id: str, codes: list[BackupCodeRecord]) -> None:
        async with self._transaction() as conn:
            await self._replace_codes(conn, user_id, codes)

    async def list_unused_backup_codes(self, user_id: str) -> list[BackupCodeRecord]:
        rows = await self._fetchall(
            f"SELECT {_CODE_COLUMNS} FROM backup_codes WHERE user_id = ? AND used_at IS NULL ORDER BY created_at, id",
            (user_id,),
        )
        return [code for row in rows if (code := _record(BackupCodeRecord, _CODE_COLUMNS, row)) is not None]

    async def consume_backup_code(self, code_id: str, at: int) -> bool:
        return await self._consume_and_reset(
            "UPDATE backup_codes SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (at, code_id),
            _RESET_FAILURES + "(SELECT user_id FROM backup_codes WHERE id = ?)",
            (code_id,),
        )

    @staticmethod
    async def _delete_codes(conn: aiosqlite.Connection, user_id: str) -> int:
        """Delete every backup code of the user; returns how many of them were unused."""
        cursor = await conn.execute(
            "SELECT COUNT(*) FROM backup_codes WHERE user_id = ? AND used_at IS NULL", (user_id,)
        )
        row = await cursor.fetchone()
        await cursor.close()
        await conn.execute("DELETE FROM backup_codes WHERE user_id = ?", (user_id,))
        return int(row[0]) if row else 0

    async def delete_backup_codes(self, user_id: str, at: int) -> int:
        async with self._transaction() as conn:
            unused = await self._delete_codes(conn, user_id)
            if unused:
                await conn.execute("UPDATE users SET updated_at = ? WHERE id = ?", (at, user_id))
        return unused

    async def disable_mfa(self, user_id: str, at: int) -> tuple[TOTPRecord | None, int]:
        async with self._transaction() as conn:
            cursor = await conn.execute(f"SELECT {_TOTP_COLUMNS} FROM totp_credentials WHERE user_id = ?", (user_id,))
            totp = _record(TOTPRecord, _TOTP_COLUMNS, await cursor.fetchone())
            await cursor.close()
            await conn.execute("DELETE FROM totp_credentials WHERE user_id = ?", (user_id,))
            unused_codes = await self._delete_codes(conn, user_id)
            if totp is not None and totp.verified:
                await conn.execute("UPDATE users SET mfa_disabled_at = ? WHERE id = ?", (at, user_id))
            if totp is not None or unused_codes > 0:
                await conn.execute("UPDATE users SET updated_at = ? WHERE id = ?", (at, user_id))
        return totp, unused_codes

    # --- sealing keys (rotation) ----------------------------------------------------------------

    async def _count_by_key_id(self, table: str, column: str, version: str, condition: str) -> list[tuple[str, int]]:
        """``(key_id, count)`` of ``<version>.<key_id>.…`` values in ``table.column`` meeting ``condition``."""
        key_id = f"substr({column}, 4, instr(substr({column}, 4), '.') - 1)"
        rows = await self._fetchall(
            f"SELECT {key_id}, COUNT(*) FROM {table} "
            f"WHERE {condition} AND substr({column}, 1, 3) = ? AND instr(substr({column}, 4), '.') > 1 "
            "GROUP BY 1",
            (f"{version}.",),
        )
        return [(str(row[0]), int(row[1])) for row in rows]

    async def sealing_key_usage(self) -> dict[str, SealingKeyUsage]:
        usage: dict[str, SealingKeyUsage] = {}
        for key_id, count in await self._count_by_key_id("totp_credentials", "sealed_secret", "v1", "1 = 1"):
            usage.setdefault(key_id, SealingKeyUsage(key_id=key_id)).totp_secrets = count
        for key_id, count in await self._count_by_key_id("backup_codes", "digest", "h1", "used_at IS NULL"):
            usage.setdefault(key_id, SealingKeyUsage(key_id=key_id)).backup_codes = count
        return usage

    async def list_totps_sealed_with(
        self, key_id: str, *, after_id: str | None = None, limit: int = 100
    ) -> list[TOTPRecord]:
        prefix = f"v1.{key_id}."
        rows = await self._fetchall(
            f"SELECT {_TOTP_COLUMNS} FROM totp_credentials "
            "WHERE substr(sealed_secret, 1, ?) = ? AND id > ? ORDER BY id LIMIT ?",
            (len(prefix), prefix, after_id or "", limit),
        )
        return [totp for row in rows if (totp := _record(TOTPRecord, _TOTP_COLUMNS, row)) is not None]

    async def reseal_totp(self, totp_id: str, *, old_sealed: str, new_sealed: str) -> bool:
        count = await self._execute(
            "UPDATE totp_credentials SET sealed_secret = ? WHERE id = ? AND sealed_secret = ?",
            (new_sealed, totp_id, old_sealed),
        )
        return count == 1

    # --- clients and dev browsers ---------------------------------------------------------------

    async def create_client(self, client: ClientRecord) -> None:
        await self._execute(
            f"INSERT INTO clients ({_CLIENT_COLUMNS}) VALUES ({_placeholders(_CLIENT_COLUMNS)})",
            _values(client, _CLIENT_COLUMNS),
        )

    async def get_client(self, client_id: str) -> ClientRecord | None:
        row = await self._fetchone(f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE id = ?", (client_id,))
        return _record(ClientRecord, _CLIENT_COLUMNS, row)

    async def get_client_by_token_hash(self, token_hash: str) -> ClientRecord | None:
        row = await self._fetchone(f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE token_hash = ?", (token_hash,))
        return _record(ClientRecord, _CLIENT_COLUMNS, row)

    async def update_client(self, client: ClientRecord) -> None:
        values = _values(client, _CLIENT_COLUMNS)
        await self._execute(
            f"UPDATE clients SET {_assignments(_CLIENT_COLUMNS)} WHERE id = ?", (*values[1:], client.id)
        )

    async def create_dev_browser(self, token_hash: str, at: int) -> None:
        await self._execute(
            "INSERT INTO dev_browsers (token_hash, client_id, created_at) VALUES (?, NULL, ?)", (token_hash, at)
        )

    async def get_dev_browser(self, token_hash: str) -> tuple[bool, str | None]:
        row = await self._fetchone("SELECT client_id FROM dev_browsers WHERE token_hash = ?", (token_hash,))
        if row is None:
            return False, None
        return True, row[0]

    async def bind_dev_browser(self, token_hash: str, client_id: str) -> None:
        await self._execute("UPDATE dev_browsers SET client_id = ? WHERE token_hash = ?", (client_id, token_hash))

    # --- sessions -------------------------------------------------------------------------------

    async def create_session(self, session: SessionRecord) -> None:
        await self._execute(
            f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES ({_placeholders(_SESSION_COLUMNS)})",
            _values(session, _SESSION_COLUMNS),
        )

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._fetchone(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
        return _record(SessionRecord, _SESSION_COLUMNS, row)

    async def list_client_sessions(self, client_id: str) -> list[SessionRecord]:
        rows = await self._fetchall(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE client_id = ? ORDER BY created_at, id", (client_id,)
        )
        return [s for row in rows if (s := _record(SessionRecord, _SESSION_COLUMNS, row)) is not None]

    async def list_user_sessions(self, user_id: str) -> list[SessionRecord]:
        rows = await self._fetchall(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE user_id = ? ORDER BY created_at, id", (user_id,)
        )
        return [s for row in rows if (s := _record(SessionRecord, _SESSION_COLUMNS, row)) is not None]

    async def update_session(self, session: SessionRecord) -> None:
        values = _values(session, _SESSION_COLUMNS)
        await self._execute(
            f"UPDATE sessions SET {_assignments(_SESSION_COLUMNS)} WHERE id = ?", (*values[1:], session.id)
        )

    async def mark_session_factor_verified(self, session_id: str, factor: str, at: int) -> bool:
        column = {"first_factor": "first_factor_at", "second_factor": "second_factor_at"}[factor]
        updated = await self._execute(
            f"UPDATE sessions SET {column} = ?, updated_at = ? WHERE id = ? AND status IN ('active', 'pending')",
            (at, at, session_id),
        )
        return updated == 1

    async def save_session_verification(self, verification: SessionVerificationRecord) -> None:
        await self._execute(
            f"INSERT OR REPLACE INTO session_verifications ({_SESSION_VERIFICATION_COLUMNS}) "
            f"VALUES ({_placeholders(_SESSION_VERIFICATION_COLUMNS)})",
            _values(verification, _SESSION_VERIFICATION_COLUMNS),
        )

    async def get_session_verification(self, session_id: str) -> SessionVerificationRecord | None:
        row = await self._fetchone(
            f"SELECT {_SESSION_VERIFICATION_COLUMNS} FROM session_verifications WHERE session_id = ?", (session_id,)
        )
        return _record(SessionVerificationRecord, _SESSION_VERIFICATION_COLUMNS, row)

    # --- sign-ins -------------------------------------------------------------------------------

    async def create_sign_in(self, sign_in: SignInRecord) -> None:
        await self._execute(
            f"INSERT INTO sign_ins ({_SIGN_IN_COLUMNS}) VALUES ({_placeholders(_SIGN_IN_COLUMNS)})",
            _values(sign_in, _SIGN_IN_COLUMNS),
        )

    async def get_sign_in(self, sign_in_id: str) -> SignInRecord | None:
        row = await self._fetchone(f"SELECT {_SIGN_IN_COLUMNS} FROM sign_ins WHERE id = ?", (sign_in_id,))
        return _record(SignInRecord, _SIGN_IN_COLUMNS, row)

    async def update_sign_in(self, sign_in: SignInRecord) -> None:
        values = _values(sign_in, _SIGN_IN_COLUMNS)
        await self._execute(
            f"UPDATE sign_ins SET {_assignments(_SIGN_IN_COLUMNS)} WHERE id = ?", (*values[1:], sign_in.id)
        )

    async def record_second_factor_failure(self, sign_in_id: str) -> None:
        await self._execute(
            "UPDATE sign_ins SET second_factor_attempts = second_factor_attempts + 1 WHERE id = ?", (sign_in_id,)
        )

    # --- request-rate limits --------------------------------------------------------------------

    async def hit_rate_limits(self, buckets: Sequence[str], *, window_start: int) -> list[int]:
        if not buckets:
            return []
        counts: list[int] = []
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM rate_limits WHERE window_start < ?", (window_start,))
            for bucket in buckets:
                cursor = await conn.execute(
                    "INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1) "
                    "ON CONFLICT (bucket) DO UPDATE SET hits = hits + 1 RETURNING hits",
                    (bucket, window_start),
                )
                row = await cursor.fetchone()
                await cursor.close()
                counts.append(int(row[0]) if row is not None else 1)
        return counts

    # --- expiry ---------------------------------------------------------------------------------

    async def sweep_expired(self, *, now: int, idle_before: int, rate_limits_before: int) -> SweepCounts:
        statements = (
            ("sign_ins", "DELETE FROM sign_ins WHERE abandon_at <= :now"),
            (
                "sessions",
                "DELETE FROM sessions WHERE expire_at <= :idle OR "
                "(status NOT IN ('active', 'pending') AND updated_at <= :idle)",
            ),
            (
                "clients",
                "DELETE FROM clients WHERE updated_at <= :idle "
                "AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.client_id = clients.id) "
                "AND NOT EXISTS (SELECT 1 FROM sign_ins WHERE sign_ins.client_id = clients.id)",
            ),
            ("dev_browsers", "DELETE FROM dev_browsers WHERE client_id IS NULL AND created_at <= :idle"),
            ("rate_limits", "DELETE FROM rate_limits WHERE window_start < :windows"),
        )
        params = {"now": now, "idle": idle_before, "windows": rate_limits_before}
        counts: dict[str, int] = {}
        async with self._transaction() as conn:
            for name, sql in statements:
                cursor = await conn.execute(sql, params)
                counts[name] = cursor.rowcount
                await cursor.close()
        return SweepCounts(**counts)

    # --- audit log ------------------------------------------------------------------------------

    async def append_audit_event(self, event: AuditEventRecord) -> int:
        columns = _AUDIT_COLUMNS.removeprefix("seq, ")
        values = (*_values(event, columns)[:-1], msgspec.json.encode(event.detail).decode())
        async with self._transaction() as conn:
            try:
                cursor = await conn.execute(
                    f"INSERT INTO audit_events ({columns}) VALUES ({_placeholders(columns)})", values
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateError(event.id) from exc
            seq = cursor.lastrowid
            await cursor.close()
        assert seq is not None  # an INSERT into a rowid table always sets it  # noqa: S101
        return seq

    async def list_audit_events(
        self,
        *,
        user_id: str | None = None,
        since: int | None = None,
        until: int | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[AuditEventRecord]:
        if not 1 <= limit <= 1000:
            raise ValueError("limit must be between 1 and 1000")
        conditions: list[str] = ["seq > ?"]
        params: list[int | str] = [after_seq]
        for condition, value in (("user_id = ?", user_id), ("at >= ?", since), ("at < ?", until)):
            if value is not None:
                conditions.append(condition)
                params.append(value)
        rows = await self._fetchall(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_events WHERE {' AND '.join(conditions)} ORDER BY seq LIMIT ?",
            (*params, limit),
        )
        return [_audit_event(row) for row in rows]


_WAL_SWITCH_TIMEOUT = 10.0
"""Seconds :func:`_enable_wal` keeps retrying while other connections hold the new database."""


async def _enable_wal(conn: aiosqlite.Connection) -> None:
    """Put the database in WAL mode (a no-op once it is).

    Switching a new file's journal mode needs an exclusive lock, and SQLite answers "database is
    locked" at once, without waiting through ``busy_timeout``, while another process or store is
    switching or migrating the same file (several workers starting together); so this retries for up
    to :data:`_WAL_SWITCH_TIMEOUT` seconds before giving up with that error.
    """
    deadline = time.monotonic() + _WAL_SWITCH_TIMEOUT
    while True:
        try:
            await conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.02)
        else:
            return
