"""Sealing-key rotation: ``totpkit keys rotate | reseal | retire | list``, lazy re-sealing, the start-up check.

The CLI runs in-process (``main``) on a keys file in the data directory; the apps run in-process on
the same SQLite file, each started with the keys the file holds at that moment (as a restarted server
would), so one test can keep an app with the old keys beside one with the new keys.
"""

from __future__ import annotations

import asyncio
import base64
import sqlite3
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar

from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.cli import main
from totpkit_server.core.sealing import KeyRing, SealingError
from totpkit_server.keys import KeyConfigurationError, read_keys_file, write_keys_file

KEYS_FILE = "keys.json"


@dataclass(frozen=True)
class CommandResult:
    status: int
    out: str
    err: str


Run = Callable[..., Awaitable[CommandResult]]


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Run:
    """Run ``totpkit keys <args> --data-dir <tmp_path>`` in a thread (it runs its own event loop)."""

    async def run(*args: str) -> CommandResult:
        capsys.readouterr()
        status = await asyncio.to_thread(main, ["keys", *args, "--data-dir", str(tmp_path)])
        captured = capsys.readouterr()
        return CommandResult(status, captured.out, captured.err)

    return run


@pytest.fixture
def keys_path(tmp_path: Path, make_config: Callable[..., TOTPKitConfig]) -> Path:
    """A keys file in the data directory, as ``totpkit serve`` generates on first start."""
    path = tmp_path / KEYS_FILE
    write_keys_file(path, make_config(dev_keys=True))
    return path


@pytest.fixture
def start(live_apps: Any, make_config: Callable[..., TOTPKitConfig], keys_path: Path) -> Callable[[], Awaitable[Any]]:
    """Start an app with the keys the file holds now (a server (re)started after a key command)."""

    async def start_app() -> Any:
        keys = read_keys_file(keys_path)
        config = make_config(key_ring=keys.key_ring, signing_keys=keys.signing_keys, secret_key=keys.secret_key)
        return await live_apps.start(config)

    return start_app


def read_bytes(path: Path) -> bytes:
    return path.read_bytes()


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def ring(path: Path) -> KeyRing:
    return read_keys_file(path).key_ring


def db(kit: Any) -> Path:
    return Path(kit.config.sqlite_path)


