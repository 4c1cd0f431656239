"""The PostgreSQL store (asyncpg, a connection pool): for several processes and hosts on one database.

Every invariant the :class:`Store` ABC states holds across processes through single statements:
compare-and-set is ``UPDATE ... WHERE <expected> RETURNING`` (PostgreSQL re-checks the ``WHERE``
against the latest row version when a concurrent writer got there first, so exactly one caller wins),
counters are ``UPDATE ... SET n = n + 1 RETURNING`` or ``INSERT ... ON CONFLICT DO UPDATE RETURNING``.
Multi-statement operations run in one transaction. Nothing reads a row and writes it back.

Migrations (:mod:`._postgres_migrations`) run on :meth:`PostgresStore.open` in one transaction that
first takes a transaction-level advisory lock, so processes starting at once apply each migration
exactly once; the others wait and then find nothing to do. Tables live in the connection's current
schema (``search_path``; asyncpg passes extra DSN query parameters such as
``?search_path=totpkit`` as server settings).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg
import msgspec

from ._postgres_migrations import MIGRATIONS
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

__all__ = ("PostgresStore",)

R = TypeVar("R", bound=msgspec.Struct)

MIGRATION_LOCK_ID = 0x70_74_6B_6D  # "ptkm": the advisory lock every process takes to migrate
"""Key of the advisory lock that serialises migrations across processes."""

AUDIT_LOCK_ID = 0x70_74_6B_61  # "ptka"
"""Key of the advisory lock that makes audit sequence numbers visible in append order."""

_USER_COLUMNS = (
    "id, email, email_id, password_hash, first_name, last_name, created_at, updated_at, last_sign_in_at, "
    "last_active_at, mfa_enabled_at, mfa_disabled_at, failed_attempts, locked_until"
)
# What update_user writes: everything but the lockout counters (see SQLiteStore).
_USER_PROFILE_COLUMNS = _USER_COLUMNS.replace(", failed_attempts, locked_until", "")
# $1 = at, $2 = max attempts, $3 = lock until, $4 = user id. PostgreSQL evaluates every SET expression
# against the row as it was, so both CASEs see the old counter and lock.
_NEW_FAILURE_COUNT = "CASE WHEN locked_until <= $1 THEN 1 ELSE failed_attempts + 1 END"
_COUNT_FAILURE = (
    f"UPDATE users SET failed_attempts = {_NEW_FAILURE_COUNT}, locked_until = CASE "
    "WHEN locked_until > $1 THEN locked_until "
    f"WHEN $2 > 0 AND {_NEW_FAILURE_COUNT} >= $2 THEN $3 "
    "WHEN locked_until <= $1 THEN NULL ELSE locked_until END "
    f"WHERE id = $4 RETURNING {_USER_COLUMNS}"
)
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
    "second_factor_attempts, created_session_id, created_at, updated_at, abandon_at"
)
_SESSION_VERIFICATION_COLUMNS = (
    "session_id, user_id, level, status, first_factor_strategy, first_factor_verified, first_factor_attempts, "
    "second_factor_strategy, second_factor_verified, second_factor_attempts, created_at, updated_at"
)
_AUDIT_COLUMNS = "seq, id, at, event, outcome, user_id, client_id, session_id, ip, trace_id, detail"


def _names(columns: str) -> list[str]:
    return [c.strip() for c in columns.split(",")]


def _record(cls: type[R], row: asyncpg.Record | None) -> R | None:
    return None if row is None else msgspec.convert(dict(row.items()), cls)


def _records(cls: type[R], rows: Sequence[asyncpg.Record]) -> list[R]:
    return [msgspec.convert(dict(row.items()), cls) for row in rows]


def _values(record: msgspec.Struct, columns: str) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in _names(columns))


def _placeholders(columns: str, start: int = 1) -> str:
    return ", ".join(f"${n}" for n in range(start, start + len(_names(columns))))


def _insert(table: str, columns: str) -> str:
    return f"INSERT INTO {table} ({columns}) VALUES ({_placeholders(columns)})"


def _update_by_id(table: str, columns: str) -> str:
    """``UPDATE`` of every column but the first (the id, which is ``$1``)."""
    names = _names(columns)
    assignments = ", ".join(f"{name} = ${n}" for n, name in enumerate(names[1:], start=2))
    return f"UPDATE {table} SET {assignments} WHERE {names[0]} = $1"


def _holds_nul(params: tuple[Any, ...]) -> bool:
    """Whether a text parameter contains NUL, which PostgreSQL text can never hold (it refuses the
    parameter): a lookup by such a value finds nothing, as on SQLite, instead of failing."""
    return any(isinstance(param, str) and "\x00" in param for param in params)


def _audit_event(row: asyncpg.Record) -> AuditEventRecord:
    fields = dict(row.items())
    fields["detail"] = msgspec.json.decode(fields["detail"] or "{}")
    return msgspec.convert(fields, AuditEventRecord)


class PostgresStore(Store):
    """A :class:`Store` in a PostgreSQL database, through a pool of ``min_size``..``max_size`` connections.

    ``dsn`` is a ``postgresql://`` (or ``postgres://``) URL as libpq and asyncpg read it.
    """

    __slots__ = ("_dsn", "_max_size", "_min_size", "_pool")

    latest_schema_version = len(MIGRATIONS)

    def __init__(self, dsn: str, *, min_size: int = 1, max_size: int = 10) -> None:
        if not 1 <= min_size <= max_size:
            raise ValueError("pool sizes must satisfy 1 <= min_size <= max_size")
        self._dsn = dsn
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool = await asyncpg.create_pool(self._dsn, min_size=self._min_size, max_size=self._max_size)
        try:
            await self._migrate(pool)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    def _connected(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the store is not open; call open() or use it as an async context manager")
        return self._pool

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._connected().acquire() as conn, conn.transaction():
            yield conn

    async def _fetchrow(self, sql: str, *params: Any) -> asyncpg.Record | None:
        if _holds_nul(params):
            return None
        row: asyncpg.Record | None = await self._connected().fetchrow(sql, *params)
        return row

    async def _fetch(self, sql: str, *params: Any) -> list[asyncpg.Record]:
        if _holds_nul(params):
            return []
        return list(await self._connected().fetch(sql, *params))

    async def _execute(self, sql: str, *params: Any) -> int:
        """Run one statement; returns the number of rows it touched (from the command tag)."""
        status: str = await self._connected().execute(sql, *params)
        return int(status.rsplit(" ", 1)[-1]) if status[-1:].isdigit() else 0

    @staticmethod
    async def _migrate(pool: asyncpg.Pool) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_ID)
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            current = int(await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)

    async def schema_version(self) -> int:
        return int(await self._connected().fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations"))

    # --- users -------------------------------------------------------------------------------

    async def create_user(self, user: UserRecord) -> None:
        count = len(_names(_USER_COLUMNS))
        sql = f"INSERT INTO users ({_USER_COLUMNS}, email_lower) VALUES ({_placeholders(_USER_COLUMNS)}, ${count + 1})"
        try:
            await self._execute(sql, *_values(user, _USER_COLUMNS), user.email.lower())
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateError(user.email) from exc

    async def get_user(self, user_id: str) -> UserRecord | None:
        return _record(UserRecord, await self._fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id))

    async def get_user_by_email(self, email: str) -> UserRecord | None:
        row = await self._fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE email_lower = $1", email.lower())
        return _record(UserRecord, row)

    async def update_user(self, user: UserRecord) -> None:
        await self._execute(_update_by_id("users", _USER_PROFILE_COLUMNS), *_values(user, _USER_PROFILE_COLUMNS))

    async def register_verification_failure(
        self, user_id: str, *, at: int, max_attempts: int, lockout_ms: int
    ) -> UserRecord | None:
        return _record(UserRecord, await self._fetchrow(_COUNT_FAILURE, at, max_attempts, at + lockout_ms, user_id))

    async def reset_verification_failures(self, user_id: str) -> None:
        await self._execute(
            "UPDATE users SET failed_attempts = 0, locked_until = NULL WHERE id = $1 AND failed_attempts > 0", user_id
        )

    async def lock_user(self, user_id: str, *, at: int, lockout_ms: int) -> UserRecord | None:
        row = await self._fetchrow(
            "UPDATE users SET locked_until = GREATEST(COALESCE(locked_until, 0), $1), failed_attempts = 0, "
            f"updated_at = $2 WHERE id = $3 RETURNING {_USER_COLUMNS}",
            at + lockout_ms,
            at,
            user_id,
        )
        return _record(UserRecord, row)

    async def unlock_user(self, user_id: str, at: int) -> UserRecord | None:
        row = await self._fetchrow(
            "UPDATE users SET locked_until = NULL, failed_attempts = 0, updated_at = $1 "
            f"WHERE id = $2 RETURNING {_USER_COLUMNS}",
            at,
            user_id,
        )
        return _record(UserRecord, row)

    # --- TOTP -----------------------------------------------------------------------------------

    async def get_totp(self, user_id: str) -> TOTPRecord | None:
        row = await self._fetchrow(f"SELECT {_TOTP_COLUMNS} FROM totp_credentials WHERE user_id = $1", user_id)
        return _record(TOTPRecord, row)

    async def replace_pending_totp(self, totp: TOTPRecord) -> bool:
        # One upsert: a pending row is overwritten, a verified one (the WHERE) is left alone.
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _names(_TOTP_COLUMNS) if name != "user_id")
        row = await self._fetchrow(
            f"{_insert('totp_credentials', _TOTP_COLUMNS)} ON CONFLICT (user_id) DO UPDATE SET {updates} "
            "WHERE totp_credentials.verified = FALSE RETURNING id",
            *_values(totp, _TOTP_COLUMNS),
        )
        return row is not None

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
            verified = await conn.fetchrow(
                "UPDATE totp_credentials SET verified = TRUE, last_used_step = $1, updated_at = $2 "
                "WHERE id = $3 AND user_id = $4 AND verified = FALSE AND last_used_step < $1 RETURNING id",
                step,
                at,
                totp_id,
                user_id,
            )
            if verified is None:
                return False
            await conn.execute(
                "UPDATE users SET mfa_enabled_at = $1, updated_at = $1, failed_attempts = 0, locked_until = NULL "
                "WHERE id = $2",
                at,
                user_id,
            )
            if backup_codes is not None:
                await self._replace_codes(conn, user_id, backup_codes)
        return True

    async def consume_totp_step(self, user_id: str, step: int, at: int) -> bool:
        return await self._consume_and_reset(
            "UPDATE totp_credentials SET last_used_step = $1, updated_at = $2 "
            "WHERE user_id = $3 AND verified = TRUE AND last_used_step < $1 RETURNING user_id",
            step,
            at,
            user_id,
        )

    async def _consume_and_reset(self, consume: str, *params: Any) -> bool:
        """Run the compare-and-set ``consume`` (an ``UPDATE ... RETURNING user_id``) and, if it took,
        reset that user's failed attempts, in one statement (a data-modifying CTE): a success never
        erases failures counted after it."""
        consumed = await self._connected().fetchval(
            f"WITH consumed AS ({consume}), reset AS ("
            "UPDATE users SET failed_attempts = 0, locked_until = NULL "
            "WHERE id IN (SELECT user_id FROM consumed) AND failed_attempts > 0) "
            "SELECT COUNT(*) FROM consumed",
            *params,
        )
        return int(consumed) == 1

    async def disable_totp(self, user_id: str, at: int) -> TOTPRecord | None:
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                f"DELETE FROM totp_credentials WHERE user_id = $1 RETURNING {_TOTP_COLUMNS}", user_id
            )
            existing = _record(TOTPRecord, row)
            if existing is not None and existing.verified:
                await conn.execute("DELETE FROM backup_codes WHERE user_id = $1", user_id)
                await conn.execute("UPDATE users SET mfa_disabled_at = $1, updated_at = $1 WHERE id = $2", at, user_id)
        return existing

    async def import_totp(self, totp: TOTPRecord, at: int) -> None:
        async with self._transaction() as conn:
            await conn.execute("DELETE FROM totp_credentials WHERE user_id = $1", totp.user_id)
            await conn.execute(_insert("totp_credentials", _TOTP_COLUMNS), *_values(totp, _TOTP_COLUMNS))
            await conn.execute(
                "UPDATE users SET mfa_enabled_at = COALESCE(mfa_enabled_at, $1), updated_at = $1 WHERE id = $2",
                at,
                totp.user_id,
            )

    # --- backup codes ---------------------------------------------------------------------------

    @staticmethod
    async def _replace_codes(conn: asyncpg.Connection, user_id: str, codes: list[BackupCodeRecord]) -> None:
        await conn.execute("DELETE FROM backup_codes WHERE user_id = $1", user_id)
        if codes:
            await conn.executemany(
                _insert("backup_codes", _CODE_COLUMNS), [_values(code, _CODE_COLUMNS) for code in codes]
            )

    async def replace_backup_codes(self, user_id: str, codes: list[BackupCodeRecord]) -> None:
        async with self._transaction() as conn:
            await self._replace_codes(conn, user_id, codes)

    async def list_unused_backup_codes(self, user_id: str) -> list[BackupCodeRecord]:
        rows = await self._fetch(
            f"SELECT {_CODE_COLUMNS} FROM backup_codes WHERE user_id = $1 AND used_at IS NULL ORDER BY created_at, id",
            user_id,
        )
        return _records(BackupCodeRecord, rows)

    async def consume_backup_code(self, code_id: str, at: int) -> bool:
        return await self._consume_and_reset(
            "UPDATE backup_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL RETURNING user_id", at, code_id
        )

    @staticmethod
    async def _delete_codes(conn: asyncpg.Connection, user_id: str) -> int:
        """Delete every backup code of the user in one statement; returns how many of them were unused."""
        unused = await conn.fetchval(
            "WITH deleted AS (DELETE FROM backup_codes WHERE user_id = $1 RETURNING used_at) "
            "SELECT COUNT(*) FILTER (WHERE used_at IS NULL) FROM deleted",
            user_id,
        )
        return int(unused)

    async def delete_backup_codes(self, user_id: str, at: int) -> int:
        async with self._transaction() as conn:
            unused = await self._delete_codes(conn, user_id)
            if unused:
                await conn.execute("UPDATE users SET updated_at = $1 WHERE id = $2", at, user_id)
        return unused

    async def disable_mfa(self, user_id: str, at: int) -> tuple[TOTPRecord | None, int]:
        async with self._transaction() as conn:
            row = await conn.fetchrow(
                f"DELETE FROM totp_credentials WHERE user_id = $1 RETURNING {_TOTP_COLUMNS}", user_id
            )
            totp = _record(TOTPRecord, row)
            unused_codes = await self._delete_codes(conn, user_id)
            if totp is not None and totp.verified:
                await conn.execute("UPDATE users SET mfa_disabled_at = $1 WHERE id = $2", at, user_id)
            if totp is not None or unused_codes > 0:
                await conn.execute("UPDATE users SET updated_at = $1 WHERE id = $2", at, user_id)
        return totp, unused_codes

    # --- sealing keys (rotation) ----------------------------------------------------------------

    async def _count_by_key_id(self, table: str, column: str, version: str, condition: str) -> list[tuple[str, int]]:
        """``(key_id, count)`` of ``<version>.<key_id>.…`` values in ``table.column`` meeting ``condition``."""
        rows = await self._fetch(
            f"SELECT split_part({column}, '.', 2) AS key_id, COUNT(*) AS n FROM {table} "
            f"WHERE {condition} AND left({column}, 3) = $1 AND strpos(substr({column}, 4), '.') > 1 GROUP BY 1",
            f"{version}.",
        )
        return [(str(row["key_id"]), int(row["n"])) for row in rows]

    async def sealing_key_usage(self) -> dict[str, SealingKeyUsage]:
        usage: dict[str, SealingKeyUsage] = {}
        for key_id, count in await self._count_by_key_id("totp_credentials", "sealed_secret", "v1", "TRUE"):
            usage.setdefault(key_id, SealingKeyUsage(key_id=key_id)).totp_secrets = count
        for key_id, count in await self._count_by_key_id("backup_codes", "digest", "h1", "used_at IS NULL"):
            usage.setdefault(key_id, SealingKeyUsage(key_id=key_id)).backup_codes = count
        return usage

    async def list_totps_sealed_with(
        self, key_id: str, *, after_id: str | None = None, limit: int = 100
    ) -> list[TOTPRecord]:
        prefix = f"v1.{key_id}."
        rows = await self._fetch(
            f"SELECT {_TOTP_COLUMNS} FROM totp_credentials "
            "WHERE left(sealed_secret, $1) = $2 AND id > $3 ORDER BY id LIMIT $4",
            len(prefix),
            prefix,
            after_id or "",
            limit,
        )
        return _records(TOTPRecord, rows)

    async def reseal_totp(self, totp_id: str, *, old_sealed: str, new_sealed: str) -> bool:
        count = await self._execute(
            "UPDATE totp_credentials SET sealed_secret = $1 WHERE id = $2 AND sealed_secret = $3",
            new_sealed,
            totp_id,
            old_sealed,
        )
        return count == 1

    # --- clients and dev browsers ---------------------------------------------------------------

    async def create_client(self, client: ClientRecord) -> None:
        await self._execute(_insert("clients", _CLIENT_COLUMNS), *_values(client, _CLIENT_COLUMNS))

    async def get_client(self, client_id: str) -> ClientRecord | None:
        row = await self._fetchrow(f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE id = $1", client_id)
        return _record(ClientRecord, row)

    async def get_client_by_token_hash(self, token_hash: str) -> ClientRecord | None:
        row = await self._fetchrow(f"SELECT {_CLIENT_COLUMNS} FROM clients WHERE token_hash = $1", token_hash)
        return _record(ClientRecord, row)

    async def update_client(self, client: ClientRecord) -> None:
        await self._execute(_update_by_id("clients", _CLIENT_COLUMNS), *_values(client, _CLIENT_COLUMNS))

    async def create_dev_browser(self, token_hash: str, at: int) -> None:
        await self._execute(
            "INSERT INTO dev_browsers (token_hash, client_id, created_at) VALUES ($1, NULL, $2)", token_hash, at
        )

    async def get_dev_browser(self, token_hash: str) -> tuple[bool, str | None]:
        row = await self._fetchrow("SELECT client_id FROM dev_browsers WHERE token_hash = $1", token_hash)
        return (False, None) if row is None else (True, row["client_id"])

    async def bind_dev_browser(self, token_hash: str, client_id: str) -> None:
        await self._execute("UPDATE dev_browsers SET client_id = $1 WHERE token_hash = $2", client_id, token_hash)

    # --- sessions -------------------------------------------------------------------------------

    async def create_session(self, session: SessionRecord) -> None:
        await self._execute(_insert("sessions", _SESSION_COLUMNS), *_values(session, _SESSION_COLUMNS))

    async def get_session(self, session_id: str) -> SessionRecord | None:
        row = await self._fetchrow(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = $1", session_id)
        return _record(SessionRecord, row)

    async def list_client_sessions(self, client_id: str) -> list[SessionRecord]:
        rows = await self._fetch(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE client_id = $1 ORDER BY created_at, id", client_id
        )
        return _records(SessionRecord, rows)

    async def list_user_sessions(self, user_id: str) -> list[SessionRecord]:
        rows = await self._fetch(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE user_id = $1 ORDER BY created_at, id", user_id
        )
        return _records(SessionRecord, rows)

    async def update_session(self, session: SessionRecord) -> None:
        await self._execute(_update_by_id("sessions", _SESSION_COLUMNS), *_values(session, _SESSION_COLUMNS))

    async def mark_session_factor_verified(self, session_id: str, factor: str, at: int) -> bool:
        column = {"first_factor": "first_factor_at", "second_factor": "second_factor_at"}[factor]
        updated = await self._execute(
            f"UPDATE sessions SET {column} = $1, updated_at = $1 WHERE id = $2 AND status IN ('active', 'pending')",
            at,
            session_id,
        )
        return updated == 1

    async def save_session_verification(self, verification: SessionVerificationRecord) -> None:
        columns = _SESSION_VERIFICATION_COLUMNS
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in _names(columns)[1:])
        await self._execute(
            f"{_insert('session_verifications', columns)} ON CONFLICT (session_id) DO UPDATE SET {updates}",
            *_values(verification, columns),
        )

    async def get_session_verification(self, session_id: str) -> SessionVerificationRecord | None:
        row = await self._fetchrow(
            f"SELECT {_SESSION_VERIFICATION_COLUMNS} FROM session_verifications WHERE session_id = $1", session_id
        )
        return _record(SessionVerificationRecord, row)

    # --- sign-ins -------------------------------------------------------------------------------

    async def create_sign_in(self, sign_in: SignInRecord) -> None:
        await self._execute(_insert("sign_ins", _SIGN_IN_COLUMNS), *_values(sign_in, _SIGN_IN_COLUMNS))

    async def get_sign_in(self, sign_in_id: str) -> SignInRecord | None:
        row = await self._fetchrow(f"SELECT {_SIGN_IN_COLUMNS} FROM sign_ins WHERE id = $1", sign_in_id)
        return _record(SignInRecord, row)

    async def update_sign_in(self, sign_in: SignInRecord) -> None:
        await self._execute(_update_by_id("sign_ins", _SIGN_IN_COLUMNS), *_values(sign_in, _SIGN_IN_COLUMNS))

    async def record_second_factor_failure(self, sign_in_id: str) -> None:
        await self._execute(
            "UPDATE sign_ins SET second_factor_attempts = second_factor_attempts + 1 WHERE id = $1", sign_in_id
        )

    # --- request-rate limits --------------------------------------------------------------------

    async def hit_rate_limits(self, buckets: Sequence[str], *, window_start: int) -> list[int]:
        if not buckets:
            return []
        counts: dict[str, int] = {}
        async with self._transaction() as conn:
            # Rows of ended windows that another transaction holds are left to the next hit (SKIP
            # LOCKED): pruning never waits, so it can never deadlock with a concurrent hit.
            await conn.execute(
                "DELETE FROM rate_limits WHERE ctid = ANY(ARRAY(SELECT ctid FROM rate_limits "
                "WHERE window_start < $1 FOR UPDATE SKIP LOCKED))",
                window_start,
            )
            # Buckets in one global order, so two transactions never wait for each other in a cycle;
            # a row of an ended window that pruning skipped starts again at 1 here.
            for bucket in sorted(set(buckets)):
                counts[bucket] = int(
                    await conn.fetchval(
                        "INSERT INTO rate_limits AS r (bucket, window_start, hits) VALUES ($1, $2, 1) "
                        "ON CONFLICT (bucket) DO UPDATE SET "
                        "hits = CASE WHEN r.window_start < EXCLUDED.window_start THEN 1 ELSE r.hits + 1 END, "
                        "window_start = GREATEST(r.window_start, EXCLUDED.window_start) RETURNING hits",
                        bucket,
                        window_start,
                    )
                )
        return [counts[bucket] for bucket in buckets]

    # --- expiry ---------------------------------------------------------------------------------

    async def sweep_expired(self, *, now: int, idle_before: int, rate_limits_before: int) -> SweepCounts:
        statements = (
            ("sign_ins", "DELETE FROM sign_ins WHERE abandon_at <= $1", now),
            (
                "sessions",
                "DELETE FROM sessions WHERE expire_at <= $1 "
                "OR (status NOT IN ('active', 'pending') AND updated_at <= $1)",
                idle_before,
            ),
            (
                "clients",
                "DELETE FROM clients WHERE updated_at <= $1 "
                "AND NOT EXISTS (SELECT 1 FROM sessions WHERE sessions.client_id = clients.id) "
                "AND NOT EXISTS (SELECT 1 FROM sign_ins WHERE sign_ins.client_id = clients.id)",
                idle_before,
            ),
            ("dev_browsers", "DELETE FROM dev_browsers WHERE client_id IS NULL AND created_at <= $1", idle_before),
            ("rate_limits", "DELETE FROM rate_limits WHERE window_start < $1", rate_limits_before),
        )
        counts: dict[str, int] = {}
        async with self._transaction() as conn:
            for name, sql, value in statements:
                status: str = await conn.execute(sql, value)
                counts[name] = int(status.rsplit(" ", 1)[-1])
        return SweepCounts(**counts)

    # --- audit log ------------------------------------------------------------------------------

    async def append_audit_event(self, event: AuditEventRecord) -> int:
        columns = _AUDIT_COLUMNS.removeprefix("seq, ")
        values = (*_values(event, columns)[:-1], msgspec.json.encode(event.detail).decode())
        # An identity value is drawn at insert but becomes visible at commit, so two appenders could
        # commit out of order and a reader paging with after_seq would skip the later-visible one. The
        # transaction-level lock makes sequence order and commit order the same.
        try:
            async with self._transaction() as conn:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", AUDIT_LOCK_ID)
                seq = await conn.fetchval(f"{_insert('audit_events', columns)} RETURNING seq", *values)
        except asyncpg.UniqueViolationError as exc:
            raise DuplicateError(event.id) from exc
        return int(seq)

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
        conditions = ["seq > $1"]
        params: list[int | str] = [after_seq]
        for condition, value in (("user_id = ", user_id), ("at >= ", since), ("at < ", until)):
            if value is not None:
                params.append(value)
                conditions.append(f"{condition}${len(params)}")
        params.append(limit)
        rows = await self._fetch(
            f"SELECT {_AUDIT_COLUMNS} FROM audit_events WHERE {' AND '.join(conditions)} "
            f"ORDER BY seq LIMIT ${len(params)}",
            *params,
        )
        return [_audit_event(row) for row in rows]
