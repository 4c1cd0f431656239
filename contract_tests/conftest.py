"""Contract suite: pins every endpoint's answers against golden files and Clerk's OpenAPI documents.

The same tests run against three targets:

* ``inprocess`` (default): the real app through ``AsyncTestClient`` with a deterministic
  configuration (fake clock, sequential ids, seeded randomness, fixed keys). Answers must equal the
  golden files exactly.
* ``fake`` (default): the SDK's :class:`totpkit.testing.FakeFrontendAPI`. Answers are compared
  after normalising volatile values (ids, timestamps, secrets, tokens, codes, trace ids).
* ``inprocess_postgres`` (default): the ``inprocess`` app on PostgreSQL (a fresh schema per test in a
  database made for the run; needs ``TOTPKIT_TEST_POSTGRES_DSN``, else it skips). Answers must equal
  the same golden files exactly: the backend never shows on the wire.
* ``live`` (only with ``--base-url``): a running server over HTTP, compared like ``fake``.

``--update-golden`` rewrites the golden files from the ``inprocess`` target; without it a missing
golden file fails the test.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from openapi_schema_validator import OAS30Validator

from totpkit.otp import time_step, totp_code

from .clerk_openapi import (
    BASE_URL_ENV,
    CACHE_DIR_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_CACHE_DIR,
    DIR_ENV,
    DOCUMENTS,
    ClerkOpenAPIUnavailable,
    locate_document,
)

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

START_TIME = 1_767_225_600.0
"""2026-01-01T00:00:00Z: where the fake clock of the ``inprocess`` and ``fake`` targets starts."""

CONTRACT_SECRET_KEY = "sk_test_contract"
FAKE_SECRET_KEY = "sk_test_fake"
PASSWORD = "correct horse battery"
PERIOD = 30
NATIVE = {"_is_native": "1"}

# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("totpkit-contract", "totpkit contract tests")
    group.addoption(
        "--base-url",
        default=os.environ.get("TOTPKIT_CONTRACT_BASE_URL"),
        help="run the contract tests against this live server only (env TOTPKIT_CONTRACT_BASE_URL)",
    )
    group.addoption(
        "--secret-key",
        default=os.environ.get("TOTPKIT_CONTRACT_SECRET_KEY"),
        help="the live server's Backend API secret key (env TOTPKIT_CONTRACT_SECRET_KEY)",
    )
    group.addoption(
        "--clerk-openapi-dir",
        default=os.environ.get(DIR_ENV),
        help="a directory holding Clerk's pinned OpenAPI documents, instead of downloading them "
        f"(env {DIR_ENV}); see contract_tests/clerk_openapi.py",
    )
    group.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite contract_tests/golden/*.json from the inprocess target",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" not in metafunc.fixturenames:
        return
    names = ["live"] if metafunc.config.getoption("--base-url") else ["inprocess", "fake", "inprocess_postgres"]
    metafunc.parametrize("target", names, indirect=True)


# --------------------------------------------------------------------------------------------------
# OpenAPI validation
# --------------------------------------------------------------------------------------------------


def _rewrite_nullable(node: Any) -> Any:
    """Make Clerk's nullable shorthands explicit for a strict OAS 3.0 validator.

    * ``{nullable: true, allOf|oneOf|anyOf: [...]}`` means "the composition or null" (reference §8).
    * ``{nullable: true, enum: [...]}`` means "one of the values or null"; the validator checks
      ``enum`` on its own, so ``null`` is added to the list.
    """
    if isinstance(node, list):
        return [_rewrite_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    rewritten = {key: _rewrite_nullable(value) for key, value in node.items()}
    if rewritten.get("nullable") is True and isinstance(rewritten.get("enum"), list) and None not in rewritten["enum"]:
        rewritten["enum"] = [*rewritten["enum"], None]
    if rewritten.get("nullable") is True and any(key in rewritten for key in ("allOf", "oneOf", "anyOf")):
        inner = {key: value for key, value in rewritten.items() if key != "nullable"}
        return {"anyOf": [inner, {"nullable": True, "enum": [None]}]}
    return rewritten


def _load_spec(path: Path) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader class
    return {"components": _rewrite_nullable(document["components"]), "paths": document.get("paths", {})}


class SpecDocuments:
    """Clerk's FAPI and BAPI documents, located (see :mod:`contract_tests.clerk_openapi`) and parsed once.

    A document that cannot be had fails every test that needs it with the same message, without
    trying the download again for each test.
    """

    def __init__(self, override_dir: Path | None, cache_dir: Path, base_url: str) -> None:
        self._override_dir = override_dir
        self._cache_dir = cache_dir
        self._base_url = base_url
        self._documents: dict[str, dict[str, Any]] = {}
        self._failures: dict[str, str] = {}

    def document(self, api: str) -> dict[str, Any]:
        if api not in self._documents and api not in self._failures:
            try:
                path = locate_document(
                    DOCUMENTS[api], override_dir=self._override_dir, cache_dir=self._cache_dir, base_url=self._base_url
                )
            except ClerkOpenAPIUnavailable as exc:
                self._failures[api] = f"Clerk's {api.upper()} OpenAPI document is unavailable: {exc}"
            else:
                self._documents[api] = _load_spec(path)
        if api in self._failures:
            pytest.fail(self._failures[api], pytrace=False)
        return self._documents[api]


def _operation_schema(document: dict[str, Any], operation: str) -> dict[str, Any]:
    """The JSON schema of an answer written inline on a path, named ``"<METHOD> <path> <status>"``.

    Some BAPI answers (``verify_totp``, the MFA deletions) have no component schema of their own.
    """
    method, path, status = operation.split(" ")
    try:
        response = document["paths"][path][method.lower()]["responses"][status]
        if "$ref" in response:
            response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        schema: dict[str, Any] = _rewrite_nullable(response["content"]["application/json"]["schema"])
    except (KeyError, TypeError):
        pytest.fail(f"no JSON answer {operation!r} in the OpenAPI document", pytrace=False)
    return schema


class SpecValidators:
    """OAS 3.0 validators for named component schemas of Clerk's FAPI and BAPI documents.

    A ``schema`` with spaces names an operation's inline answer instead: ``"POST /users/{user_id}/verify_totp 200"``.
    """

    def __init__(self, documents: SpecDocuments) -> None:
        self._documents = documents
        self._validators: dict[tuple[str, str], OAS30Validator] = {}

    def validator(self, api: str, schema: str) -> OAS30Validator:
        key = (api, schema)
        if key not in self._validators:
            document = self._documents.document(api)
            if " " in schema:
                root = {**_operation_schema(document, schema), "components": document["components"]}
            elif schema in document["components"]["schemas"]:
                root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
            else:
                pytest.fail(f"no schema {schema!r} in the {api.upper()} OpenAPI document", pytrace=False)
            self._validators[key] = OAS30Validator(root)
        return self._validators[key]

    def validate(self, api: str, schema: str, instance: object) -> None:
        errors = sorted(self.validator(api, schema).iter_errors(instance), key=lambda e: list(e.absolute_path))
        if errors:
            lines = [
                f"  at {'/'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}" for error in errors
            ]
            pytest.fail(f"answer does not match {api.upper()} schema {schema!r}:\n" + "\n".join(lines[:20]))


@pytest.fixture(scope="session")
def spec(pytestconfig: pytest.Config) -> SpecValidators:
    """Validators built once per session (the YAML documents are located and parsed once)."""
    override = pytestconfig.getoption("--clerk-openapi-dir")
    documents = SpecDocuments(
        override_dir=Path(override) if override else None,
        cache_dir=Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR),
        base_url=os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
    )
    return SpecValidators(documents)


# --------------------------------------------------------------------------------------------------
# Deterministic keys
# --------------------------------------------------------------------------------------------------


def _is_probable_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for small in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % small == 0:
            return n == small
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(40):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _deterministic_prime(rng: random.Random, bits: int) -> int:
    while True:
        candidate = rng.getrandbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if (candidate - 1) % 65537 and _is_probable_prime(candidate, rng):
            return candidate


@cache
def deterministic_rsa_key() -> rsa.RSAPrivateKey:
    """A 2048-bit RSA test key derived from a fixed seed, so session tokens are byte-for-byte stable."""
    rng = random.Random(20260101)  # noqa: S311 - test key material, deterministic on purpose
    p, q = _deterministic_prime(rng, 1024), _deterministic_prime(rng, 1024)
    e, n = 65537, p * q
    d = pow(e, -1, (p - 1) * (q - 1))
    public = rsa.RSAPublicNumbers(e, n)
    numbers = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p), public_numbers=public
    )
    return numbers.private_key()


# --------------------------------------------------------------------------------------------------
# Targets
# --------------------------------------------------------------------------------------------------


class FakeClock:
    """A mutable clock: ``clock()`` is the current Unix time, tests move it with :meth:`advance`."""

    def __init__(self, start: float = START_TIME) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Target(Protocol):
    """What a contract test needs from the server under test."""

    name: str
    exact: bool
    """Answers must equal the golden files byte for byte (only the deterministic in-process app)."""
    time_travel: bool
    """:meth:`advance` really moves the server's clock."""
    base_url: str
    secret_key: str
    """The Backend API secret key."""
    http_client: httpx.AsyncClient

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response: ...

    def now(self) -> float: ...

    def advance(self, seconds: float) -> None: ...

    def email(self, canonical: str) -> str: ...

    async def create_user(self, email: str, password: str | None = PASSWORD, **imports: Any) -> dict[str, Any]: ...

    def fresh_code(self, secret: str) -> str: ...

    def normalise(self, value: Any) -> Any: ...


