"""The Store contract, run against every backend (SQLite and PostgreSQL).

Each test receives ``store`` (an open store) and, where it needs a second connection to the same
database (another worker process), ``open_store``. To add a backend, add its name to ``BACKENDS``
and define ``<name>_store_factory``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from totpkit_server.storage import (
    AuditEventRecord,
    BackupCodeRecord,
    ClientRecord,
    DuplicateError,
    SessionRecord,
    SessionVerificationRecord,
    SignInRecord,
    Store,
    TOTPRecord,
    UserRecord,
)
from totpkit_server.storage._postgres_migrations import MIGRATIONS as POSTGRES_MIGRATIONS
from totpkit_server.storage._sqlite_migrations import MIGRATIONS
from totpkit_server.storage.postgres import PostgresStore
from totpkit_server.storage.sqlite import SQLiteStore

BACKENDS = ["sqlite", "postgres"]
T0 = 1_700_000_000_000

StoreFactory = Callable[[], Awaitable[Store]]


@pytest.fixture
async def sqlite_store_factory(tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Opens stores on one SQLite file; every store opened is closed after the test."""
    opened: list[Store] = []

    async def open_store() -> Store:
        store = SQLiteStore(tmp_path / "db.sqlite")
        await store.open()
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


@pytest.fixture
async def postgres_store_factory(postgres_url: str) -> AsyncIterator[StoreFactory]:
    """Opens stores (each with its own connection pool) on one fresh PostgreSQL schema."""
    opened: list[Store] = []

    async def open_store() -> Store:
        store = PostgresStore(postgres_url, min_size=1, max_size=4)
        await store.open()
        opened.append(store)
        return store

    yield open_store
    for store in opened:
        await store.close()


@pytest.fixture(params=BACKENDS)
def open_store(request: pytest.FixtureRequest) -> StoreFactory:
    """A factory of open stores that share one database (one per backend)."""
    factory: StoreFactory = request.getfixturevalue(f"{request.param}_store_factory")
    return factory


@pytest.fixture
async def store(open_store: StoreFactory) -> Store:
    return await open_store()


def user_record(n: int = 1, *, email: str | None = None) -> UserRecord:
    return UserRecord(
        id=f"user_{n}",
        email=email or f"user{n}@example.com",
        email_id=f"idn_{n}",
        password_hash="$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA",
        created_at=T0,
        updated_at=T0,
    )


def totp_record(user_id: str = "user_1", *, totp_id: str = "totp_1", verified: bool = False) -> TOTPRecord:
    return TOTPRecord(
        id=totp_id,
        user_id=user_id,
        sealed_secret=f"v1.k1.sealed-{totp_id}",
        verified=verified,
        created_at=T0,
        updated_at=T0,
    )


def code_records(user_id: str = "user_1", set_id: str = "bcode_1", count: int = 3) -> list[BackupCodeRecord]:
    return [
        BackupCodeRecord(id=f"{set_id}_{i}", user_id=user_id, set_id=set_id, digest=f"h1.k1.{set_id}{i}", created_at=T0)
        for i in range(count)
    ]


async def with_user(store: Store, n: int = 1) -> UserRecord:
    user = user_record(n)
    await store.create_user(user)
    return user


async def with_verified_totp(store: Store, user_id: str = "user_1", step: int = 100) -> None:
    assert await store.replace_pending_totp(totp_record(user_id))
    assert await store.complete_totp_enrolment(user_id=user_id, totp_id="totp_1", step=step, at=T0, backup_codes=None)


