"""Security invariants: one-time codes under concurrency, secrets sealed at rest, tampering, forged tokens.

Concurrency tests use ``concurrent_kit`` (an in-loop ASGI client), so ``asyncio.gather`` really
interleaves the requests inside the server; the cross-"process" tests run two apps, each with its own
store connection, on one database file.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bcrypt
import httpx
from litestar.testing import AsyncTestClient

from totpkit.otp import decode_secret, totp_code
from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.core.tokens import InvalidTokenError, verify_jwt

CONCURRENCY = 20
TRIALS = 3
PASSWORD = "correct horse battery staple"
IMPORTED_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
IMPORTED_CODES = ["importedcode1", "importedcode2", "importedcode3"]


def assert_one_success(responses: list[httpx.Response]) -> httpx.Response:
    """Exactly one 200; every other answer a Clerk-format 4xx (never 5xx, never 401)."""
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 1, statuses
    for response in responses:
        if response.status_code != 200:
            assert 400 <= response.status_code < 500, (response.status_code, response.text)
            assert response.status_code != 401, response.text
            assert response.json()["errors"][0]["code"], response.text
    return next(r for r in responses if r.status_code == 200)


def assert_refused(response: httpx.Response) -> None:
    """Not accepted, and answered in Clerk's error format without internals."""
    assert response.status_code != 200, response.text
    assert response.status_code >= 400, response.text
    body = response.json()
    assert body["errors"][0]["code"], body
    assert body["clerk_trace_id"], body
    assert "Traceback" not in response.text
    assert "SealingError" not in response.text
    assert "InvalidTag" not in response.text


def db_bytes(path: Path) -> bytes:
    """The database file plus its WAL and shared-memory files, as they are on disk."""
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        candidate = Path(str(path) + suffix)
        if candidate.exists():
            data += candidate.read_bytes()
    return data