class BaseTarget(ABC):
    """The parts every target shares: requests, code bookkeeping and normalisation."""

    name = "base"
    exact = False
    time_travel = True
    secret_key = ""

    def __init__(self, http_client: httpx.AsyncClient, base_url: str) -> None:
        self.http_client = http_client
        self.base_url = base_url
        self._last_step: dict[str, int] = {}
        self._emails: dict[str, str] = {}

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; cookies are never kept between requests (tests send them explicitly)."""
        try:
            return await self.http_client.request(
                method, path, params=params, data=data, json=json, content=content, headers=headers
            )
        finally:
            self.http_client.cookies.clear()

    @abstractmethod
    def now(self) -> float:
        """The target's current time (Unix seconds)."""

    @abstractmethod
    def advance(self, seconds: float) -> None:
        """Move the target's clock forward (only targets with an injected clock can)."""

    def email(self, canonical: str) -> str:
        """The address to use for ``canonical`` on this target (unique per test on a live server)."""
        return canonical

    async def create_user(self, email: str, password: str | None = PASSWORD, **imports: Any) -> dict[str, Any]:
        """Create a user through the Backend API; returns the BAPI user JSON."""
        body: dict[str, Any] = {"email_address": [self.email(email)], **imports}
        if password is not None:
            body["password"] = password
        response = await self.request(
            "POST", "/v1/users", json=body, headers={"Authorization": f"Bearer {self.secret_key}"}
        )
        assert response.status_code == 200, response.text
        user: dict[str, Any] = response.json()
        return user

    def fresh_code(self, secret: str) -> str:
        """A valid code for a time step this test has not used yet for ``secret`` (replay-safe)."""
        step = time_step(self.now(), PERIOD)
        last = self._last_step.get(secret)
        if last is not None and last >= step:
            self.advance((last + 1 - step) * PERIOD)
            step = last + 1
        self._last_step[secret] = step
        return totp_code(secret, at=step * PERIOD + PERIOD / 2)

    def normalise(self, value: Any) -> Any:
        return normalise(value, self._emails)