class TestMigrations:
    async def test_fresh_store_is_at_the_latest_version(self, store: Store) -> None:
        """Opening a new database applies every migration."""
        assert await store.schema_version() == len(MIGRATIONS)

    async def test_open_twice_is_a_no_op(self, store: Store) -> None:
        """Calling open() again on an open store keeps it usable and changes nothing."""
        await store.open()
        await with_user(store)
        assert await store.schema_version() == len(MIGRATIONS)
        assert await store.get_user("user_1") is not None

    async def test_reopening_keeps_data_and_version(self, open_store: StoreFactory) -> None:
        """A second store on the same database neither re-applies migrations nor loses data."""
        first = await open_store()
        await with_user(first)
        second = await open_store()
        assert await second.schema_version() == len(MIGRATIONS)
        assert await second.get_user("user_1") == user_record(1)

    async def test_both_backends_have_the_same_versions(self) -> None:
        """Migration N means the same schema change on SQLite and PostgreSQL."""
        assert len(POSTGRES_MIGRATIONS) == len(MIGRATIONS)

    async def test_processes_starting_at_once_migrate_once(self, open_store: StoreFactory) -> None:
        """Four stores opening a fresh database at the same moment all end at the latest version, with
        no error (PostgreSQL: the advisory lock; SQLite: ``BEGIN IMMEDIATE``)."""
        stores = await asyncio.gather(*(open_store() for _ in range(4)))
        assert [await store.schema_version() for store in stores] == [len(MIGRATIONS)] * 4
        await with_user(stores[0])
        assert await stores[3].get_user("user_1") == user_record(1)

    async def test_lookups_by_a_value_with_nul_find_nothing(self, store: Store) -> None:
        """An id from a request path may hold NUL (``%00``); PostgreSQL text cannot, and must not fail."""
        await with_user(store)
        assert await store.get_user("user_1\x00") is None
        assert await store.get_user_by_email("user1@example.com\x00") is None
        assert await store.get_session("sess_\x00") is None
        assert await store.get_sign_in("\x00") is None
        assert await store.get_client_by_token_hash("\x00") is None
        assert await store.list_client_sessions("client_\x00") == []

    async def test_closed_store_can_be_closed_again(self, store: Store) -> None:
        """close() on a closed store is a no-op."""
        await store.close()
        await store.close()


class TestUsers:
    async def test_round_trip(self, store: Store) -> None:
        """A user reads back exactly as written, by id and by email."""
        user = user_record(1)
        user.first_name, user.last_name = "Jane", "Doe"
        await store.create_user(user)
        assert await store.get_user("user_1") == user
        assert await store.get_user_by_email("user1@example.com") == user

    async def test_email_lookup_is_case_insensitive(self, store: Store) -> None:
        """Email lookup ignores case."""
        await store.create_user(user_record(1, email="Jane.Doe@Example.com"))
        found = await store.get_user_by_email("jane.doe@EXAMPLE.COM")
        assert found is not None
        assert found.email == "Jane.Doe@Example.com"

    async def test_unknown_user_is_none(self, store: Store) -> None:
        """Unknown ids and emails give None."""
        assert await store.get_user("user_nope") is None
        assert await store.get_user_by_email("nobody@example.com") is None

    async def test_duplicate_email_differing_in_case_is_rejected(self, store: Store) -> None:
        """A second user with the same email in another case raises DuplicateError and is not stored."""
        await store.create_user(user_record(1, email="jane@example.com"))
        with pytest.raises(DuplicateError):
            await store.create_user(user_record(2, email="JANE@example.COM"))
        assert await store.get_user("user_2") is None

    async def test_update_round_trip(self, store: Store) -> None:
        """update_user overwrites every mutable field."""
        user = await with_user(store)
        user.first_name = "New"
        user.last_sign_in_at = T0 + 1
        user.last_active_at = T0 + 2
        user.updated_at = T0 + 3
        user.mfa_enabled_at = T0 + 4
        user.mfa_disabled_at = T0 + 5
        await store.update_user(user)
        assert await store.get_user(user.id) == user

    async def test_update_of_unknown_user_is_a_no_op(self, store: Store) -> None:
        """update_user on an absent user creates nothing."""
        await store.update_user(user_record(9))
        assert await store.get_user("user_9") is None


