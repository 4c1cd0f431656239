"""Versioned schema migrations of the PostgreSQL store; each entry is applied once, in order.

Each entry is a tuple of single statements, run in one transaction together with the row that records
the version (PostgreSQL's DDL is transactional: a failed migration leaves no trace). The numbering
follows the SQLite store's migrations so both backends report the same ``schema_version``.

Ids are ``TEXT COLLATE "C"``: ordered byte-wise like SQLite orders them, whatever the database's
locale, so keyset pagination (``id > after_id ORDER BY id``) visits the same rows on both backends.
Times are Unix milliseconds in ``BIGINT``.
"""

from __future__ import annotations

__all__ = ("MIGRATIONS",)

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: initial schema
    (
        """
        CREATE TABLE users (
            id TEXT COLLATE "C" PRIMARY KEY,
            email TEXT NOT NULL,
            email_lower TEXT NOT NULL UNIQUE,
            email_id TEXT NOT NULL,
            password_hash TEXT,
            first_name TEXT,
            last_name TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            last_sign_in_at BIGINT,
            last_active_at BIGINT,
            mfa_enabled_at BIGINT,
            mfa_disabled_at BIGINT,
            failed_attempts INTEGER NOT NULL DEFAULT 0,
            locked_until BIGINT
        )
        """,
        """
        CREATE TABLE totp_credentials (
            id TEXT COLLATE "C" PRIMARY KEY,
            user_id TEXT COLLATE "C" NOT NULL UNIQUE REFERENCES users(id) ON DELETE CASCADE,
            sealed_secret TEXT NOT NULL,
            verified BOOLEAN NOT NULL,
            last_used_step BIGINT NOT NULL DEFAULT -1,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE backup_codes (
            id TEXT COLLATE "C" PRIMARY KEY,
            user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            set_id TEXT NOT NULL,
            digest TEXT NOT NULL,
            used_at BIGINT,
            created_at BIGINT NOT NULL
        )
        """,
        "CREATE INDEX backup_codes_user ON backup_codes(user_id)",
        """
        CREATE TABLE clients (
            id TEXT COLLATE "C" PRIMARY KEY,
            token_hash TEXT NOT NULL UNIQUE,
            sign_in_id TEXT,
            last_active_session_id TEXT,
            last_authentication_strategy TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE dev_browsers (
            token_hash TEXT PRIMARY KEY,
            client_id TEXT COLLATE "C" REFERENCES clients(id) ON DELETE SET NULL,
            created_at BIGINT NOT NULL
        )
        """,
        """
        CREATE TABLE sessions (
            id TEXT COLLATE "C" PRIMARY KEY,
            client_id TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
            user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            status TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            last_active_at BIGINT NOT NULL,
            expire_at BIGINT NOT NULL,
            abandon_at BIGINT NOT NULL,
            first_factor_at BIGINT,
            second_factor_at BIGINT
        )
        """,
        "CREATE INDEX sessions_client ON sessions(client_id)",
        """
        CREATE TABLE sign_ins (
            id TEXT COLLATE "C" PRIMARY KEY,
            client_id TEXT COLLATE "C" NOT NULL REFERENCES clients(id) ON DELETE CASCADE,
            user_id TEXT COLLATE "C" REFERENCES users(id) ON DELETE CASCADE,
            identifier TEXT,
            status TEXT NOT NULL,
            first_factor_strategy TEXT,
            first_factor_verified BOOLEAN NOT NULL DEFAULT FALSE,
            first_factor_attempts INTEGER NOT NULL DEFAULT 0,
            second_factor_strategy TEXT,
            second_factor_verified BOOLEAN NOT NULL DEFAULT FALSE,
            second_factor_attempts INTEGER NOT NULL DEFAULT 0,
            created_session_id TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            abandon_at BIGINT NOT NULL
        )
        """,
    ),
    # 2: when the first factor of a sign-in was verified (the first element of a session's fva)
    ("ALTER TABLE sign_ins ADD COLUMN first_factor_verified_at BIGINT",),
    # 3: the append-only audit log of security events (a trigger refuses UPDATE, DELETE and TRUNCATE)
    (
        """
        CREATE TABLE audit_events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            at BIGINT NOT NULL,
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
        CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'restrict_violation';
        END
        $$
        """,
        """
        CREATE TRIGGER audit_events_no_change BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
        """,
        """
        CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
        FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
        """,
    ),
    # 4: request-rate limits per client and per IP address (fixed windows, shared by every process)
    (
        """
        CREATE TABLE rate_limits (
            bucket TEXT PRIMARY KEY,
            window_start BIGINT NOT NULL,
            hits INTEGER NOT NULL
        )
        """,
        "CREATE INDEX rate_limits_window_start ON rate_limits(window_start)",
    ),
    # 5: the reverification (step-up) in progress of a session (POST /v1/client/sessions/{id}/verify)
    (
        """
        CREATE TABLE session_verifications (
            session_id TEXT COLLATE "C" PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
            user_id TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            level TEXT NOT NULL,
            status TEXT NOT NULL,
            first_factor_strategy TEXT,
            first_factor_verified BOOLEAN NOT NULL DEFAULT FALSE,
            first_factor_attempts INTEGER NOT NULL DEFAULT 0,
            second_factor_strategy TEXT,
            second_factor_verified BOOLEAN NOT NULL DEFAULT FALSE,
            second_factor_attempts INTEGER NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
    ),
    # 6: what the expiry sweep (Store.sweep_expired) selects by, and the foreign keys its deletes cascade
    # through (the same indexes as SQLite's migration 6)
    (
        "CREATE INDEX sign_ins_client ON sign_ins(client_id)",
        "CREATE INDEX sign_ins_abandon_at ON sign_ins(abandon_at)",
        "CREATE INDEX sessions_expire_at ON sessions(expire_at)",
        "CREATE INDEX clients_updated_at ON clients(updated_at)",
        "CREATE INDEX dev_browsers_client ON dev_browsers(client_id)",
        "CREATE INDEX dev_browsers_created_at ON dev_browsers(created_at)",
    ),
    # 7: a user's sessions on every device (GET /v1/me/sessions/active, Clerk's "Active devices")
    ("CREATE INDEX sessions_user ON sessions(user_id)",),
)
