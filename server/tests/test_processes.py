"""Real ``totpkit serve`` processes: replay races across two processes on one database, signing-key
rotation through the CLI, the start-up check for missing sealing keys, a database copied from a
running server.

The processes read the real clock, so TOTP codes are computed with ``totpkit.otp`` for the real
time step at submission (never pyotp's ``.now()``, never a sleep to a boundary). Every loop is
bounded in count and time; every process is stopped by its PID.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from totpkit.otp import decode_secret, time_step, totp_code
from totpkit_server.cli import main
from totpkit_server.core.sealing import KeyRing
from totpkit_server.core.tokens import InvalidTokenError, verify_jwt
from totpkit_server.keys import read_keys_file
from totpkit_server.testing import RunningServer, free_port, seeded_random, serve

PASSWORD = "correct horse battery staple"
PERIOD = 30
UNLIMITED = ("--rate-limit-per-ip", "0", "--rate-limit-per-client", "0", "--rate-limit-creations-per-ip", "0")
"""Hundreds of requests from 127.0.0.1 are the point of these tests, not abuse."""
RACE_TRIALS = 20
RACE_CONCURRENCY = 10
RACE_MIN_TRIALS = 5
RACE_BUDGET_SECONDS = 90.0


def environment() -> dict[str, str]:
    """The environment, minus a ``TOTPKIT_KEYS_FILE`` the developer may have set."""
    return {name: value for name, value in os.environ.items() if name != "TOTPKIT_KEYS_FILE"}


def bearer(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.secret_key}"}


def current_step() -> int:
    return time_step(time.time(), PERIOD)


def assert_one_success(responses: list[httpx.Response]) -> httpx.Response:
    """Exactly one 200; every other answer a Clerk-format 4xx (never 5xx, never 401)."""
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 1, statuses
    for response in responses:
        if response.status_code != 200:
            assert 400 <= response.status_code < 500, (response.status_code, response.text)
            assert response.status_code != 401, response.text
            assert response.json()["errors"][0]["code"], response.text
    return next(response for response in responses if response.status_code == 200)


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two ``totpkit serve`` processes on one data directory (one SQLite file, one keys file)."""
    data_dir = tmp_path / "data"
    with (
        serve(data_dir, args=UNLIMITED, env=environment()) as first,
        serve(data_dir, args=UNLIMITED, env=environment()) as second,
    ):
        yield first, second
        for server in (first, second):
            assert server.is_alive(), server.log_tail()


# --- replay races across two processes -----------------------------------------------------------


@dataclass
class RaceUser:
    """A user with an imported TOTP secret and backup codes, and sign-ins waiting for a second factor."""

    email: str
    secret: str
    codes: list[str]
    last_step: int = -1
    waiting: list[tuple[Any, str]] = field(default_factory=list)
    """``(device, sign_in_id)`` pairs in ``needs_second_factor``."""