class TestLockout:
    async def test_locks_exactly_at_the_threshold(self, store: Store) -> None:
        """The user is locked on the max_attempts-th failure, not before."""
        await with_user(store)
        for attempt in range(1, 3):
            updated = await store.register_verification_failure("user_1", at=T0, max_attempts=3, lockout_ms=60_000)
            assert updated is not None
            assert updated.failed_attempts == attempt
            assert updated.locked_until is None
        updated = await store.register_verification_failure("user_1", at=T0, max_attempts=3, lockout_ms=60_000)
        assert updated is not None
        assert updated.failed_attempts == 3
        assert updated.locked_until == T0 + 60_000

    async def test_zero_max_attempts_never_locks(self, store: Store) -> None:
        """max_attempts=0 disables locking."""
        await with_user(store)
        for _ in range(20):
            updated = await store.register_verification_failure("user_1", at=T0, max_attempts=0, lockout_ms=60_000)
        assert updated is not None
        assert updated.locked_until is None

    async def test_unknown_user_gives_none(self, store: Store) -> None:
        """Counting a failure for an unknown user returns None."""
        assert await store.register_verification_failure("user_x", at=T0, max_attempts=3, lockout_ms=1) is None

    async def test_reset_clears_counter_and_lock(self, store: Store) -> None:
        """reset_verification_failures clears both the count and the lock."""
        await with_user(store)
        for _ in range(3):
            await store.register_verification_failure("user_1", at=T0, max_attempts=3, lockout_ms=60_000)
        await store.reset_verification_failures("user_1")
        user = await store.get_user("user_1")
        assert user is not None
        assert (user.failed_attempts, user.locked_until) == (0, None)

    async def test_a_consumed_code_resets_in_the_same_step(self, store: Store) -> None:
        """A TOTP step or backup code that is consumed clears the count and lock; a refused one leaves them."""
        await with_user(store)
        await with_verified_totp(store, step=100)
        await store.replace_backup_codes("user_1", code_records())
        for consume in (
            lambda: store.consume_totp_step("user_1", 101, T0),
            lambda: store.consume_backup_code(code_records()[0].id, T0),
        ):
            for _ in range(3):
                await store.register_verification_failure("user_1", at=T0, max_attempts=3, lockout_ms=60_000)
            assert await consume()
            user = await store.get_user("user_1")
            assert user is not None
            assert (user.failed_attempts, user.locked_until) == (0, None)
            await store.register_verification_failure("user_1", at=T0, max_attempts=3, lockout_ms=60_000)
            assert not await consume()  # the same step or code again: refused, the count stays
            user = await store.get_user("user_1")
            assert user is not None
            assert user.failed_attempts == 1
            await store.reset_verification_failures("user_1")

    async def test_concurrent_failures_are_all_counted(self, store: Store) -> None:
        """Concurrent failures are counted atomically (none is lost)."""
        await with_user(store)
        await asyncio.gather(
            *(store.register_verification_failure("user_1", at=T0, max_attempts=100, lockout_ms=1) for _ in range(25))
        )
        user = await store.get_user("user_1")
        assert user is not None
        assert user.failed_attempts == 25