def query(path: Path, sql: str, *params: Any) -> list[Any]:
    with sqlite3.connect(path, timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def execute(path: Path, sql: str, *params: Any) -> None:
    conn = sqlite3.connect(path, timeout=10)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


class TestConcurrentReplay:
    async def test_totp_code_accepted_once_across_concurrent_sign_ins(self, concurrent_kit: Any) -> None:
        """20 concurrent second-factor attempts with one valid code on separate clients: exactly one succeeds."""
        kit = concurrent_kit
        for _ in range(TRIALS):
            enrolled = await kit.enrolled_user()
            attempts = [await kit.second_factor_sign_in(enrolled.email) for _ in range(CONCURRENCY)]
            code = kit.code(enrolled.secret)
            responses = await asyncio.gather(
                *(kit.attempt_second_factor(device, sign_in_id, "totp", code) for device, sign_in_id in attempts)
            )
            assert_one_success(list(responses))
            sessions = [len((await device.get("/v1/client")).json()["response"]["sessions"]) for device, _ in attempts]
            assert sum(sessions) == 1
            kit.next_step()

    async def test_enrolment_code_accepted_once_under_concurrency(self, concurrent_kit: Any) -> None:
        """20 concurrent verifications of one pending TOTP with one code: exactly one succeeds."""
        kit = concurrent_kit
        for _ in range(TRIALS):
            email, device = await kit.user_and_device()
            secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
            code = kit.code(secret)
            responses = await asyncio.gather(
                *(device.post("/v1/me/totp/attempt_verification", data={"code": code}) for _ in range(CONCURRENCY))
            )
            winner = assert_one_success(list(responses))
            issued = winner.json()["response"]["backup_codes"]
            assert issued
            other, sign_in_id = await kit.second_factor_sign_in(email)
            replay = await kit.attempt_second_factor(other, sign_in_id, "totp", code)
            assert replay.status_code == 422, replay.text
            with_backup = await kit.attempt_second_factor(other, sign_in_id, "backup_code", issued[-1])
            assert with_backup.status_code == 200, with_backup.text
            kit.next_step()

    async def test_backup_code_accepted_once_under_concurrency(self, concurrent_kit: Any) -> None:
        """20 concurrent sign-ins with one backup code: exactly one succeeds."""
        kit = concurrent_kit
        for trial in range(TRIALS):
            enrolled = await kit.enrolled_user()
            attempts = [await kit.second_factor_sign_in(enrolled.email) for _ in range(CONCURRENCY)]
            code = enrolled.backup_codes[trial]
            responses = await asyncio.gather(
                *(kit.attempt_second_factor(device, sign_in_id, "backup_code", code) for device, sign_in_id in attempts)
            )
            assert_one_success(list(responses))

    async def test_code_accepted_once_across_two_server_processes(
        self, live_apps: Any, make_config: Callable[..., TOTPKitConfig]
    ) -> None:
        """Two app instances with their own store connections on one database accept a code once."""
        config = make_config()
        first = await live_apps.start(config)
        second = await live_apps.start(config)
        for _ in range(TRIALS):
            enrolled = await first.enrolled_user()
            attempts = []
            for index in range(CONCURRENCY):
                kit = (first, second)[index % 2]
                device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
                attempts.append((kit, device, sign_in_id))
            code = first.code(enrolled.secret)
            responses = await asyncio.gather(
                *(kit.attempt_second_factor(device, sign_in_id, "totp", code) for kit, device, sign_in_id in attempts)
            )
            assert_one_success(list(responses))
            enrolled = await second.enrolled_user()  # a fresh user: the 19 failures above locked the first
            backup = enrolled.backup_codes[0]
            attempts = []
            for index in range(CONCURRENCY):
                kit = (first, second)[index % 2]
                device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
                attempts.append((kit, device, sign_in_id))
            responses = await asyncio.gather(
                *(
                    kit.attempt_second_factor(device, sign_in_id, "backup_code", backup)
                    for kit, device, sign_in_id in attempts
                )
            )
            assert_one_success(list(responses))
            first.next_step()


class TestSealedAtRest:
    async def test_no_secret_in_the_database_files(self, kit: Any) -> None:
        """No TOTP secret (any form), backup code, password or client token appears in the database files."""
        enrolled = await kit.enrolled_user()
        regenerated = (await enrolled.device.post("/v1/me/backup_codes")).json()["response"]["codes"]
        imported_email = kit.new_email()
        await kit.create_user(imported_email, totp_secret=IMPORTED_SECRET, backup_codes=IMPORTED_CODES)
        _, pending = await kit.user_and_device()
        pending_secret = (await pending.post("/v1/me/totp")).json()["response"]["secret"]
        dev_browser = (await kit.http.post("/v1/dev_browser")).json()["id"]

        path = kit.config.sqlite_path
        on_disk = db_bytes(path)
        assert on_disk
        needles: list[bytes] = [PASSWORD.encode(), enrolled.device.token.encode(), pending.token.encode()]
        needles.append(dev_browser.encode())
        for secret in (enrolled.secret, IMPORTED_SECRET, pending_secret):
            raw = decode_secret(secret)
            needles += [secret.encode(), secret.lower().encode(), raw, raw.hex().encode()]
            needles.append(base64.b64encode(raw).rstrip(b"="))
        for code in [*enrolled.backup_codes, *regenerated, *IMPORTED_CODES]:
            needles += [code.encode(), code.upper().encode()]
        for needle in needles:
            assert needle not in on_disk, needle

        sealed = query(path, "SELECT sealed_secret FROM totp_credentials")
        assert len(sealed) == 3
        assert all(value.startswith("v1.") for (value,) in sealed)
        digests = query(path, "SELECT digest FROM backup_codes")
        assert digests
        assert all(value.startswith("h1.") for (value,) in digests)
        hashes = query(path, "SELECT password_hash FROM users")
        assert hashes
        assert all(value.startswith("$argon2id$") for (value,) in hashes)

    async def test_database_files_are_private(self, kit: Any) -> None:
        """The database, its WAL and shared-memory files are readable by the owner only."""
        await kit.enrolled_user()
        path = kit.config.sqlite_path
        files = [candidate for candidate in (path, *path.parent.glob(path.name + "-*")) if candidate.exists()]
        assert path in files
        for candidate in files:
            assert candidate.stat().st_mode & 0o077 == 0, (candidate, oct(candidate.stat().st_mode))

    async def test_client_tokens_are_stored_hashed(self, kit: Any) -> None:
        """The clients table holds SHA-256 digests of the tokens, never the tokens."""
        _, device = await kit.user_and_device()
        rows = query(kit.config.sqlite_path, "SELECT token_hash FROM clients")
        stored = {value for (value,) in rows}
        assert device.token not in stored
        assert hashlib.sha256(device.token.encode()).hexdigest() in stored

    async def test_bcrypt_backup_codes_import_stored_as_given(self, kit: Any) -> None:
        """An imported bcrypt digest is kept as a digest and the plain code it hashes works once."""
        digest = bcrypt.hashpw(b"bcryptcode1", bcrypt.gensalt(rounds=4)).decode()
        email = kit.new_email()
        await kit.create_user(email, totp_secret=IMPORTED_SECRET, backup_codes=[digest, "plaincode22"])
        assert b"bcryptcode1" not in db_bytes(kit.config.sqlite_path)
        device, sign_in_id = await kit.second_factor_sign_in(email)
        assert (await kit.attempt_second_factor(device, sign_in_id, "backup_code", "bcryptcode1")).status_code == 200
        device, sign_in_id = await kit.second_factor_sign_in(email)
        assert (await kit.attempt_second_factor(device, sign_in_id, "backup_code", "bcryptcode1")).status_code == 422


class TestTampering:
    async def test_flipped_byte_in_sealed_secret_is_never_accepted(self, kit: Any) -> None:
        """A tampered sealed secret makes the right code fail with a Clerk error (no code is accepted)."""
        enrolled = await kit.enrolled_user()
        path = kit.config.sqlite_path
        (sealed,) = query(path, "SELECT sealed_secret FROM totp_credentials WHERE user_id = ?", enrolled.user_id)[0]
        position = len(sealed) - 5
        flipped = sealed[:position] + ("A" if sealed[position] != "A" else "B") + sealed[position + 1 :]
        execute(path, "UPDATE totp_credentials SET sealed_secret = ? WHERE user_id = ?", flipped, enrolled.user_id)
        for steps in (-1, 0, 1):
            device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
            assert_refused(
                await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(enrolled.secret, steps))
            )

    async def test_tampered_pending_secret_cannot_be_verified(self, kit: Any) -> None:
        """Enrolment verification against a tampered pending secret is refused."""
        _, device = await kit.user_and_device()
        secret = (await device.post("/v1/me/totp")).json()["response"]["secret"]
        user_id = (await device.me())["id"]
        path = kit.config.sqlite_path
        (sealed,) = query(path, "SELECT sealed_secret FROM totp_credentials WHERE user_id = ?", user_id)[0]
        execute(path, "UPDATE totp_credentials SET sealed_secret = ? WHERE user_id = ?", sealed[:-3] + "xyz", user_id)
        assert_refused(await device.post("/v1/me/totp/attempt_verification", data={"code": kit.code(secret)}))
        assert (await device.me())["totp_enabled"] is False

    async def test_secret_copied_to_another_user_does_not_open(self, kit: Any) -> None:
        """User A's sealed secret copied into user B's row accepts neither A's nor B's codes for B."""
        alice = await kit.enrolled_user()
        bob = await kit.enrolled_user()
        path = kit.config.sqlite_path
        (alice_sealed,) = query(path, "SELECT sealed_secret FROM totp_credentials WHERE user_id = ?", alice.user_id)[0]
        execute(path, "UPDATE totp_credentials SET sealed_secret = ? WHERE user_id = ?", alice_sealed, bob.user_id)
        for secret in (alice.secret, bob.secret):
            device, sign_in_id = await kit.second_factor_sign_in(bob.email)
            assert_refused(await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(secret)))
        device, sign_in_id = await kit.second_factor_sign_in(alice.email)
        ok = await kit.attempt_second_factor(device, sign_in_id, "totp", kit.code(alice.secret))
        assert ok.status_code == 200, ok.text

    async def test_backup_code_digest_copied_to_another_user_does_not_match(self, kit: Any) -> None:
        """Backup-code digests are bound to their user: copied to another user they match nothing."""
        alice = await kit.enrolled_user()
        bob = await kit.enrolled_user()
        path = kit.config.sqlite_path
        alice_digests = query(path, "SELECT digest FROM backup_codes WHERE user_id = ?", alice.user_id)
        bob_ids = query(path, "SELECT id FROM backup_codes WHERE user_id = ? ORDER BY id", bob.user_id)
        for (digest,), (code_id,) in zip(alice_digests, bob_ids, strict=False):
            execute(path, "UPDATE backup_codes SET digest = ? WHERE id = ?", digest, code_id)
        device, sign_in_id = await kit.second_factor_sign_in(bob.email)
        response = await kit.attempt_second_factor(device, sign_in_id, "backup_code", alice.backup_codes[0])
        assert_refused(response)