class InProcessTarget(BaseTarget):
    """The real app in process, fully deterministic."""

    name = "inprocess"
    exact = True
    secret_key = CONTRACT_SECRET_KEY

    def __init__(self, http_client: httpx.AsyncClient, clock: FakeClock) -> None:
        super().__init__(http_client, str(http_client.base_url).rstrip("/"))
        self.clock = clock

    def now(self) -> float:
        return self.clock()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)


class PostgresTarget(InProcessTarget):
    """The real app in process on PostgreSQL; compared exactly, never writes golden files."""

    name = "inprocess_postgres"


class FakeTarget(InProcessTarget):
    """The SDK's respx-based fake of the server."""

    name = "fake"
    exact = False
    secret_key = FAKE_SECRET_KEY


class LiveTarget(BaseTarget):
    """A running server over HTTP, on the real clock; every test uses its own email addresses."""

    name = "live"
    exact = False
    time_travel = False

    def __init__(self, http_client: httpx.AsyncClient, base_url: str, secret_key: str) -> None:
        super().__init__(http_client, base_url)
        self.secret_key = secret_key
        self._tag = uuid.uuid4().hex[:12]

    def now(self) -> float:
        return time.time()

    def advance(self, seconds: float) -> None:
        pytest.skip("the live target cannot move the server's clock")

    def email(self, canonical: str) -> str:
        local, _, domain = canonical.partition("@")
        actual = f"{local}-ct{self._tag}@{domain}"
        self._emails[actual] = canonical
        return actual

    def fresh_code(self, secret: str) -> str:
        """Live: steps now-1, now, now+1 are accepted (window 1), used in increasing order."""
        current = time_step(time.time(), PERIOD)
        last = self._last_step.get(secret)
        step = current - 1 if last is None else max(last + 1, current - 1)
        if step > current + 1:
            pytest.skip("the live target has no unused TOTP time step left in the window")
        self._last_step[secret] = step
        return totp_code(secret, at=step * PERIOD + PERIOD / 2)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A PostgreSQL database for this run, dropped after it (skips without ``TOTPKIT_TEST_POSTGRES_DSN``)."""
    from totpkit_server.testing import POSTGRES_DSN_VARIABLE, postgres_test_database

    admin_dsn = os.environ.get(POSTGRES_DSN_VARIABLE)
    if not admin_dsn:
        pytest.skip(f"the inprocess_postgres target needs {POSTGRES_DSN_VARIABLE}")
    with postgres_test_database(admin_dsn) as dsn:
        yield dsn


@pytest.fixture
def target_database_url(request: pytest.FixtureRequest) -> str | None:
    """A fresh PostgreSQL schema for the ``inprocess_postgres`` target; ``None`` (SQLite) for the others."""
    from totpkit_server.testing import fresh_postgres_schema

    callspec = getattr(request.node, "callspec", None)
    if callspec is None or callspec.params.get("target") != "inprocess_postgres":
        return None
    return fresh_postgres_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture
def target_options() -> dict[str, Any]:
    """Settings given to both the in-process app and the fake (keyword arguments that ``TOTPKitConfig``
    and ``FakeFrontendAPI`` share, e.g. ``reverification_max_age``); a test module overrides this
    fixture to turn a feature on. A live server keeps its own settings."""
    return {}


@pytest.fixture
async def target(
    request: pytest.FixtureRequest,
    clock: FakeClock,
    tmp_path: Path,
    target_options: dict[str, Any],
    target_database_url: str | None,
) -> AsyncIterator[Target]:
    """The server under test: ``inprocess``, ``fake`` or ``live``; see the module docstring."""
    name = request.param
    if name in ("inprocess", "inprocess_postgres"):
        from litestar.testing import AsyncTestClient

        from totpkit_server import TOTPKitConfig, create_app
        from totpkit_server.core.ids import sequential_id_factory
        from totpkit_server.core.passwords import PasswordHasher
        from totpkit_server.core.request_context import sequential_trace_ids
        from totpkit_server.core.sealing import KeyRing
        from totpkit_server.core.tokens import SigningKey

        config = TOTPKitConfig(
            data_dir=tmp_path,
            clock=clock,
            random_bytes=random.Random(1234).randbytes,  # noqa: S311 - deterministic on purpose
            id_factory=sequential_id_factory(),
            trace_id_factory=sequential_trace_ids(),
            password_hasher=PasswordHasher.fast_for_tests(),
            key_ring=KeyRing({"contract": bytes(range(32))}, "contract"),
            signing_keys=(SigningKey("ins_contract", deterministic_rsa_key()),),
            secret_key=CONTRACT_SECRET_KEY,
            database_url=target_database_url,
            **target_options,
        )
        async with AsyncTestClient(create_app(config)) as client:
            yield InProcessTarget(client, clock) if name == "inprocess" else PostgresTarget(client, clock)
    elif name == "fake":
        from totpkit.testing import FakeFrontendAPI

        fake = FakeFrontendAPI(
            "https://fapi.totpkit.test",
            clock=clock,
            random_bytes=random.Random(1234).randbytes,  # noqa: S311 - deterministic on purpose
            **target_options,
        )
        async with fake:
            yield FakeTarget(fake.http_client(), clock)
    else:
        base_url = str(request.config.getoption("--base-url")).rstrip("/")
        secret_key = request.config.getoption("--secret-key")
        if not secret_key:
            pytest.fail("--base-url needs --secret-key (or TOTPKIT_CONTRACT_SECRET_KEY)", pytrace=False)
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            yield LiveTarget(client, base_url, str(secret_key))


# --------------------------------------------------------------------------------------------------
# Normalisation (fake and live targets)
# --------------------------------------------------------------------------------------------------

_ID = re.compile(r"\b(user|client|sess|sia|idn|totp|bcode|ins|dvb)_[0-9A-Za-z]{6,64}\b")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_BASE32 = re.compile(r"[A-Z2-7]{16,128}")
_TIMESTAMP_KEYS = re.compile(r".*_at$")
_CODES_KEYS = ("codes", "backup_codes")


def _normalise_string(text: str, emails: Mapping[str, str]) -> str:
    for actual, canonical in emails.items():
        text = text.replace(actual, canonical)
    return _ID.sub(lambda m: f"<id:{m.group(1)}>", text)


def normalise(value: Any, emails: Mapping[str, str] | None = None, key: str | None = None) -> Any:
    """Replace volatile values by typed placeholders; a value of an unexpected shape is kept as is.

    Keeping unexpected values means a wrong type or format still shows up as a difference.
    """
    emails = emails or {}
    if isinstance(value, dict):
        return {k: normalise(v, emails, k) for k, v in value.items()}
    if isinstance(value, list):
        if key in _CODES_KEYS and all(isinstance(code, str) and code for code in value):
            return ["<backup_code>"] * len(value)
        return [normalise(item, emails) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and key is not None and _TIMESTAMP_KEYS.fullmatch(key) and value > 10**12:
        return "<ms>"
    if isinstance(value, str):
        if key == "clerk_trace_id" and _TRACE_ID.fullmatch(value):
            return "<trace_id>"
        if key == "jwt" and _JWT.fullmatch(value):
            return "<jwt>"
        if key == "secret" and _BASE32.fullmatch(value):
            return "<secret>"
        if key == "uri" and value.startswith("otpauth://totp/"):
            return re.sub(r"secret=[A-Z2-7]+", "secret=<secret>", _normalise_string(value, emails))
        if key == "n" and re.fullmatch(r"[A-Za-z0-9_-]{300,}", value):
            return "<n>"
        if key == "id" and value.startswith("dvb_"):
            return "<id:dvb>"
        return _normalise_string(value, emails)
    return value


# --------------------------------------------------------------------------------------------------
# Golden files
# --------------------------------------------------------------------------------------------------


class Golden:
    """Compares answers with ``contract_tests/golden/<name>.json`` (and validates them against the spec)."""

    _written: dict[str, Any] = {}
    """Golden name to the body written in this session (``--update-golden``)."""

    def __init__(self, target: Target, spec: SpecValidators, update: bool) -> None:
        self.target = target
        self.spec = spec
        self.update = update

    def check(
        self,
        name: str,
        response: httpx.Response,
        *,
        status: int = 200,
        schema: str | None = None,
        api: str = "fapi",
    ) -> Any:
        """Assert status, content type, schema and golden equality; returns the decoded body."""
        assert response.status_code == status, f"{name}: expected {status}, got {response.status_code}: {response.text}"
        content_type = response.headers.get("content-type", "")
        assert content_type.split(";")[0].strip() == "application/json", f"{name}: content-type {content_type!r}"
        body = response.json()
        if schema is not None:
            self.spec.validate(api, schema, body)
        self.compare(name, body)
        return body

    def compare(self, name: str, body: Any) -> None:
        path = GOLDEN_DIR / f"{name}.json"
        if self.update and self.target.name == "inprocess":
            previous = self._written.get(name)
            if previous is not None and previous != body:
                pytest.fail(f"golden {name!r} is produced by two tests with different content")
            self._written[name] = body
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(body, indent=2, sort_keys=False) + "\n", encoding="utf-8")
            return
        if not path.is_file():
            pytest.fail(f"golden file {path.relative_to(GOLDEN_DIR.parent)} is missing; run with --update-golden")
        expected = json.loads(path.read_text(encoding="utf-8"))
        if not self.target.exact:
            body, expected = self.target.normalise(body), normalise(expected)
        if body != expected:
            lines = list(json_diff(expected, body))
            shown = "\n".join(f"  {line}" for line in lines[:25])
            more = f"\n  ... and {len(lines) - 25} more" if len(lines) > 25 else ""
            pytest.fail(
                f"{self.target.name}: answer differs from golden {name}.json (golden vs actual):\n{shown}{more}"
            )


def json_diff(expected: Any, actual: Any, path: str = "") -> Iterator[str]:
    """Readable differences between two JSON values, one line per differing path."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in expected.keys() | actual.keys():
            where = f"{path}.{key}"
            if key not in actual:
                yield f"{where}: missing (golden: {expected[key]!r:.120})"
            elif key not in expected:
                yield f"{where}: unexpected key (actual: {actual[key]!r:.120})"
            else:
                yield from json_diff(expected[key], actual[key], where)
    elif isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            yield from json_diff(left, right, f"{path}[{index}]")
    elif expected != actual or type(expected) is not type(actual):
        yield f"{path or '<root>'}: {expected!r:.160} != {actual!r:.160}"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """After ``--update-golden``, name the golden files no test wrote (stale, or tests were deselected)."""
    if not config.getoption("--update-golden") or not Golden._written:
        return
    on_disk = {str(p.relative_to(GOLDEN_DIR).with_suffix("")) for p in GOLDEN_DIR.rglob("*.json")}
    stale = sorted(on_disk - Golden._written.keys())
    terminalreporter.write_sep("-", f"golden files written: {len(Golden._written)}")
    for name in stale:
        terminalreporter.write_line(f"not written by this run (stale?): golden/{name}.json")


