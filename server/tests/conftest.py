"""Shared fixtures for the server's behaviour and security tests.

Everything is deterministic: a mutable fake clock, randomness from a seeded ``random.Random``, a fast
password hasher, explicit keys (unless a test asks for generated development keys) and a fresh data
directory per test. TOTP codes come from ``totpkit.otp.totp_code`` at the fake clock's time.

Backends: ``database_url`` is ``None`` (SQLite in the test's data directory) unless the test module
is marked ``both_backends``; then every test runs once per backend in :data:`BACKENDS`, the
``postgres`` run in a schema of its own in a database created for this test session and dropped
after it (needs ``TOTPKIT_TEST_POSTGRES_DSN``, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``;
without it those runs skip, and CI fails on any skip).

Two ways to talk to an app:

* ``client``: Litestar's ``AsyncTestClient`` (runs the lifespan; requests run one at a time in its
  portal thread, so it cannot produce real concurrency);
* ``concurrent_kit``: an ``httpx.AsyncClient`` over ``httpx.ASGITransport`` in the test's own event
  loop, with the lifespan entered here, so ``asyncio.gather`` really interleaves requests.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import itertools
import os
import random
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from litestar import Litestar
from litestar.testing import AsyncTestClient

from totpkit.otp import totp_code
from totpkit.testing import ManualClock
from totpkit_server import TOTPKitConfig, create_app
from totpkit_server.core.passwords import PasswordHasher
from totpkit_server.core.sealing import KeyRing
from totpkit_server.core.tokens import SigningKey
from totpkit_server.testing import (
    POSTGRES_DSN_VARIABLE,
    RunningServer,
    create_user,
    fresh_postgres_schema,
    postgres_test_database,
    serve,
)

BACKENDS = ("sqlite", "postgres")

START_TIME = 1_700_000_015.0
"""Five seconds into a TOTP time step (1_700_000_010 is a multiple of 30)."""

PASSWORD = "correct horse battery staple"
BASE_URL = "http://testserver.local"
_EMAIL_NUMBERS = itertools.count(1)


class FakeClock(ManualClock):
    """:class:`~totpkit.testing.ManualClock` starting at :data:`START_TIME`; pass it as ``TOTPKitConfig.clock``."""

    def __init__(self, now: float = START_TIME) -> None:
        super().__init__(now)


def seeded_random_bytes(seed: int) -> Callable[[int], bytes]:
    """A deterministic ``random_bytes`` source."""
    rng = random.Random(seed)
    return rng.randbytes


def b64url_uint(text: str) -> int:
    """An unsigned integer from unpadded base64url (JWK ``n``/``e``)."""
    import base64

    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def public_keys_from_jwks(jwks: dict[str, Any]) -> dict[str, rsa.RSAPublicKey]:
    """RSA public keys by ``kid`` from a JWKS document."""
    return {
        key["kid"]: rsa.RSAPublicNumbers(b64url_uint(key["e"]), b64url_uint(key["n"])).public_key()
        for key in jwks["keys"]
    }


def assert_clerk_error(response: httpx.Response, status: int | None = None, code: str | None = None) -> str:
    """Assert a Clerk-format 4xx error answer (optionally with ``status`` / ``code``); returns the code."""
    assert response.status_code < 500, (response.status_code, response.text)
    assert response.status_code >= 400, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body.get("errors"), list), body
    assert body["errors"], body
    assert isinstance(body["errors"][0].get("code"), str), body
    assert isinstance(body.get("clerk_trace_id"), str), body
    assert body["clerk_trace_id"], body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["errors"][0]["code"] == code, body
    return str(body["errors"][0]["code"])


class Device:
    """One native-mode FAPI client (``?_is_native=1``, the token echoed in ``Authorization``)."""

    def __init__(self, http: httpx.AsyncClient, token: str = "") -> None:
        self.http = http
        self.token = token

    async def request(
        self,
        method: str,
        path: str,
        *,
        data: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send a native request with this device's token and remember the token echoed back."""
        query = {"_is_native": "1", **(params or {})}
        all_headers = {"Authorization": self.token, **(headers or {})}
        response = await self.http.request(
            method, path, params=query, data=data, json=json, content=content, headers=all_headers
        )
        echoed = response.headers.get("authorization")
        if echoed:
            self.token = echoed
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def me(self) -> dict[str, Any]:
        """``GET /v1/me`` (must succeed)."""
        response = await self.get("/v1/me")
        assert response.status_code == 200, response.text
        return dict(response.json()["response"])