class TestKeyRotation:
    async def test_secrets_sealed_under_an_old_key_still_open(
        self, make_config: Callable[..., TOTPKitConfig], tmp_path: Path
    ) -> None:
        """After rotating to a new active key, TOTPs and backup codes made under the old key still work."""
        old = make_config(seed=7)
        async with AsyncTestClient(create_app(old), base_url="http://testserver.local") as http:
            headers = {"Authorization": f"Bearer {old.secret_key}"}
            await http.post(
                "/v1/users", json={"email_address": ["rot@example.com"], "password": PASSWORD}, headers=headers
            )
            token = (
                await http.post(
                    "/v1/client/sign_ins",
                    params={"_is_native": "1"},
                    data={"identifier": "rot@example.com", "password": PASSWORD},
                    headers={"Authorization": ""},
                )
            ).headers["authorization"]
            native = {"Authorization": token}
            secret = (await http.post("/v1/me/totp", params={"_is_native": "1"}, headers=native)).json()["response"][
                "secret"
            ]
            codes = (
                await http.post(
                    "/v1/me/totp/attempt_verification",
                    params={"_is_native": "1"},
                    data={"code": totp_code(secret, at=old.clock())},
                    headers=native,
                )
            ).json()["response"]["backup_codes"]
        assert old.key_ring is not None
        rotated_ring = old.key_ring.with_new_active_key(lambda n: bytes(range(n)))
        assert rotated_ring.active_key_id != old.key_ring.active_key_id
        rotated = make_config(seed=8, key_ring=rotated_ring, secret_key=old.secret_key)
        rotated.clock.advance(30)  # type: ignore[attr-defined]
        async with AsyncTestClient(create_app(rotated), base_url="http://testserver.local") as http:
            for strategy, code in (("totp", totp_code(secret, at=rotated.clock())), ("backup_code", codes[0])):
                started = await http.post(
                    "/v1/client/sign_ins",
                    params={"_is_native": "1"},
                    data={"identifier": "rot@example.com", "password": PASSWORD},
                    headers={"Authorization": ""},
                )
                sign_in_id = started.json()["response"]["id"]
                done = await http.post(
                    f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
                    params={"_is_native": "1"},
                    data={"strategy": strategy, "code": code},
                    headers={"Authorization": started.headers["authorization"]},
                )
                assert done.status_code == 200, done.text