@pytest.fixture
def golden(target: Target, spec: SpecValidators, request: pytest.FixtureRequest) -> Golden:
    return Golden(target, spec, bool(request.config.getoption("--update-golden")))


# --------------------------------------------------------------------------------------------------
# Native devices and flows
# --------------------------------------------------------------------------------------------------


class Device:
    """A native client (``_is_native=1``): keeps the token the server hands back in ``Authorization``."""

    def __init__(self, target: Target, token: str = "") -> None:
        self.target = target
        self.token = token
        self.session_id: str | None = None

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        query = {**NATIVE, **(params or {})}
        if self.session_id and path.startswith("/v1/me"):
            query.setdefault("_clerk_session_id", self.session_id)
        response = await self.target.request(
            method,
            path,
            params=query,
            data=data,
            json=json,
            content=content,
            headers={"Authorization": self.token, **(headers or {})},
        )
        if "authorization" in response.headers:
            self.token = response.headers["authorization"]
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)


class Flows:
    """Multi-step setups shared by the tests (each step asserts its own success)."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def device(self) -> Device:
        return Device(self.target)

    async def user(self, email: str = "jane@example.com", **imports: Any) -> dict[str, Any]:
        return await self.target.create_user(email, **imports)

    async def sign_in(self, device: Device, email: str = "jane@example.com") -> dict[str, Any]:
        """Password sign-in; returns the sign-in JSON (``complete`` sets ``device.session_id``)."""
        response = await device.post(
            "/v1/client/sign_ins", data={"identifier": self.target.email(email), "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        sign_in: dict[str, Any] = response.json()["response"]
        if sign_in["status"] == "complete":
            device.session_id = sign_in["created_session_id"]
        return sign_in

    async def signed_in(self, email: str = "jane@example.com") -> Device:
        """A new user without MFA, signed in on a new device."""
        await self.user(email)
        device = self.device()
        sign_in = await self.sign_in(device, email)
        assert sign_in["status"] == "complete"
        return device

    async def create_totp(self, device: Device) -> str:
        response = await device.post("/v1/me/totp")
        assert response.status_code == 200, response.text
        secret: str = response.json()["response"]["secret"]
        return secret

    async def enrolled(self, email: str = "jane@example.com") -> tuple[Device, str, list[str]]:
        """A signed-in user with a verified TOTP: ``(device, secret, backup codes)``."""
        device = await self.signed_in(email)
        secret = await self.create_totp(device)
        response = await device.post("/v1/me/totp/attempt_verification", data={"code": self.target.fresh_code(secret)})
        assert response.status_code == 200, response.text
        codes: list[str] = response.json()["response"]["backup_codes"]
        return device, secret, codes

    async def needs_second_factor(self, email: str = "jane@example.com") -> tuple[Device, str, list[str], str]:
        """An enrolled user signed in again on a new device: ``(device, secret, codes, sign_in_id)``."""
        _, secret, codes = await self.enrolled(email)
        device = self.device()
        sign_in = await self.sign_in(device, email)
        assert sign_in["status"] == "needs_second_factor"
        return device, secret, codes, sign_in["id"]


@pytest.fixture
def flows(target: Target) -> Flows:
    return Flows(target)
