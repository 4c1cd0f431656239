"""Schema-driven fuzzing of every operation in the app's own OpenAPI document (``nox -s fuzz``).

Schemathesis loads ``GET /openapi.json`` from the app under test, generates requests for each
operation (schema-valid ones and, in its negative mode, invalid ones; boundary values in its
coverage phase) and sends them in-process. Every answer must be no 5xx and must be one the document
promises: a documented status, content type and headers, and a body matching the documented schema;
and a request that breaks the documented constraints must be refused with a 4xx.

The app runs in schemathesis's own ASGI portal (its lifespan starts with the schema request, at
import, and lasts the run). A second app on the same SQLite database, driven by Litestar's
``TestClient``, keeps a "world" the fuzzer borrows from: a user with a verified TOTP, signed in on a
native device, whose client also has a sign-in waiting for its second factor. Each case is steered by
a hash of its own generated data, so a run is reproducible: about half carry the world's client token
(on the Backend API, the secret key), about half get the world's real session, sign-in and user ids,
and about half have their ``identifier``, ``password``, ``code`` and ``email_address`` fields set to
the world user's email, password and current TOTP code, or a new address. Whatever a case breaks (an ended
session, a deleted TOTP, a locked user), the world is rebuilt before the next one; the clock moves
one TOTP period per case. ``TOTPKIT_FUZZ_EXAMPLES`` sets the examples per operation and phase.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from totpkit.otp import totp_code
from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.core.passwords import PasswordHasher
from totpkit_server.core.sealing import KeyRing
from totpkit_server.core.tokens import SigningKey
from totpkit_server.testing import seeded_random

START_TIME = 1_700_000_015.0
PASSWORD = "correct horse battery staple"
SECRET_KEY = "sk_test_fuzz_" + "0" * 40
MAX_EXAMPLES = int(os.environ.get("TOTPKIT_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
]
_REAL_IDS = ("session_id", "sign_in_id", "user_id")


class SteppingClock:
    """The apps' clock, moved by hand: one TOTP period per case, so each case has a fresh code."""

    def __init__(self, now: float = START_TIME) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def step(self, seconds: float = 30.0) -> None:
        self.now += seconds


CLOCK = SteppingClock()
DATA_DIR = Path(tempfile.mkdtemp(prefix="totpkit-fuzz-"))
CONFIG = TOTPKitConfig(
    issuer_name="totpkit fuzz",
    data_dir=DATA_DIR,
    clock=CLOCK,
    random_bytes=seeded_random(b"fuzz"),
    password_hasher=PasswordHasher.fast_for_tests(),
    key_ring=KeyRing.generate(seeded_random(b"fuzz keys")),
    signing_keys=(SigningKey.generate("ins_fuzzsigningkey00000000000000"),),
    secret_key=SECRET_KEY,
)


def _load_schema() -> schemathesis.BaseSchema:
    settings = schemathesis.Config()
    settings.projects.default.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(CONFIG), config=settings)


schema = _load_schema()


class World:
    """Ids and credentials of a live user, rebuilt whenever a case broke them."""

    def __init__(self, http: TestClient[Litestar]) -> None:
        self.http = http
        self._emails = itertools.count(1)
        self.token = self.email = self.user_id = self.session_id = self.sign_in_id = self.secret = ""
        self.unsure = True

    def code(self) -> str:
        """The world user's TOTP code now."""
        return totp_code(self.secret, at=CLOCK.now)

    def body_values(self) -> dict[str, Any]:
        """Body fields that make a request succeed: the world's identifier, password and code, a new email."""
        return {
            "identifier": self.email,
            "password": PASSWORD,
            "code": self.code(),
            "email_address": [f"new{next(self._emails)}@example.com"],
        }

    def ensure(self) -> None:
        """Rebuild unless the user is signed in, enrolled and unlocked, and its sign-in still pending.

        Checked only when the last case may have changed something (it was not a GET).
        """
        if self.unsure and (not self.token or not self._intact()):
            self._build()
        self.unsure = False

    def _native(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(
            method, path, params={"_is_native": "1"}, headers={"Authorization": self.token}, **kwargs
        )
        self.token = response.headers.get("authorization") or self.token
        return response

    def _intact(self) -> bool:
        me = self._native("GET", "/v1/me")
        if me.status_code != 200:
            return False
        user = me.json()["response"]
        if user["id"] != self.user_id or not user["totp_enabled"] or user["locked"]:
            return False
        sign_in = self._native("GET", f"/v1/client/sign_ins/{self.sign_in_id}")
        return sign_in.status_code == 200 and sign_in.json()["response"]["status"] == "needs_second_factor"

    def _build(self) -> None:
        email = self.email = f"fuzz{next(self._emails)}@example.com"
        created = self.http.post(
            "/v1/users",
            json={"email_address": [email], "password": PASSWORD},
            headers={"Authorization": f"Bearer {SECRET_KEY}"},
        )
        assert created.status_code == 200, created.text
        self.user_id, self.token = created.json()["id"], ""
        signed_in = self._native("POST", "/v1/client/sign_ins", data={"identifier": email, "password": PASSWORD})
        assert signed_in.json()["response"]["status"] == "complete", signed_in.text
        self.session_id = signed_in.json()["client"]["last_active_session_id"]
        self.secret = self._native("POST", "/v1/me/totp").json()["response"]["secret"]
        verified = self._native("POST", "/v1/me/totp/attempt_verification", data={"code": self.code()})
        assert verified.status_code == 200, verified.text
        pending = self._native("POST", "/v1/client/sign_ins", data={"identifier": email, "password": PASSWORD})
        assert pending.json()["response"]["status"] == "needs_second_factor", pending.text
        self.sign_in_id = pending.json()["response"]["id"]
        CLOCK.step()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """The world, kept through a second app on the fuzzed app's database (removed afterwards)."""
    try:
        with TestClient(create_app(CONFIG), base_url="http://testserver.local") as http:
            yield World(http)
    finally:
        shutil.rmtree(DATA_DIR, ignore_errors=True)


def _draw(case: schemathesis.Case, salt: str, choices: int) -> int:
    """A number in ``range(choices)`` fixed by the case's generated data (reproducible steering)."""
    material = repr((salt, case.path_parameters, sorted((case.query or {}).items()), case.body))
    return zlib.crc32(material.encode("utf-8", "surrogatepass")) % choices


def _steer(case: schemathesis.Case, world: World) -> None:
    """Borrow the world's credentials, ids and code for some cases (see the module docstring)."""
    security = case.operation.definition.raw.get("security") or []
    if _draw(case, "auth", 2) == 0:
        if {"SecretKey": []} in security:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {SECRET_KEY}"}
        elif security:
            headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "origin"}
            case.headers = {**headers, "Authorization": world.token}
            case.query = {**(case.query or {}), "_is_native": "1"}
    if _draw(case, "ids", 2) == 0:
        for name in _REAL_IDS:
            if name in (case.path_parameters or {}):
                case.path_parameters[name] = getattr(world, name)
        if "_clerk_session_id" in (case.query or {}):
            case.query["_clerk_session_id"] = world.session_id
    if isinstance(case.body, dict) and _draw(case, "body", 2) == 0:
        case.body = {**case.body, **{k: v for k, v in world.body_values().items() if k in case.body}}


@schema.parametrize()
def test_every_operation(case: schemathesis.Case, world: World) -> None:
    """No 5xx; every answer is one the document promises; schema-violating requests are refused."""
    world.ensure()
    _steer(case, world)
    try:
        case.call_and_validate(checks=CHECKS)
    finally:
        world.unsure = case.method.upper() != "GET"
        CLOCK.step()
