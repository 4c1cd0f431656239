"""Versioned schema migrations of the SQLite store; each entry is applied once, in order.

An entry is a string of statements separated by ``;``, or a tuple of single statements (needed when a
statement itself contains ``;``, as a trigger body does).
"""

from __future__ import annotations

__all__ = ("MIGRATIONS",)

MIGRATIONS: tuple[str | tuple[str, ...], ...] = (
    # 1: initial schema
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        email_lower TEXT NOT NULL UNIQUE,
        email_id TEXT NOT NULL,
        password_hash TEXT,
        first_name TEXT,
        last_name TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_sign_in_at INTEGER,
        last_active_at INTEGER,
        mfa_enabled_at INTEGER,
        mfa_disabled_at INTEGER,
        failed_attempts INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER
    );
    CREATE TABLE totp_credentials (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
        sealed_secret TEXT NOT NULL,
        verified INTEGER NOT NULL,
        last_used_step INTEGER NOT NULL DEFAULT -1,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE backup_codes (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        set_id TEXT NOT NULL,
        digest TEXT NOT NULL,
        used_at INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX backup_codes_user ON backup_codes(user_id);
    CREATE TABLE clients (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        sign_in_id TEXT,
        last_active_session_id TEXT,
        last_authentication_strategy TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE dev_browsers (
        token_hash TEXT PRIMARY KEY,
        client_id TEXT REFERENCES clients(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_active_at INTEGER NOT NULL,
        expire_at INTEGER NOT NULL,
        abandon_at INTEGER NOT NULL,
        first_factor_at INTEGER,
        second_factor_at INTEGER
    );
    CREATE INDEX sessions_client ON sessions(client_id);
    CREATE TABLE sign_ins (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
        user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
        identifier TEXT,
        status TEXT NOT NULL,
        first_factor_strategy TEXT,
        first_factor_verified INTEGER NOT NULL DEFAULT 0,
        first_factor_attempts INTEGER NOT NULL DEFAULT 0,
        second_factor_strategy TEXT,
        second_factor_verified INTEGER NOT NULL DEFAULT 0,
        second_factor_attempts INTEGER NOT NULL DEFAULT 0,
        created_session_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        abandon_at INTEGER NOT NULL
    );
    """,
    # 2: when the first factor of a sign-in was verified (the first element of a session's fva)
    """
    ALTER TABLE sign_ins ADD COLUMN first_factor_verified_at INTEGER
    """,
    # 3: the append-only audit log of security events (triggers refuse UPDATE and DELETE)
    (
        """
        CREATE TABLE audit_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            at INTEGER NOT NULL,
            event TEXT NOT NULL,
            outcome TEXT NOT NULL,
            user_id TEXT,
            client_id TEXT,
            session_id TEXT,
            ip TEXT,
            trace_id TEXT,
            detail TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX audit_events_user_at ON audit_events(user_id, at)",
        "CREATE INDEX audit_events_at ON audit_events(at)",
        """
        CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
        """,
        """
        CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END
        """,
    ),
    # 4: request-rate limits per client and per IP address (fixed windows, shared by every process);
    # the index lets each hit prune the rows of ended windows cheaply
    """
    CREATE TABLE rate_limits (
        bucket TEXT PRIMARY KEY,
        window_start INTEGER NOT NULL,
        hits INTEGER NOT NULL
    );
    CREATE INDEX rate_limits_window_start ON rate_limits(window_start)
    """,
    # 5: the reverification (step-up) in progress of a session (POST /v1/client/sessions/{id}/verify)
    """
    CREATE TABLE session_verifications (
        session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        level TEXT NOT NULL,
        status TEXT NOT NULL,
        first_factor_strategy TEXT,
        first_factor_verified INTEGER NOT NULL DEFAULT 0,
        first_factor_attempts INTEGER NOT NULL DEFAULT 0,
        second_factor_strategy TEXT,
        second_factor_verified INTEGER NOT NULL DEFAULT 0,
        second_factor_attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )
    """,
    # 6: what the expiry sweep (Store.sweep_expired) selects by, and the foreign keys its deletes cascade
    # through (without an index, deleting one client scans every sign-in and dev browser)
    """
    CREATE INDEX sign_ins_client ON sign_ins(client_id);
    CREATE INDEX sign_ins_abandon_at ON sign_ins(abandon_at);
    CREATE INDEX sessions_expire_at ON sessions(expire_at);
    CREATE INDEX clients_updated_at ON clients(updated_at);
    CREATE INDEX dev_browsers_client ON dev_browsers(client_id);
    CREATE INDEX dev_browsers_created_at ON dev_browsers(created_at)
    """,
    # 7: a user's sessions on every device (GET /v1/me/sessions/active, Clerk's "Active devices")
    "CREATE INDEX sessions_user ON sessions(user_id)",
)