class TestForgedCredentials:
    async def test_bapi_rejects_everything_but_the_secret_key(self, kit: Any) -> None:
        """BAPI answers 401 to a missing, wrong, malformed or FAPI-client-token bearer."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        jwt = (await device.post(f"/v1/client/sessions/{session_id}/tokens")).json()["jwt"]
        body = {"email_address": ["forged@example.com"], "password": PASSWORD}
        variants: list[dict[str, str]] = [
            {},
            {"Authorization": ""},
            {"Authorization": "Bearer"},
            {"Authorization": "Bearer "},
            {"Authorization": f"Bearer {kit.secret_key}x"},
            {"Authorization": f"Bearer {kit.secret_key[:-1]}"},
            {"Authorization": f"Bearer {kit.secret_key.upper()}"},
            {"Authorization": kit.secret_key},
            {"Authorization": f"Basic {kit.secret_key}"},
            {"Authorization": f"Bearer {device.token}"},
            {"Authorization": device.token},
            {"Authorization": f"Bearer {jwt}"},
            {"Authorization": "Bearer sk_test_" + "0" * 48},
        ]
        for headers in variants:
            created = await kit.http.post("/v1/users", json=body, headers=headers)
            kit.error(created, 401, "authentication_invalid")
            got = await kit.http.get(f"/v1/users/{(await device.me())['id']}", headers=headers)
            kit.error(got, 401, "authentication_invalid")
        _, probe = await kit.start_sign_in("forged@example.com")
        kit.error(probe, 422, "form_identifier_not_found")

    async def test_fapi_never_accepts_the_secret_key_or_a_session_jwt(self, kit: Any) -> None:
        """The secret key or a session JWT as the native client token identifies no client."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        jwt = (await device.post(f"/v1/client/sessions/{session_id}/tokens")).json()["jwt"]
        for credential in (kit.secret_key, f"Bearer {kit.secret_key}", jwt, f"Bearer {jwt}"):
            me = await kit.http.get("/v1/me", params={"_is_native": "1"}, headers={"Authorization": credential})
            kit.error(me, 401, "authentication_invalid")
            client = await kit.http.get("/v1/client", params={"_is_native": "1"}, headers={"Authorization": credential})
            assert client.status_code == 200, client.text
            assert client.json()["response"] is None
        kit.http.cookies.clear()
        cookie = await kit.http.get("/v1/me", headers={"Cookie": f"__client={kit.secret_key}"})
        kit.error(cookie, 401, "authentication_invalid")

    async def test_forged_session_token_does_not_verify(self, kit: Any) -> None:
        """A session JWT with an edited payload fails verification against the JWKS."""
        _, device = await kit.user_and_device()
        session_id = await kit.active_session_id(device)
        jwt = (await device.post(f"/v1/client/sessions/{session_id}/tokens")).json()["jwt"]
        header, payload, signature = jwt.split(".")
        claims = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).replace(
            b'"sub":"user_', b'"sub":"user_X'
        )
        forged_payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
        keys = await kit.public_keys()
        verify_jwt(jwt, keys, now=kit.clock.now)
        try:
            verify_jwt(f"{header}.{forged_payload}.{signature}", keys, now=kit.clock.now)
        except InvalidTokenError:
            pass
        else:
            raise AssertionError("a forged token verified")