class Enrolled:
    """A signed-in user with a verified TOTP."""

    def __init__(self, device: Device, email: str, user_id: str, secret: str, backup_codes: list[str]) -> None:
        self.device = device
        self.email = email
        self.user_id = user_id
        self.secret = secret
        self.backup_codes = backup_codes


class Kit:
    """Helpers bound to one running app: BAPI users, native devices, sign-ins, enrolment, codes."""

    def __init__(self, http: httpx.AsyncClient, config: TOTPKitConfig, clock: FakeClock, secret_key: str) -> None:
        self.http = http
        self.config = config
        self.clock = clock
        self.secret_key = secret_key

    def code(self, secret: str, steps: int = 0) -> str:
        """The TOTP code of ``secret`` at the fake clock's time plus ``steps`` time steps."""
        return totp_code(secret, at=self.clock.now + steps * self.config.totp_period)

    def next_step(self) -> None:
        """Advance the clock by one TOTP period (a fresh code that has not been used yet)."""
        self.clock.advance(self.config.totp_period)

    def new_email(self) -> str:
        return f"user{next(_EMAIL_NUMBERS)}@example.com"

    def device(self, http: httpx.AsyncClient | None = None) -> Device:
        """A new native device without a client yet."""
        return Device(http or self.http)

    async def bapi_create_user(self, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post("/v1/users", json=body, headers={"Authorization": f"Bearer {self.secret_key}"})

    async def create_user(self, email: str | None = None, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        """Create a user through the Backend API; returns the user JSON."""
        body: dict[str, Any] = {"email_address": [email or self.new_email()], "password": password, **extra}
        response = await self.bapi_create_user(body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def start_sign_in(
        self, email: str, password: str = PASSWORD, device: Device | None = None
    ) -> tuple[Device, httpx.Response]:
        """``POST /v1/client/sign_ins`` with identifier and password on a (new) device."""
        device = device or self.device()
        response = await device.post("/v1/client/sign_ins", data={"identifier": email, "password": password})
        return device, response

    async def sign_in(self, email: str, password: str = PASSWORD, device: Device | None = None) -> Device:
        """A completed password-only sign-in (the user must not have MFA)."""
        device, response = await self.start_sign_in(email, password, device)
        assert response.status_code == 200, response.text
        assert response.json()["response"]["status"] == "complete", response.text
        return device

    async def user_and_device(self) -> tuple[str, Device]:
        """A new user (no MFA) signed in on a new device: ``(email, device)``."""
        email = self.new_email()
        await self.create_user(email)
        return email, await self.sign_in(email)

    async def enrol(self, device: Device) -> tuple[str, list[str]]:
        """Create and verify a TOTP for the device's user; returns ``(secret, backup codes)``.

        Afterwards the clock is one step further, so the next code has not been used.
        """
        created = await device.post("/v1/me/totp")
        assert created.status_code == 200, created.text
        secret = created.json()["response"]["secret"]
        verified = await device.post("/v1/me/totp/attempt_verification", data={"code": self.code(secret)})
        assert verified.status_code == 200, verified.text
        codes = verified.json()["response"]["backup_codes"]
        self.next_step()
        return secret, list(codes or [])

    async def enrolled_user(self) -> Enrolled:
        """A new user, signed in, with a verified TOTP and a first set of backup codes."""
        email, device = await self.user_and_device()
        secret, codes = await self.enrol(device)
        me = await device.me()
        return Enrolled(device, email, me["id"], secret, codes)

    async def second_factor_sign_in(self, email: str) -> tuple[Device, str]:
        """A new device with a sign-in in ``needs_second_factor``: ``(device, sign_in_id)``."""
        device, response = await self.start_sign_in(email)
        assert response.status_code == 200, response.text
        sign_in = response.json()["response"]
        assert sign_in["status"] == "needs_second_factor", sign_in
        return device, sign_in["id"]

    error = staticmethod(assert_clerk_error)
    """:func:`assert_clerk_error`, for test modules (they cannot import conftest)."""

    async def public_keys(self) -> dict[str, rsa.RSAPublicKey]:
        """The session-token verification keys published at ``/.well-known/jwks.json``."""
        response = await self.http.get("/.well-known/jwks.json")
        assert response.status_code == 200, response.text
        return public_keys_from_jwks(response.json())

    @staticmethod
    async def active_session_id(device: Device) -> str:
        """The device's ``last_active_session_id``."""
        response = await device.get("/v1/client")
        assert response.status_code == 200, response.text
        return str(response.json()["response"]["last_active_session_id"])

    async def bapi_get_user(self, user_id: str) -> httpx.Response:
        return await self.http.get(f"/v1/users/{user_id}", headers={"Authorization": f"Bearer {self.secret_key}"})

    @staticmethod
    async def attempt_second_factor(device: Device, sign_in_id: str, strategy: str, code: str) -> httpx.Response:
        return await device.post(
            f"/v1/client/sign_ins/{sign_in_id}/attempt_second_factor", data={"strategy": strategy, "code": code}
        )


# --- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The DSN of a PostgreSQL database created for this test session and dropped after it.

    Skips when ``TOTPKIT_TEST_POSTGRES_DSN`` is not set (``.ci/run`` sets it, and CI fails on skips).
    """
    admin_dsn = os.environ.get(POSTGRES_DSN_VARIABLE)
    if not admin_dsn:
        pytest.skip(f"PostgreSQL tests need {POSTGRES_DSN_VARIABLE}=postgresql://user@host:port/db")
    with postgres_test_database(admin_dsn) as dsn:
        yield dsn


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """A ``database_url`` naming a fresh schema of the session's PostgreSQL database."""
    return fresh_postgres_schema(postgres_database)


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture
def clerk_error() -> Callable[..., str]:
    """:func:`assert_clerk_error` as a fixture."""
    return assert_clerk_error


@pytest.fixture
def native_device() -> Callable[[httpx.AsyncClient], Device]:
    """Makes a :class:`Device` over any ``httpx.AsyncClient``, e.g. one pointed at a real server process."""
    return Device


@pytest.fixture(scope="session")
def password_hasher() -> PasswordHasher:
    """A fast argon2id hasher (one per test session: construction hashes once)."""
    return PasswordHasher.fast_for_tests()


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    """One RSA signing key for the whole session (generating one takes a while)."""
    return SigningKey.generate("ins_testsigningkey0000000000000")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the tests of modules marked ``both_backends`` once per backend (others on SQLite only)."""
    if "database_backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("database_backend", BACKENDS, indirect=True)


@pytest.fixture
def database_backend(request: pytest.FixtureRequest) -> str:
    """``sqlite`` or ``postgres``: the backend of this test run (``sqlite`` unless parametrised)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(request: pytest.FixtureRequest, database_backend: str) -> str | None:
    """The ``database_url`` of the test's configuration: ``None`` (SQLite) or a fresh PostgreSQL schema."""
    if database_backend == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def make_config(
    tmp_path: Any,
    clock: FakeClock,
    password_hasher: PasswordHasher,
    signing_key: SigningKey,
    database_url: str | None,
) -> Callable[..., TOTPKitConfig]:
    """Build a deterministic config; ``dev_keys=True`` leaves the keys to be generated in ``data_dir``."""
    seeds = itertools.count(1)

    def make(*, dev_keys: bool = False, seed: int | None = None, **overrides: Any) -> TOTPKitConfig:
        base_seed = seed if seed is not None else next(seeds)
        values: dict[str, Any] = {
            "issuer_name": "totpkit test",
            "clock": clock,
            "random_bytes": seeded_random_bytes(base_seed),
            "password_hasher": password_hasher,
            "data_dir": tmp_path,
            "database_url": database_url,
        }
        if not dev_keys:
            values["key_ring"] = KeyRing.generate(seeded_random_bytes(base_seed + 10_000))
            values["signing_keys"] = (signing_key,)
            values["secret_key"] = "sk_test_" + seeded_random_bytes(base_seed + 20_000)(24).hex()
        values.update(overrides)
        return TOTPKitConfig(**values)

    return make


@pytest.fixture
def config(make_config: Callable[..., TOTPKitConfig]) -> TOTPKitConfig:
    return make_config()


@pytest.fixture
def app(config: TOTPKitConfig) -> Litestar:
    return create_app(config)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app, base_url=BASE_URL) as test_client:
        yield test_client


@pytest.fixture
def kit(client: AsyncTestClient[Litestar], config: TOTPKitConfig, clock: FakeClock) -> Kit:
    assert config.secret_key is not None
    return Kit(client, config, clock, config.secret_key)


class LiveApps:
    """Apps whose lifespans run in the test's event loop, each with an in-loop ``httpx`` client.

    Each lifespan is entered and exited inside one background task (anyio cancel scopes must be left
    in the task that entered them; pytest-asyncio runs fixture set-up and tear-down in different tasks).
    """

    def __init__(self, clock: FakeClock) -> None:
        self._clock = clock
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._clients: list[httpx.AsyncClient] = []

    async def start(self, config: TOTPKitConfig) -> Kit:
        """Start ``create_app(config)`` and return a :class:`Kit` whose requests can run concurrently."""
        app = create_app(config)
        started = asyncio.Event()

        async def run() -> None:
            async with app.lifespan():
                started.set()
                await self._stop.wait()

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.append(task)
        waiter = asyncio.get_running_loop().create_task(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiter.cancel()
            await task  # re-raises the start-up failure
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)
        self._clients.append(http)
        assert config.secret_key is not None
        return Kit(http, config, self._clock, config.secret_key)

    async def stop(self) -> None:
        for open_client in self._clients:
            await open_client.aclose()
        self._stop.set()
        for task in self._tasks:
            await task


@pytest.fixture
async def live_apps(clock: FakeClock) -> AsyncIterator[LiveApps]:
    apps = LiveApps(clock)
    try:
        yield apps
    finally:
        await apps.stop()


@pytest.fixture
async def concurrent_kit(live_apps: LiveApps, config: TOTPKitConfig) -> Kit:
    """A :class:`Kit` over an in-loop ASGI client: ``asyncio.gather`` runs its requests concurrently."""
    return await live_apps.start(config)


PROCESS_USER_EMAIL = "ada.process@example.com"
PROCESS_USER_PASSWORD = "correct horse battery staple 42"


@dataclass(frozen=True)
class ServedUser:
    """A real ``totpkit serve`` process and the one user created in it before it started."""

    server: RunningServer
    user_id: str
    email: str = PROCESS_USER_EMAIL
    password: str = PROCESS_USER_PASSWORD

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(name="totpkit_process")
def fx_totpkit_process(tmp_path: Path) -> Iterator[ServedUser]:
    """``totpkit create-user`` then ``totpkit serve`` as child processes; stopped by PID afterwards.

    The test fails if the server died while it ran.
    """
    data_dir = tmp_path / "data"
    user_id = create_user(data_dir, PROCESS_USER_EMAIL, PROCESS_USER_PASSWORD)
    with serve(data_dir) as server:
        yield ServedUser(server=server, user_id=user_id)
        assert server.is_alive(), f"totpkit serve died during the test:\n{server.log_tail()}"


# --- the browser tests (clerk-js and the server's pages in Debian's Chromium) ---------------------------

CLERKJS_DIR = Path(__file__).resolve().parents[2] / "clerkjs"
"""The Node harness: drivers, pages and the pinned ``node_modules`` (``npm ci --prefix clerkjs``)."""


def _require_browser_tools(*packages: str) -> tuple[str, str]:
    """``(node, chromium)``: Node.js 20+, Chromium (``CHROMIUM_PATH`` or Debian's ``/usr/bin/chromium``)
    and the pinned npm ``packages`` (clerk-js and playwright-core always). Anything missing fails the
    calling test with how to install it: CI must never pass without the browser."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` (Node.js 20+) is not on PATH; install Node.js 20+ for the browser tests")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True)
    if int(version.stdout.strip().lstrip("v").split(".")[0]) < 20:
        pytest.fail(f"Node.js 20+ is required, found {version.stdout.strip()}")
    for package in ("@clerk/clerk-js", "playwright-core", *packages):
        if not (CLERKJS_DIR / "node_modules" / package / "package.json").is_file():
            pytest.fail(f"clerkjs/node_modules/{package} is missing: run `npm ci --prefix clerkjs`")
    chromium = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if not (Path(chromium).is_file() and os.access(chromium, os.X_OK)):
        pytest.fail(
            f"no Chromium at {chromium}: install Debian's package as root "
            "(`apt-get update && apt-get install -y chromium`), or point CHROMIUM_PATH at one"
        )
    return node, chromium


@pytest.fixture
def require_browser_tools() -> Callable[..., tuple[str, str]]:
    """Call it first in a browser test (before any server starts): ``node, chromium = require_browser_tools()``,
    naming extra npm packages the test needs; a missing tool fails the test itself."""
    return _require_browser_tools


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def clerkjs_pages() -> Iterator[str]:
    """``clerkjs/`` over HTTP on its own 127.0.0.1 port (pages and ``node_modules`` bundles, no CDN): the
    base URL, e.g. ``http://127.0.0.1:PORT``; another origin than the totpkit server's."""
    handler = functools.partial(_QuietHandler, directory=str(CLERKJS_DIR))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="clerkjs-pages", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)