class TestTOTP:
    async def test_pending_round_trip(self, store: Store) -> None:
        """A pending TOTP reads back as written."""
        await with_user(store)
        totp = totp_record()
        assert await store.replace_pending_totp(totp)
        assert await store.get_totp("user_1") == totp

    async def test_replace_pending_replaces_an_unverified_one(self, store: Store) -> None:
        """A new pending TOTP replaces the previous unverified one."""
        await with_user(store)
        assert await store.replace_pending_totp(totp_record(totp_id="totp_1"))
        assert await store.replace_pending_totp(totp_record(totp_id="totp_2"))
        stored = await store.get_totp("user_1")
        assert stored is not None
        assert stored.id == "totp_2"

    async def test_replace_pending_refuses_when_verified(self, store: Store) -> None:
        """replace_pending_totp returns False and keeps the verified TOTP."""
        await with_user(store)
        await with_verified_totp(store)
        assert not await store.replace_pending_totp(totp_record(totp_id="totp_2"))
        stored = await store.get_totp("user_1")
        assert stored is not None
        assert (stored.id, stored.verified) == ("totp_1", True)

    async def test_complete_enrolment_verifies_and_records_the_step(self, store: Store) -> None:
        """Completing enrolment marks the TOTP verified, stores the step, enables MFA and adds backup codes."""
        await with_user(store)
        await store.replace_pending_totp(totp_record())
        codes = code_records()
        assert await store.complete_totp_enrolment(
            user_id="user_1", totp_id="totp_1", step=42, at=T0 + 5, backup_codes=codes
        )
        stored = await store.get_totp("user_1")
        assert stored is not None
        assert (stored.verified, stored.last_used_step) == (True, 42)
        user = await store.get_user("user_1")
        assert user is not None
        assert user.mfa_enabled_at == T0 + 5
        assert await store.list_unused_backup_codes("user_1") == codes

    async def test_complete_enrolment_is_compare_and_set(self, store: Store) -> None:
        """A second completion (same or later step) returns False."""
        await with_user(store)
        await store.replace_pending_totp(totp_record())
        assert await store.complete_totp_enrolment(user_id="user_1", totp_id="totp_1", step=5, at=T0, backup_codes=None)
        assert not await store.complete_totp_enrolment(
            user_id="user_1", totp_id="totp_1", step=5, at=T0, backup_codes=code_records()
        )
        assert not await store.complete_totp_enrolment(
            user_id="user_1", totp_id="totp_1", step=6, at=T0, backup_codes=None
        )
        assert await store.list_unused_backup_codes("user_1") == []

    async def test_complete_enrolment_of_a_replaced_totp_fails(self, store: Store) -> None:
        """Completing a TOTP id that was replaced returns False and changes nothing."""
        await with_user(store)
        await store.replace_pending_totp(totp_record(totp_id="totp_1"))
        await store.replace_pending_totp(totp_record(totp_id="totp_2"))
        assert not await store.complete_totp_enrolment(
            user_id="user_1", totp_id="totp_1", step=5, at=T0, backup_codes=None
        )
        stored = await store.get_totp("user_1")
        assert stored is not None
        assert (stored.id, stored.verified) == ("totp_2", False)

    async def test_concurrent_completion_succeeds_once(self, store: Store) -> None:
        """Of racing completions with the same step exactly one succeeds."""
        await with_user(store)
        await store.replace_pending_totp(totp_record())
        results = await asyncio.gather(
            *(
                store.complete_totp_enrolment(user_id="user_1", totp_id="totp_1", step=7, at=T0, backup_codes=None)
                for _ in range(20)
            )
        )
        assert results.count(True) == 1

    async def test_consume_step_only_increases(self, store: Store) -> None:
        """consume_totp_step accepts only steps above the last accepted one."""
        await with_user(store)
        await with_verified_totp(store, step=100)
        assert not await store.consume_totp_step("user_1", 100, T0)
        assert not await store.consume_totp_step("user_1", 99, T0)
        assert await store.consume_totp_step("user_1", 101, T0)
        assert not await store.consume_totp_step("user_1", 101, T0)
        assert await store.consume_totp_step("user_1", 103, T0)
        assert not await store.consume_totp_step("user_1", 102, T0)
        stored = await store.get_totp("user_1")
        assert stored is not None
        assert stored.last_used_step == 103

    async def test_consume_step_needs_a_verified_totp(self, store: Store) -> None:
        """A pending TOTP (or none) never accepts a step."""
        await with_user(store)
        assert not await store.consume_totp_step("user_1", 5, T0)
        await store.replace_pending_totp(totp_record())
        assert not await store.consume_totp_step("user_1", 5, T0)

    async def test_concurrent_consumption_of_one_step_succeeds_once(self, open_store: StoreFactory) -> None:
        """Racing consumptions of one step, over two connections, accept it exactly once (repeated)."""
        first, second = await open_store(), await open_store()
        await with_user(first)
        await with_verified_totp(first, step=0)
        for step in range(1, 6):
            results = await asyncio.gather(
                *(store.consume_totp_step("user_1", step, T0) for store in [first, second] * 10)
            )
            assert results.count(True) == 1, (step, results)

    async def test_disable_removes_totp_and_backup_codes(self, store: Store) -> None:
        """Disabling a verified TOTP deletes it and the backup codes and sets mfa_disabled_at."""
        await with_user(store)
        await store.replace_pending_totp(totp_record())
        await store.complete_totp_enrolment(
            user_id="user_1", totp_id="totp_1", step=1, at=T0, backup_codes=code_records()
        )
        deleted = await store.disable_totp("user_1", T0 + 9)
        assert deleted is not None
        assert deleted.id == "totp_1"
        assert await store.get_totp("user_1") is None
        assert await store.list_unused_backup_codes("user_1") == []
        user = await store.get_user("user_1")
        assert user is not None
        assert user.mfa_disabled_at == T0 + 9

    async def test_disable_pending_totp_keeps_mfa_state(self, store: Store) -> None:
        """Deleting an unverified TOTP does not set mfa_disabled_at."""
        await with_user(store)
        await store.replace_pending_totp(totp_record())
        assert await store.disable_totp("user_1", T0) is not None
        user = await store.get_user("user_1")
        assert user is not None
        assert user.mfa_disabled_at is None

    async def test_disable_without_totp_gives_none(self, store: Store) -> None:
        """Nothing to disable returns None."""
        await with_user(store)
        assert await store.disable_totp("user_1", T0) is None

    async def test_import_replaces_and_enables(self, store: Store) -> None:
        """import_totp stores a verified TOTP in place of any other and sets mfa_enabled_at."""
        await with_user(store)
        await store.replace_pending_totp(totp_record(totp_id="totp_1"))
        imported = totp_record(totp_id="totp_2", verified=True)
        await store.import_totp(imported, T0 + 1)
        assert await store.get_totp("user_1") == imported
        user = await store.get_user("user_1")
        assert user is not None
        assert user.mfa_enabled_at == T0 + 1