class Race:
    """Users and sign-ins spread over two server processes; one code submitted by all sign-ins at once."""

    def __init__(self, servers: tuple[RunningServer, ...], clients: list[httpx.AsyncClient], device: Any) -> None:
        self.servers = servers
        self.clients = clients
        self.device = device
        self.random = random.Random(4242)
        self.users = 0

    async def new_user(self) -> RaceUser:
        """A user created through the Backend API of the first process, with ``RACE_CONCURRENCY`` sign-ins."""
        self.users += 1
        secret = base64.b32encode(self.random.randbytes(20)).decode().rstrip("=")
        codes = [f"race{self.users}code{index}" for index in range(10)]
        user = RaceUser(email=f"race{self.users}@example.com", secret=secret, codes=codes)
        body = {"email_address": [user.email], "password": PASSWORD, "totp_secret": secret, "backup_codes": codes}
        created = await self.clients[0].post("/v1/users", json=body, headers=bearer(self.servers[0]))
        assert created.status_code == 200, created.text
        await asyncio.gather(*(self.add_sign_in(user, index) for index in range(RACE_CONCURRENCY)))
        return user

    async def add_sign_in(self, user: RaceUser, index: int) -> None:
        """One more sign-in in ``needs_second_factor``, on process ``index % 2``."""
        device = self.device(self.clients[index % len(self.clients)])
        started = await device.post("/v1/client/sign_ins", data={"identifier": user.email, "password": PASSWORD})
        assert started.status_code == 200, started.text
        assert started.json()["response"]["status"] == "needs_second_factor", started.text
        user.waiting.append((device, started.json()["response"]["id"]))

    async def submit(self, user: RaceUser, strategy: str, code: str) -> list[httpx.Response]:
        """All waiting sign-ins submit ``code`` at once; the completed one is replaced by a fresh sign-in."""
        responses = list(
            await asyncio.gather(
                *(
                    device.post(
                        f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor",
                        data={"strategy": strategy, "code": code},
                    )
                    for device, sign_in_id in user.waiting
                )
            )
        )
        completed = [index for index, response in enumerate(responses) if response.status_code == 200]
        user.waiting = [pair for index, pair in enumerate(user.waiting) if index not in completed]
        for index in completed:
            await self.add_sign_in(user, index)
        return responses

    async def totp_trials(self, user: RaceUser, wanted: int, deadline: float) -> int:
        """Up to ``wanted`` TOTP races with the user's codes for the steps around now, each step once.

        Returns the number of trials whose code stayed inside the ±1 window while the requests ran:
        each had exactly one winner. A trial that ran past the window must still not have two.
        """
        trials = 0
        while trials < wanted and time.monotonic() < deadline:
            target = max(current_step() - 1, user.last_step + 1)
            if target > current_step() + 1:
                break  # every step in this user's window is used
            responses = await self.submit(user, "totp", totp_code(user.secret, at=target * PERIOD))
            if any(response.status_code == 200 for response in responses):
                user.last_step = target
            if current_step() > target + 1:  # the code left the window while the requests ran
                assert [response.status_code for response in responses].count(200) <= 1
                continue
            assert_one_success(responses)
            trials += 1
        return trials

    async def backup_code_trials(self, user: RaceUser, wanted: int, deadline: float) -> int:
        """Up to ``wanted`` races with one of the user's backup codes each; every one has one winner."""
        trials = 0
        for code in user.codes[:wanted]:
            if time.monotonic() >= deadline:
                break
            assert_one_success(await self.submit(user, "backup_code", code))
            trials += 1
        return trials


@pytest.fixture
async def race(two_servers: tuple[RunningServer, RunningServer], native_device: Any) -> Any:
    async with (
        httpx.AsyncClient(base_url=two_servers[0].url, timeout=60, trust_env=False) as first,
        httpx.AsyncClient(base_url=two_servers[1].url, timeout=60, trust_env=False) as second,
    ):
        yield Race(two_servers, [first, second], native_device)


class TestReplayRacesAcrossProcesses:
    async def test_totp_and_backup_codes_are_accepted_once(self, race: Race) -> None:
        """Trials of 10 concurrent sign-ins, split over two processes on one database, all submitting one
        valid TOTP code (or one backup code): exactly one wins each trial, up to 20 trials of each kind."""
        deadline = time.monotonic() + RACE_BUDGET_SECONDS
        totp_trials = backup_trials = 0
        while min(totp_trials, backup_trials) < RACE_TRIALS and time.monotonic() < deadline:
            user = await race.new_user()
            totp_trials += await race.totp_trials(user, RACE_TRIALS - totp_trials, deadline)
            backup_trials += await race.backup_code_trials(user, min(3, RACE_TRIALS - backup_trials), deadline)
        assert totp_trials >= RACE_MIN_TRIALS, f"only {totp_trials} TOTP trials in {RACE_BUDGET_SECONDS} s"
        assert backup_trials >= RACE_MIN_TRIALS, f"only {backup_trials} backup-code trials in {RACE_BUDGET_SECONDS} s"


# --- signing-key rotation ----------------------------------------------------------------------


def sign_in_and_token(server: RunningServer, email: str) -> tuple[str, str, str]:
    """Sign ``email`` in natively; returns ``(client token, session id, session JWT)``."""
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as http:
        started = http.post(
            "/v1/client/sign_ins",
            params={"_is_native": "1"},
            data={"identifier": email, "password": PASSWORD},
            headers={"Authorization": ""},
        )
        assert started.status_code == 200, started.text
        token = started.headers["authorization"]
        session_id = started.json()["response"]["created_session_id"]
        return token, session_id, session_token(server, token, session_id)


def session_token(server: RunningServer, client_token: str, session_id: str) -> str:
    response = httpx.post(
        f"{server.url}/v1/client/sessions/{session_id}/tokens",
        params={"_is_native": "1"},
        headers={"Authorization": client_token},
        timeout=30,
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["jwt"])