class TestConstantTimeComparisons:
    """Secrets the caller presents are compared with :func:`hmac.compare_digest`, never ``==``."""

    @staticmethod
    def spy_compare_digest(monkeypatch: Any) -> list[tuple[Any, Any]]:
        import hmac

        calls: list[tuple[Any, Any]] = []
        real = hmac.compare_digest

        def spy(a: Any, b: Any) -> bool:
            calls.append((a, b))
            return real(a, b)

        monkeypatch.setattr(hmac, "compare_digest", spy)
        return calls

    async def test_bapi_secret_key(self, kit: Any, monkeypatch: Any) -> None:
        """A wrong secret key is refused by a constant-time comparison against the real one."""
        calls = self.spy_compare_digest(monkeypatch)
        forged = kit.secret_key[:-1] + ("0" if kit.secret_key[-1] != "0" else "1")
        answer = await kit.http.get("/v1/users/user_x", headers={"Authorization": f"Bearer {forged}"})
        kit.error(answer, 401, "authentication_invalid")
        assert (forged.encode(), kit.secret_key.encode()) in calls

    async def test_every_backup_code_digest_is_compared(self, kit: Any, monkeypatch: Any) -> None:
        """A wrong backup code is compared with every unused digest in constant time, with no early exit."""
        enrolled = await kit.enrolled_user()
        device, sign_in_id = await kit.second_factor_sign_in(enrolled.email)
        calls = self.spy_compare_digest(monkeypatch)
        wrong = await kit.attempt_second_factor(device, sign_in_id, "backup_code", "notacode22")
        assert wrong.status_code == 422, wrong.text
        assert len(calls) >= len(enrolled.backup_codes)
        calls.clear()
        right = await kit.attempt_second_factor(device, sign_in_id, "backup_code", enrolled.backup_codes[0])
        assert right.status_code == 200, right.text
        assert len(calls) >= len(enrolled.backup_codes)