class TestBackupCodes:
    async def test_replace_swaps_the_whole_set(self, store: Store) -> None:
        """replace_backup_codes leaves only the new set."""
        await with_user(store)
        await store.replace_backup_codes("user_1", code_records(set_id="bcode_a"))
        new = code_records(set_id="bcode_b", count=2)
        await store.replace_backup_codes("user_1", new)
        assert await store.list_unused_backup_codes("user_1") == new

    async def test_consume_once(self, store: Store) -> None:
        """A code is consumed once and then no longer listed."""
        await with_user(store)
        codes = code_records()
        await store.replace_backup_codes("user_1", codes)
        assert await store.consume_backup_code(codes[1].id, T0)
        assert not await store.consume_backup_code(codes[1].id, T0)
        assert [c.id for c in await store.list_unused_backup_codes("user_1")] == [codes[0].id, codes[2].id]

    async def test_consume_unknown_code(self, store: Store) -> None:
        """An unknown code id is not consumed."""
        assert not await store.consume_backup_code("bcode_nope_0", T0)

    async def test_concurrent_consumption_succeeds_once(self, open_store: StoreFactory) -> None:
        """Racing consumptions of one code, over two connections, succeed exactly once."""
        first, second = await open_store(), await open_store()
        await with_user(first)
        codes = code_records(count=5)
        await first.replace_backup_codes("user_1", codes)
        for code in codes:
            results = await asyncio.gather(*(s.consume_backup_code(code.id, T0) for s in [first, second] * 10))
            assert results.count(True) == 1

    async def test_codes_are_per_user(self, store: Store) -> None:
        """One user's codes are not listed for another."""
        await with_user(store, 1)
        await with_user(store, 2)
        await store.replace_backup_codes("user_1", code_records("user_1"))
        assert await store.list_unused_backup_codes("user_2") == []


def sealed_totp(user_id: str, totp_id: str, sealed: str, *, verified: bool = True) -> TOTPRecord:
    return TOTPRecord(
        id=totp_id, user_id=user_id, sealed_secret=sealed, verified=verified, created_at=T0, updated_at=T0
    )