def published_keys(server: RunningServer) -> dict[str, Any]:
    jwks = httpx.get(f"{server.url}/.well-known/jwks.json", timeout=30, trust_env=False).json()

    def number(text: str) -> int:
        return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")

    return {key["kid"]: rsa.RSAPublicNumbers(number(key["e"]), number(key["n"])).public_key() for key in jwks["keys"]}


def header_and_claims(jwt: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, claims, _ = (base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in jwt.split("."))
    return json.loads(header), json.loads(claims)


class TestSigningKeyRotation:
    def test_rotate_publish_both_then_retire(self, tmp_path: Path) -> None:
        """``rotate --signing``: new tokens carry the new kid, the JWKS publishes both keys and an old token
        still verifies; after ``retire`` the old key is gone from the JWKS and its tokens fail."""
        data_dir = tmp_path / "data"
        with serve(data_dir, args=UNLIMITED, env=environment()) as server:
            created = httpx.post(
                f"{server.url}/v1/users",
                json={"email_address": ["signer@example.com"], "password": PASSWORD},
                headers=bearer(server),
                timeout=30,
            )
            assert created.status_code == 200, created.text
            client_token, session_id, old_jwt = sign_in_and_token(server, "signer@example.com")
            (old_kid,) = published_keys(server)
        old_header, old_claims = header_and_claims(old_jwt)
        assert old_header["kid"] == old_kid

        assert main(["keys", "rotate", "--signing", "--data-dir", str(data_dir)]) == 0
        new_kid = read_keys_file(data_dir / "keys.json").signing_keys[0].kid
        with serve(data_dir, args=UNLIMITED, env=environment()) as server:
            keys = published_keys(server)
            assert list(keys) == [new_kid, old_kid]
            new_jwt = session_token(server, client_token, session_id)
            assert header_and_claims(new_jwt)[0]["kid"] == new_kid
            verify_jwt(old_jwt, keys, now=old_claims["iat"])
            verify_jwt(new_jwt, keys, now=header_and_claims(new_jwt)[1]["iat"])

        assert main(["keys", "retire", new_kid, "--data-dir", str(data_dir)]) == 1  # it signs: refused
        assert main(["keys", "retire", old_kid, "--data-dir", str(data_dir)]) == 0
        with serve(data_dir, args=UNLIMITED, env=environment()) as server:
            keys = published_keys(server)
            assert list(keys) == [new_kid]
            verify_jwt(new_jwt, keys, now=header_and_claims(new_jwt)[1]["iat"])
            with pytest.raises(InvalidTokenError, match="unknown key id"):
                verify_jwt(old_jwt, keys, now=old_claims["iat"])
            assert header_and_claims(session_token(server, client_token, session_id))[0]["kid"] == new_kid


# --- start-up check and a stolen database ------------------------------------------------------------


def run_serve(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``totpkit serve`` expected to refuse to start (bounded: a server that starts is killed by the timeout)."""
    command = [sys.executable, "-m", "totpkit_server", "serve", "--data-dir", str(data_dir)]
    command += ["--host", "127.0.0.1", "--port", str(free_port()), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment(), check=False)


def create_mfa_user(server: RunningServer, email: str, secret: str, codes: list[str]) -> str:
    body = {"email_address": [email], "password": PASSWORD, "totp_secret": secret, "backup_codes": codes}
    created = httpx.post(f"{server.url}/v1/users", json=body, headers=bearer(server), timeout=30, trust_env=False)
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


class TestStartupKeyCheck:
    def test_serve_refuses_a_database_under_a_missing_sealing_key(self, tmp_path: Path) -> None:
        """A keys file whose ring lost the key the database uses: serve exits 2 naming it, no traceback."""
        data_dir = tmp_path / "data"
        with serve(data_dir, env=environment()) as server:
            create_mfa_user(server, "kept@example.com", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", ["keptcode01"])
        keys_path = data_dir / "keys.json"
        lost = read_keys_file(keys_path).key_ring.active_key_id
        document = json.loads(keys_path.read_text())
        document["key_ring"] = json.loads(KeyRing.generate(os.urandom, key_id="k_replacement").to_json())
        keys_path.write_text(json.dumps(document))

        result = run_serve(data_dir)
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"'{lost}' (1 TOTP secret(s), 1 unused backup code(s))" in result.stderr
        assert "missing from the key ring" in result.stderr
        assert "Traceback" not in result.stderr


class TestStolenDatabase:
    def test_a_copy_taken_while_serving_reveals_and_authenticates_nothing(self, tmp_path: Path) -> None:
        """The database files copied from a running server hold no secret, code, password, token or key;
        nothing in them authenticates a request; and a server given the copy alone refuses to start."""
        data_dir, stolen = tmp_path / "data", tmp_path / "stolen"
        secret = base64.b32encode(seeded_random(b"stolen")(20)).decode().rstrip("=")
        codes = [f"stolencode{index}" for index in range(10)]
        with serve(data_dir, args=UNLIMITED, env=environment()) as server:
            user_id = create_mfa_user(server, "victim@example.com", secret, codes)
            client_token, session_jwt = _signed_in_with_totp(server, "victim@example.com", secret)
            stolen.mkdir()
            database = data_dir / "totpkit.db"
            for suffix in ("", "-wal", "-shm"):
                if Path(f"{database}{suffix}").exists():
                    shutil.copyfile(f"{database}{suffix}", stolen / f"totpkit.db{suffix}")
            copied = b"".join(path.read_bytes() for path in sorted(stolen.iterdir()))
            assert user_id.encode() in copied  # the copy really holds the data
            for needle in _secrets(data_dir, secret, codes, client_token, session_jwt):
                assert needle not in copied, needle[:12]
            _nothing_in_the_copy_authenticates(server, stolen / "totpkit.db")

        result = run_serve(stolen)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "missing from the key ring" in result.stderr


def _signed_in_with_totp(server: RunningServer, email: str, secret: str) -> tuple[str, str]:
    """A native sign-in finished with the current TOTP code: ``(client token, session JWT)``."""
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as http:
        started = http.post(
            "/v1/client/sign_ins",
            params={"_is_native": "1"},
            data={"identifier": email, "password": PASSWORD},
            headers={"Authorization": ""},
        )
        token = started.headers["authorization"]
        done = http.post(
            f"/v1/client/sign_ins/{started.json()['response']['id']}/attempt_second_factor",
            params={"_is_native": "1"},
            data={"strategy": "totp", "code": totp_code(secret, at=time.time())},
            headers={"Authorization": token},
        )
        assert done.status_code == 200, done.text
        token = done.headers["authorization"]  # re-issued by the completed sign-in
        return token, session_token(server, token, done.json()["response"]["created_session_id"])


def _secrets(data_dir: Path, secret: str, codes: list[str], client_token: str, session_jwt: str) -> Iterator[bytes]:
    """Every secret a database thief must not find, in the forms it could be stored in."""
    raw = decode_secret(secret)
    yield from (secret.encode(), secret.lower().encode(), raw, raw.hex().encode(), base64.b64encode(raw))
    for code in codes:
        yield code.encode()
    yield from (PASSWORD.encode(), client_token.encode(), session_jwt.encode())
    keys = read_keys_file(data_dir / "keys.json")
    yield keys.secret_key.encode()
    document = json.loads((data_dir / "keys.json").read_text())
    for encoded in document["key_ring"]["keys"].values():
        yield from (encoded.encode(), base64.b64decode(encoded))
    for signing in document["signing_keys"]:
        body = [line for line in signing["pem"].splitlines() if "PRIVATE KEY" not in line]
        yield from (line.encode() for line in body[1:4])


def _nothing_in_the_copy_authenticates(server: RunningServer, copy: Path) -> None:
    """Token hashes and password hashes from the copy, used as credentials, are refused."""
    with sqlite3.connect(copy) as conn:
        token_hashes = [row[0] for row in conn.execute("SELECT token_hash FROM clients")]
        password_hashes = [row[0] for row in conn.execute("SELECT password_hash FROM users")]
    assert token_hashes
    assert password_hashes
    with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as http:
        for credential in [*token_hashes, *password_hashes]:
            me = http.get("/v1/me", params={"_is_native": "1"}, headers={"Authorization": credential})
            assert me.status_code == 401, me.text
            bapi = http.get("/v1/users/user_any", headers={"Authorization": f"Bearer {credential}"})
            assert bapi.status_code == 401, bapi.text
        for password_hash in password_hashes:
            sign_in = http.post(
                "/v1/client/sign_ins",
                params={"_is_native": "1"},
                data={"identifier": "victim@example.com", "password": password_hash},
                headers={"Authorization": ""},
            )
            assert sign_in.status_code == 422, sign_in.text
            assert sign_in.json()["errors"][0]["code"] == "form_password_incorrect"