def rows(path: Path, sql: str, *params: Any) -> list[Any]:
    with sqlite3.connect(path, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def sealing_key_of(path: Path, user_id: str) -> str:
    (sealed,) = rows(path, "SELECT sealed_secret FROM totp_credentials WHERE user_id = ?", user_id)[0]
    return str(sealed).split(".")[1]


def unused_digest_keys(path: Path, user_id: str) -> set[str]:
    digests = rows(path, "SELECT digest FROM backup_codes WHERE user_id = ? AND used_at IS NULL", user_id)
    return {str(digest).split(".")[1] for (digest,) in digests}


async def second_factor(kit: Any, email: str, strategy: str, code: str) -> Any:
    """A new sign-in of ``email`` finished with ``strategy``/``code``; returns the answer and the device."""
    device, sign_in_id = await kit.second_factor_sign_in(email)
    return await kit.attempt_second_factor(device, sign_in_id, strategy, code), device


class TestKeyRingWithoutKey:
    def test_without_key_drops_only_that_key(self) -> None:
        """A retired key's values no longer open; the others do; the active key and unknown ids are refused."""
        old = KeyRing.generate(lambda n: b"\x01" * n, key_id="old")
        sealed_old = old.seal(b"secret", context=b"u", random_bytes=lambda n: b"\x02" * n)
        rotated = old.with_new_active_key(lambda n: b"\x03" * n)
        sealed_new = rotated.seal(b"other", context=b"u", random_bytes=lambda n: b"\x04" * n)
        retired = rotated.without_key("old")
        assert retired.key_ids == (rotated.active_key_id,)
        assert retired.unseal(sealed_new, context=b"u") == b"other"
        with pytest.raises(SealingError, match="unknown key id"):
            retired.unseal(sealed_old, context=b"u")
        with pytest.raises(ValueError, match="active"):
            rotated.without_key(rotated.active_key_id)
        with pytest.raises(ValueError, match="not in the key ring"):
            rotated.without_key("nope")


class TestRotate:
    async def test_old_values_stay_readable_and_new_ones_use_the_new_key(
        self, start: Any, run_cli: Run, keys_path: Path
    ) -> None:
        """After ``rotate --sealing`` the old key is kept: old TOTPs and backup codes work, new ones use the new key."""
        before = read_keys_file(keys_path)
        first = await start()
        alice = await first.enrolled_user()
        rotated = await run_cli("rotate", "--sealing")
        assert rotated.status == 0, rotated.err
        after = read_keys_file(keys_path)
        old_key, new_key = before.key_ring.active_key_id, after.key_ring.active_key_id
        assert after.key_ring.key_ids == (old_key, new_key)
        assert new_key in rotated.out
        assert [k.kid for k in after.signing_keys] == [k.kid for k in before.signing_keys]
        assert after.secret_key == before.secret_key
        assert file_mode(keys_path) == 0o600

        second = await start()
        bob = await second.enrolled_user()
        assert sealing_key_of(db(second), bob.user_id) == new_key
        assert unused_digest_keys(db(second), bob.user_id) == {new_key}
        assert sealing_key_of(db(second), alice.user_id) == old_key
        assert unused_digest_keys(db(second), alice.user_id) == {old_key}
        with_code, _ = await second_factor(second, alice.email, "backup_code", alice.backup_codes[0])
        assert with_code.status_code == 200, with_code.text
        with_totp, _ = await second_factor(second, alice.email, "totp", second.code(alice.secret))
        assert with_totp.status_code == 200, with_totp.text

    async def test_without_flags_both_keys_rotate_and_no_key_material_is_printed(
        self, run_cli: Run, keys_path: Path
    ) -> None:
        """Plain ``rotate`` adds a sealing and a signing key; the output names key ids only."""
        before = read_keys_file(keys_path)
        result = await run_cli("rotate")
        assert result.status == 0, result.err
        after = read_keys_file(keys_path)
        assert len(after.key_ring.key_ids) == 2
        assert after.key_ring.active_key_id != before.key_ring.active_key_id
        assert [k.kid for k in after.signing_keys][1:] == [before.signing_keys[0].kid]
        assert after.signing_keys[0].kid in result.out
        document = read_bytes(keys_path).decode()
        secrets = [value for value in _base64_values(document) if len(value) >= 40]
        assert secrets
        for value in [*secrets, "PRIVATE KEY", after.secret_key]:
            assert value not in result.out + result.err
        assert not list(keys_path.parent.glob(".keys.json.*"))  # the temporary file was renamed away

    async def test_without_a_keys_file_exits_2(self, run_cli: Run, tmp_path: Path) -> None:
        """No keys file: exit 2 with a message, and none is created."""
        result = await run_cli("rotate")
        assert result.status == 2
        assert "no keys file" in result.err
        assert not (tmp_path / KEYS_FILE).exists()


class TestReseal:
    async def test_every_secret_moves_to_the_active_key_and_keeps_working(
        self, start: Any, run_cli: Run, keys_path: Path
    ) -> None:
        """``reseal`` (in batches of 2) moves verified and pending secrets; they all still verify."""
        first = await start()
        enrolled = [await first.enrolled_user() for _ in range(3)]
        _, pending_device = await first.user_and_device()
        pending_secret = (await pending_device.post("/v1/me/totp")).json()["response"]["secret"]
        old_key = ring(keys_path).active_key_id
        assert (await run_cli("rotate", "--sealing")).status == 0
        new_key = ring(keys_path).active_key_id

        result = await run_cli("reseal", "--batch-size", "2")
        assert result.status == 0, result.err
        assert f"re-sealed 4 TOTP secret(s) under {new_key}" in result.out
        sealed = rows(db(first), "SELECT sealed_secret FROM totp_credentials")
        assert len(sealed) == 4
        assert {value.split(".")[1] for (value,) in sealed} == {new_key}
        listing = await run_cli("list")
        assert f"{old_key}           TOTP secrets: 0  unused backup codes: 30" in listing.out
        assert f"{new_key}  active   TOTP secrets: 4  unused backup codes: 0" in listing.out

        second = await start()
        for user in enrolled:
            answer, _ = await second_factor(second, user.email, "totp", second.code(user.secret))
            assert answer.status_code == 200, answer.text
        pending_http = second.device(second.http)
        pending_http.token = pending_device.token
        verified = await pending_http.post(
            "/v1/me/totp/attempt_verification", data={"code": second.code(pending_secret)}
        )
        assert verified.status_code == 200, verified.text

    async def test_unreadable_secrets_are_reported_and_left_alone(
        self, start: Any, run_cli: Run, keys_path: Path
    ) -> None:
        """A tampered ciphertext is named and kept (exit 1); the other secrets are re-sealed."""
        first = await start()
        intact, tampered = await first.enrolled_user(), await first.enrolled_user()
        (totp_id, sealed) = rows(
            db(first), "SELECT id, sealed_secret FROM totp_credentials WHERE user_id = ?", tampered.user_id
        )[0]
        flipped = sealed[:-4] + ("A" if sealed[-4] != "A" else "B") + sealed[-3:]
        with sqlite3.connect(db(first)) as conn:
            conn.execute("UPDATE totp_credentials SET sealed_secret = ? WHERE id = ?", (flipped, totp_id))
        assert (await run_cli("rotate", "--sealing")).status == 0
        result = await run_cli("reseal")
        assert result.status == 1
        assert totp_id in result.err
        assert "re-sealed 1 TOTP secret(s)" in result.out
        assert sealing_key_of(db(first), intact.user_id) == ring(keys_path).active_key_id
        assert rows(db(first), "SELECT sealed_secret FROM totp_credentials WHERE id = ?", totp_id) == [(flipped,)]


class TestRetire:
    async def test_refused_while_the_key_protects_anything_then_allowed(
        self, start: Any, run_cli: Run, keys_path: Path
    ) -> None:
        """Retiring waits for the TOTP secrets (reseal) and the unused backup codes (a new set)."""
        first = await start()
        alice = await first.enrolled_user()
        old_key = ring(keys_path).active_key_id
        assert (await run_cli("rotate", "--sealing")).status == 0
        unchanged = read_bytes(keys_path)

        refused = await run_cli("retire", old_key)
        assert refused.status == 1
        assert "1 TOTP secret(s) and 10 unused backup code(s)" in refused.err
        assert read_bytes(keys_path) == unchanged
        assert (await run_cli("reseal")).status == 0
        still = await run_cli("retire", old_key)
        assert still.status == 1
        assert "0 TOTP secret(s) and 10 unused backup code(s)" in still.err
        assert read_bytes(keys_path) == unchanged

        second = await start()
        signed_in, device = await second_factor(second, alice.email, "totp", second.code(alice.secret))
        assert signed_in.status_code == 200, signed_in.text
        new_codes = (await device.post("/v1/me/backup_codes")).json()["response"]["codes"]
        retired = await run_cli("retire", old_key)
        assert retired.status == 0, retired.err
        assert ring(keys_path).key_ids == (ring(keys_path).active_key_id,)

        third = await start()
        second.next_step()
        with_totp, _ = await second_factor(third, alice.email, "totp", third.code(alice.secret))
        assert with_totp.status_code == 200, with_totp.text
        with_new_code, _ = await second_factor(third, alice.email, "backup_code", new_codes[0])
        assert with_new_code.status_code == 200, with_new_code.text
        with_old_code, _ = await second_factor(third, alice.email, "backup_code", alice.backup_codes[1])
        assert with_old_code.status_code == 422, with_old_code.text

    async def test_used_backup_codes_do_not_hold_a_key(self, start: Any, run_cli: Run, keys_path: Path) -> None:
        """Only unused codes count: once a set is used up under the old key, that key can go."""
        kit = await start()
        alice = await kit.enrolled_user()
        old_key = ring(keys_path).active_key_id
        for code in alice.backup_codes:
            answer, _ = await second_factor(kit, alice.email, "backup_code", code)
            assert answer.status_code == 200, answer.text
        assert (await run_cli("rotate", "--sealing")).status == 0
        assert (await run_cli("reseal")).status == 0
        result = await run_cli("retire", old_key)
        assert result.status == 0, result.err
        restarted = await start()
        answer, _ = await second_factor(restarted, alice.email, "totp", restarted.code(alice.secret))
        assert answer.status_code == 200, answer.text

    async def test_the_active_keys_and_unknown_ids_are_refused(self, run_cli: Run, keys_path: Path) -> None:
        """The active sealing key, the signing key and unknown ids cannot be retired; the file stays as it was."""
        assert await asyncio.to_thread(main, ["migrate", "--data-dir", str(keys_path.parent)]) == 0
        keys = read_keys_file(keys_path)
        unchanged = read_bytes(keys_path)
        for key_id, reason in (
            (keys.key_ring.active_key_id, "rotate --sealing"),
            (keys.signing_keys[0].kid, "rotate --signing"),
            ("k_nope", "no sealing or signing key"),
        ):
            result = await run_cli("retire", key_id)
            assert result.status == 1, key_id
            assert reason in result.err
        assert read_bytes(keys_path) == unchanged

    async def test_without_the_database_nothing_is_retired_or_created(
        self, run_cli: Run, keys_path: Path, tmp_path: Path
    ) -> None:
        """A sealing key's usage cannot be checked without the database: exit 2, no database created."""
        assert (await run_cli("rotate", "--sealing")).status == 0
        unchanged = read_bytes(keys_path)
        result = await run_cli("retire", ring(keys_path).key_ids[0])
        assert result.status == 2
        assert "no database" in result.err
        assert read_bytes(keys_path) == unchanged
        assert not (tmp_path / "totpkit.db").exists()


class TestLazyReseal:
    async def test_only_a_successful_totp_use_reseals(self, start: Any, run_cli: Run, keys_path: Path) -> None:
        """A wrong code or a backup code leaves the old ciphertext; an accepted TOTP code re-seals it."""
        first = await start()
        alice = await first.enrolled_user()
        old_key = ring(keys_path).active_key_id
        assert (await run_cli("rotate", "--sealing")).status == 0
        second = await start()
        wrong, _ = await second_factor(
            second, alice.email, "totp", "000000" if second.code(alice.secret) != "000000" else "111111"
        )
        assert wrong.status_code == 422, wrong.text
        with_code, _ = await second_factor(second, alice.email, "backup_code", alice.backup_codes[0])
        assert with_code.status_code == 200, with_code.text
        assert sealing_key_of(db(second), alice.user_id) == old_key
        with_totp, _ = await second_factor(second, alice.email, "totp", second.code(alice.secret))
        assert with_totp.status_code == 200, with_totp.text
        assert sealing_key_of(db(second), alice.user_id) == ring(keys_path).active_key_id
        second.next_step()
        again, _ = await second_factor(second, alice.email, "totp", second.code(alice.secret))
        assert again.status_code == 200, again.text


class TestStartupCheck:
    async def test_a_missing_sealing_key_stops_the_start_naming_it(
        self, start: Any, make_config: Callable[..., TOTPKitConfig], keys_path: Path, run_cli: Run
    ) -> None:
        """An app whose ring lacks a key the database uses does not start; ``keys list`` shows it MISSING."""
        kit = await start()
        await kit.enrolled_user()
        lost_key = ring(keys_path).active_key_id
        keys = read_keys_file(keys_path)
        other_ring = KeyRing.generate(lambda n: b"\x07" * n, key_id="k_other")
        config = make_config(key_ring=other_ring, signing_keys=keys.signing_keys, secret_key=keys.secret_key)
        message = str(await startup_error(create_app(config)))
        assert f"'{lost_key}' (1 TOTP secret(s), 10 unused backup code(s))" in message
        assert "the ring has k_other" in message

        rename_key(keys_path, lost_key, "k_other")
        listing = await run_cli("list")
        assert f"{lost_key}  MISSING  TOTP secrets: 1  unused backup codes: 10" in listing.out
        assert "k_other  active   TOTP secrets: 0  unused backup codes: 0" in listing.out


async def startup_error(app: Litestar) -> KeyConfigurationError:
    """The KeyConfigurationError that stops ``app``'s lifespan (Litestar may wrap it in an exception group)."""
    with pytest.raises((KeyConfigurationError, BaseExceptionGroup)) as failure:
        async with app.lifespan():
            pass
    errors = [error for error in leaf_errors(failure.value) if isinstance(error, KeyConfigurationError)]
    assert len(errors) == 1, failure.value
    return errors[0]


def leaf_errors(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, or the exception itself."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaf_errors(inner)]
    return [error]


def rename_key(path: Path, old_id: str, new_id: str) -> None:
    """Give a sealing key another id in the keys file (the key stored under ``old_id`` is gone)."""
    path.write_text(path.read_text().replace(old_id, new_id))


def _base64_values(document: str) -> list[str]:
    """Every quoted JSON string value of the keys file that decodes as base64 (the raw ring keys)."""
    values = []
    for part in document.split('"'):
        try:
            base64.b64decode(part, validate=True)
        except ValueError:
            continue
        values.append(part)
    return values