class TestSealingKeys:
    async def test_usage_counts_secrets_and_unused_codes_per_key(self, store: Store) -> None:
        """Pending and verified secrets and unused ring digests count under the key id they name;
        used codes, bcrypt digests and malformed values do not."""
        for n in (1, 2, 3, 4):
            await with_user(store, n)
        assert await store.replace_pending_totp(sealed_totp("user_1", "totp_1", "v1.k1.aaaa", verified=False))
        await store.import_totp(sealed_totp("user_2", "totp_2", "v1.k2.bbbb"), T0)
        await store.import_totp(sealed_totp("user_3", "totp_3", "v1.k2.cccc"), T0)
        await store.import_totp(sealed_totp("user_4", "totp_4", "garbage"), T0)
        codes = [
            BackupCodeRecord(id=f"bc_{i}", user_id="user_2", set_id="bc", digest=digest, created_at=T0)
            for i, digest in enumerate(["h1.k1.d0", "h1.k1.d1", "h1.k1.d2", "$2b$04$" + "a" * 53, "h1..x"])
        ]
        await store.replace_backup_codes("user_2", codes)
        assert await store.consume_backup_code("bc_0", T0)
        usage = await store.sealing_key_usage()
        assert sorted(usage) == ["k1", "k2"]
        assert (usage["k1"].totp_secrets, usage["k1"].backup_codes) == (1, 2)
        assert (usage["k2"].totp_secrets, usage["k2"].backup_codes) == (2, 0)
        assert usage["k1"].total == 3

    async def test_empty_database_uses_no_key(self, store: Store) -> None:
        """Without secrets or codes no key is in use."""
        assert await store.sealing_key_usage() == {}

    async def test_list_sealed_with_pages_by_id(self, store: Store) -> None:
        """Batches come in id order after ``after_id``; a key id that is a prefix of another is not confused."""
        for n in range(1, 7):
            await with_user(store, n)
            key_id = "k10" if n == 6 else "k1"
            await store.import_totp(sealed_totp(f"user_{n}", f"totp_{n}", f"v1.{key_id}.s{n}"), T0)
        pages: list[list[str]] = []
        after: str | None = None
        while batch := await store.list_totps_sealed_with("k1", after_id=after, limit=2):
            pages.append([totp.id for totp in batch])
            after = batch[-1].id
        assert pages == [["totp_1", "totp_2"], ["totp_3", "totp_4"], ["totp_5"]]
        assert [t.id for t in await store.list_totps_sealed_with("k10")] == ["totp_6"]
        assert await store.list_totps_sealed_with("k") == []

    async def test_reseal_is_compare_and_set(self, store: Store) -> None:
        """Only the current ciphertext is replaced; the step and timestamps stay; stale or unknown rows are not."""
        await with_user(store)
        await with_verified_totp(store, step=41)
        before = await store.get_totp("user_1")
        assert before is not None
        assert await store.reseal_totp("totp_1", old_sealed=before.sealed_secret, new_sealed="v1.k2.new")
        after = await store.get_totp("user_1")
        assert after is not None
        assert after.sealed_secret == "v1.k2.new"
        assert (after.last_used_step, after.updated_at, after.verified) == (41, before.updated_at, True)
        assert not await store.reseal_totp("totp_1", old_sealed=before.sealed_secret, new_sealed="v1.k3.stale")
        assert not await store.reseal_totp("totp_nope", old_sealed="v1.k2.new", new_sealed="v1.k3.x")
        assert (await store.get_totp("user_1")) == after

    async def test_racing_reseals_of_one_row_succeed_once(self, open_store: StoreFactory) -> None:
        """Concurrent re-seals of one ciphertext over two connections: one wins, and its value is stored."""
        first, second = await open_store(), await open_store()
        await with_user(first)
        await first.import_totp(sealed_totp("user_1", "totp_1", "v1.k1.old"), T0)
        results = await asyncio.gather(
            *(
                store.reseal_totp("totp_1", old_sealed="v1.k1.old", new_sealed=f"v1.k2.n{i}")
                for i, store in enumerate([first, second] * 10)
            )
        )
        assert results.count(True) == 1
        stored = await second.get_totp("user_1")
        assert stored is not None
        assert stored.sealed_secret == f"v1.k2.n{results.index(True)}"


