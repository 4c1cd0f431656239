"""The CLI on PostgreSQL: ``--database-url`` / ``TOTPKIT_DATABASE_URL`` reach every command that opens a store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from totpkit_server.cli import main
from totpkit_server.config import TOTPKitConfig
from totpkit_server.storage._postgres_migrations import MIGRATIONS
from totpkit_server.storage.factory import create_store
from totpkit_server.storage.postgres import PostgresStore
from totpkit_server.storage.sqlite import SQLiteStore


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_migrate_create_user_audit_and_keys_on_postgres(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command works on the database the URL names, and none creates a SQLite file."""
    data = ["--data-dir", str(tmp_path)]
    status, out, _ = run(capsys, "migrate", *data, "--database-url", postgres_url)
    assert (status, out.strip()) == (0, f"schema version {len(MIGRATIONS)}")

    monkeypatch.setenv("TOTPKIT_DATABASE_URL", postgres_url)  # the environment works as well as the flag
    status, out, err = run(
        capsys, "create-user", *data, "--email", "pg@example.com", "--password", "correct horse battery staple"
    )
    assert status == 0, err
    user_id = out.strip()
    status, out, err = run(capsys, "audit", *data, "--user", user_id, "--json")
    assert status == 0, err
    assert '"event":"user.created"' in out.replace(" ", "")
    status, out, err = run(capsys, "keys", "list", *data)
    assert status == 0, err
    assert "sealing keys" in out
    assert not (tmp_path / "totpkit.db").exists()

    async def stored_email() -> str | None:
        async with PostgresStore(postgres_url) as store:
            user = await store.get_user(user_id)
            return user.email if user else None

    assert asyncio.run(stored_email()) == "pg@example.com"


def test_the_url_picks_the_backend(tmp_path: Path) -> None:
    """``postgresql://`` and ``postgres://`` give PostgreSQL; ``sqlite:///`` and ``None`` SQLite; others fail."""
    for url in ("postgresql://u@h/db", "postgres://u@h/db"):
        assert isinstance(create_store(TOTPKitConfig(data_dir=tmp_path, database_url=url)), PostgresStore)
    for sqlite_url in (None, f"sqlite:///{tmp_path}/x.db"):
        assert isinstance(create_store(TOTPKitConfig(data_dir=tmp_path, database_url=sqlite_url)), SQLiteStore)
    with pytest.raises(ValueError, match="database_url"):
        TOTPKitConfig(database_url="mysql://u@h/db")
    with pytest.raises(ValueError, match="pool sizes"):
        TOTPKitConfig(database_url="postgresql://u@h/db", database_pool_min_size=5, database_pool_max_size=2)