class TestClientsSessionsSignIns:
    async def test_client_round_trip(self, store: Store) -> None:
        """A client reads back by id and by token hash, and updates stick."""
        client = ClientRecord(id="client_1", token_hash="ab" * 32, created_at=T0, updated_at=T0)
        await store.create_client(client)
        assert await store.get_client("client_1") == client
        assert await store.get_client_by_token_hash("ab" * 32) == client
        assert await store.get_client_by_token_hash("cd" * 32) is None
        client.sign_in_id = "sia_1"
        client.last_active_session_id = "sess_1"
        client.last_authentication_strategy = "password"
        client.updated_at = T0 + 1
        await store.update_client(client)
        assert await store.get_client("client_1") == client

    async def test_dev_browser_round_trip(self, store: Store) -> None:
        """A dev browser is known, unbound until bound, then names its client."""
        assert await store.get_dev_browser("f" * 64) == (False, None)
        await store.create_dev_browser("f" * 64, T0)
        assert await store.get_dev_browser("f" * 64) == (True, None)
        await store.create_client(ClientRecord(id="client_1", token_hash="ab" * 32, created_at=T0, updated_at=T0))
        await store.bind_dev_browser("f" * 64, "client_1")
        assert await store.get_dev_browser("f" * 64) == (True, "client_1")

    async def test_session_round_trip(self, store: Store) -> None:
        """Sessions read back, list per client in creation order, and updates stick."""
        await with_user(store)
        await store.create_client(ClientRecord(id="client_1", token_hash="ab" * 32, created_at=T0, updated_at=T0))
        sessions = [
            SessionRecord(
                id=f"sess_{i}",
                client_id="client_1",
                user_id="user_1",
                status="active",
                created_at=T0 + i,
                updated_at=T0 + i,
                last_active_at=T0 + i,
                expire_at=T0 + 1000,
                abandon_at=T0 + 2000,
                first_factor_at=T0,
                second_factor_at=T0 if i else None,
            )
            for i in range(2)
        ]
        for session in sessions:
            await store.create_session(session)
        assert await store.get_session("sess_1") == sessions[1]
        assert await store.list_client_sessions("client_1") == sessions
        assert await store.list_client_sessions("client_2") == []
        sessions[0].status = "ended"
        sessions[0].updated_at = T0 + 50
        await store.update_session(sessions[0])
        assert await store.get_session("sess_0") == sessions[0]

    async def test_sign_in_round_trip(self, store: Store) -> None:
        """Sign-ins read back, update, and count second-factor failures atomically."""
        await with_user(store)
        await store.create_client(ClientRecord(id="client_1", token_hash="ab" * 32, created_at=T0, updated_at=T0))
        sign_in = SignInRecord(
            id="sia_1",
            client_id="client_1",
            user_id="user_1",
            identifier="user1@example.com",
            status="needs_first_factor",
            created_at=T0,
            updated_at=T0,
            abandon_at=T0 + 1000,
        )
        await store.create_sign_in(sign_in)
        assert await store.get_sign_in("sia_1") == sign_in
        assert await store.get_sign_in("sia_2") is None
        sign_in.status = "needs_second_factor"
        sign_in.first_factor_strategy = "password"
        sign_in.first_factor_verified = True
        sign_in.first_factor_attempts = 1
        sign_in.second_factor_strategy = "totp"
        await store.update_sign_in(sign_in)
        assert await store.get_sign_in("sia_1") == sign_in
        await asyncio.gather(*(store.record_second_factor_failure("sia_1") for _ in range(7)))
        stored = await store.get_sign_in("sia_1")
        assert stored is not None
        assert stored.second_factor_attempts == 7


class TestSessionVerifications:
    async def _session(self, store: Store, status: str = "active") -> SessionRecord:
        await with_user(store)
        await store.create_client(ClientRecord(id="client_1", token_hash="ab" * 32, created_at=T0, updated_at=T0))
        session = SessionRecord(
            id="sess_1",
            client_id="client_1",
            user_id="user_1",
            status=status,
            created_at=T0,
            updated_at=T0,
            last_active_at=T0,
            expire_at=T0 + 10_000,
            abandon_at=T0 + 20_000,
            first_factor_at=T0,
        )
        await store.create_session(session)
        return session

    async def test_round_trip_and_replace(self, store: Store) -> None:
        """A session's reverification reads back; saving again overwrites it (one per session)."""
        await self._session(store)
        assert await store.get_session_verification("sess_1") is None
        verification = SessionVerificationRecord(
            session_id="sess_1",
            user_id="user_1",
            level="multi_factor",
            status="needs_first_factor",
            created_at=T0,
            updated_at=T0,
        )
        await store.save_session_verification(verification)
        assert await store.get_session_verification("sess_1") == verification
        verification.status = "needs_second_factor"
        verification.first_factor_strategy, verification.first_factor_verified = "password", True
        verification.first_factor_attempts, verification.updated_at = 2, T0 + 5
        await store.save_session_verification(verification)
        assert await store.get_session_verification("sess_1") == verification

    async def test_mark_factor_verified_stamps_a_live_session(self, store: Store) -> None:
        """Marking a factor sets its time and ``updated_at`` and nothing else."""
        session = await self._session(store)
        assert await store.mark_session_factor_verified("sess_1", "second_factor", T0 + 60_000)
        assert await store.mark_session_factor_verified("sess_1", "first_factor", T0 + 90_000)
        session.second_factor_at, session.first_factor_at, session.updated_at = T0 + 60_000, T0 + 90_000, T0 + 90_000
        assert await store.get_session("sess_1") == session

    async def test_mark_factor_verified_leaves_an_ended_session_alone(self, store: Store) -> None:
        """An ended session (or an unknown one) is not stamped, and stays ended."""
        session = await self._session(store, status="ended")
        assert not await store.mark_session_factor_verified("sess_1", "second_factor", T0 + 60_000)
        assert not await store.mark_session_factor_verified("sess_2", "second_factor", T0 + 60_000)
        assert await store.get_session("sess_1") == session


class TestSharedCounters:
    """Rate-limit windows and the audit sequence, shared by stores on one database (two processes)."""

    async def test_rate_limit_hits_across_stores(self, open_store: StoreFactory) -> None:
        """Concurrent hits through two stores get the distinct counts 1..n per bucket; a new window starts
        at 1 and prunes ended ones; a row of a later window keeps counting there."""
        one, two = await open_store(), await open_store()
        counts = await asyncio.gather(
            *((one, two)[i % 2].hit_rate_limits(["ip:a", "client:c"], window_start=60_000) for i in range(30))
        )
        assert sorted(count[0] for count in counts) == list(range(1, 31))
        assert sorted(count[1] for count in counts) == list(range(1, 31))
        assert await one.hit_rate_limits(["ip:a"], window_start=120_000) == [1]
        assert await two.hit_rate_limits(["ip:a"], window_start=60_000) == [2]
        assert await two.hit_rate_limits(["client:c", "ip:b"], window_start=120_000) == [1, 1]
        assert await one.hit_rate_limits([], window_start=180_000) == []

    async def test_audit_sequence_grows_across_stores(self, open_store: StoreFactory) -> None:
        """Appends through two stores get increasing ``seq``; a duplicate id is refused; details survive."""
        one, two = await open_store(), await open_store()
        seqs = []
        for n in range(6):
            record = AuditEventRecord(
                id=f"audit_{n}", at=T0 + n, event="totp.verified", outcome="success", detail={"n": n, "ok": True}
            )
            seqs.append(await (one, two)[n % 2].append_audit_event(record))
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 6
        with pytest.raises(DuplicateError):
            await two.append_audit_event(AuditEventRecord(id="audit_0", at=T0, event="x", outcome="success"))
        listed = await one.list_audit_events(after_seq=seqs[2])
        assert [(e.id, e.detail) for e in listed] == [(f"audit_{n}", {"n": n, "ok": True}) for n in range(3, 6)]


class TestSQLiteOnly:
    async def test_workers_opening_a_new_file_together_all_start(self, tmp_path: Path) -> None:
        """Six stores opening the same new file at once, thirty times over: every one opens (switching a
        new file to WAL answers "database is locked" at once, without waiting, while another holds it)."""
        for round_number in range(30):
            path = tmp_path / f"round{round_number}.sqlite"
            stores = [SQLiteStore(path) for _ in range(6)]
            outcomes = await asyncio.gather(*(store.open() for store in stores), return_exceptions=True)
            for store in stores:
                await store.close()
            assert [outcome for outcome in outcomes if outcome is not None] == [], round_number


class TestPostgresOnly:
    """What only the PostgreSQL backend has to prove with raw SQL."""

    async def test_the_audit_log_refuses_update_delete_and_truncate(self, postgres_url: str) -> None:
        """The trigger makes the table append-only even for someone with a raw connection."""
        import asyncpg

        async with PostgresStore(postgres_url) as store:
            await store.append_audit_event(AuditEventRecord(id="audit_1", at=T0, event="x", outcome="success"))
        conn = await asyncpg.connect(postgres_url)
        try:
            for statement in (
                "UPDATE audit_events SET outcome = 'failure'",
                "DELETE FROM audit_events",
                "TRUNCATE audit_events",
            ):
                with pytest.raises(asyncpg.PostgresError, match="append-only"):
                    await conn.execute(statement)
            assert await conn.fetchval("SELECT count(*) FROM audit_events WHERE outcome = 'success'") == 1
        finally:
            await conn.close()

    async def test_pool_sizes_are_checked(self) -> None:
        with pytest.raises(ValueError, match="pool sizes"):
            PostgresStore("postgresql://localhost/x", min_size=3, max_size=2)
