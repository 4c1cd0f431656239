"""Development sessions: ``nox`` runs lint, typecheck, tests, minimums, contract, fuzz, clerkjs, browser, base_install.

Each session installs the project from this repository's own files into its own virtualenv, so a
green run proves a fresh machine can do the same. No session skips: a missing tool (Node, npm) is a
failure, because CI must not pass without running what it should test.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = [
    "lint",
    "typecheck",
    "tests",
    "minimums",
    "contract",
    "fuzz",
    "clerkjs",
    "browser",
    "base_install",
    "bench",
]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTEST_ARGS = ("--strict-markers", "--strict-config", "--durations=10", "-p", "no:cacheprovider")


def _install(session: nox.Session, *groups: str) -> None:
    session.install("-e", ".[server,testing,postgres]")
    for group in groups:
        session.install(*nox.project.dependency_groups(PYPROJECT, group))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over both packages, the SDK typing examples, examples/ and this file."""
    _install(session, "typing")
    session.run("mypy")
    session.run("mypy", "--strict", "examples", "noxfile.py")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and API tests of the SDK and the server (SQLite), without the clerk-js and browser tests."""
    _install(session, "test")
    session.run(
        "pytest", *PYTEST_ARGS, "-m", "not clerkjs and not browser", "sdk/tests", "server/tests", *session.posargs
    )


@nox.session(venv_backend="uv")
def minimums(session: nox.Session) -> None:
    """The unit and API tests on the lowest versions that pyproject's floors allow (uv ``lowest-direct``).

    First the SDK with the ``jwt`` extra (its own, lower cryptography floor), then the SDK and the
    server with the ``server`` extra. ``--upgrade`` moves every floor back down in a reused virtualenv.
    When this fails, raise the floor and say why next to it in pyproject.toml.
    """
    lowest = ("--resolution", "lowest-direct", "--upgrade")
    test = nox.project.dependency_groups(PYPROJECT, "test")
    session.install(*lowest, "-e", ".[jwt,testing]", *test)
    session.run("pytest", *PYTEST_ARGS, "sdk/tests", *session.posargs)
    session.install(*lowest, "-e", ".[server,postgres,testing]", *test)
    session.run(
        "pytest", *PYTEST_ARGS, "-m", "not clerkjs and not browser", "sdk/tests", "server/tests", *session.posargs
    )


@nox.session
def contract(session: nox.Session) -> None:
    """The contract suite; pass ``-- --base-url http://host:port --secret-key sk_...`` for a live server."""
    _install(session, "test")
    session.run("pytest", *PYTEST_ARGS, "contract_tests", *session.posargs)


@nox.session
def fuzz(session: nox.Session) -> None:
    """Schemathesis over every operation of the app's own OpenAPI document: no 5xx, no undocumented answer.

    Bounded for CI (``TOTPKIT_FUZZ_EXAMPLES`` examples per operation, 20 by default); set it higher to
    fuzz longer.
    """
    _install(session, "test", "fuzz")
    session.run("pytest", *PYTEST_ARGS, "fuzz_tests", *session.posargs)


@nox.session
def clerkjs(session: nox.Session) -> None:
    """Drive the unmodified @clerk/clerk-js (pinned in clerkjs/package-lock.json) in Node against a server process."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            session.error(f"{tool} is required for the clerk-js test (Node 20 + npm)")
    _install(session, "test")
    session.run("npm", "ci", "--prefix", "clerkjs", "--no-audit", "--no-fund", external=True)
    session.run("pytest", *PYTEST_ARGS, "-m", "clerkjs", "server/tests/test_clerkjs.py", *session.posargs)


@nox.session
def browser(session: nox.Session) -> None:
    """The unmodified clerk-js bundle, headless and with Clerk's prebuilt UI (@clerk/ui), in Debian's Chromium
    against a server process, and the server's browser pages (the /examples/totp example, the /docs viewer);
    screenshots of every screen go to artifacts/screenshots/."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            session.error(f"{tool} is required for the browser test (Node 20 + npm)")
    chromium = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if not Path(chromium).is_file():
        session.error(f"Chromium is required for the browser test: apt-get install -y chromium (missing {chromium})")
    _install(session, "test")
    session.run("npm", "ci", "--prefix", "clerkjs", "--no-audit", "--no-fund", external=True)
    session.run(
        "pytest",
        *PYTEST_ARGS,
        "-m",
        "browser",
        "server/tests/test_clerkjs_browser.py",
        "server/tests/test_pages_browser.py",  # /examples/totp and /docs; screenshots in artifacts/screenshots/
        "server/tests/test_clerkjs_prebuilt.py",
        *session.posargs,
    )
    session.log(f"screenshots of every browser screen: {ROOT / 'artifacts' / 'screenshots'}")


@nox.session
def base_install(session: nox.Session) -> None:
    """Install the wheel without extras: the SDK imports, the server stack is absent, verifying a
    session token asks for the ``jwt`` extra, QR codes for the ``qr`` extra, and the ``totpkit``
    command for the ``server`` extra."""
    session.install(".")
    session.run(
        "python",
        "-c",
        "import importlib.util, totpkit, totpkit.types;"
        "absent = [m for m in ('litestar', 'aiosqlite', 'cryptography', 'respx', 'segno', 'swagger_ui')"
        " if importlib.util.find_spec(m)];"
        "assert not absent, f'base install pulled in {absent}';"
        "print('SDK imports alone:', totpkit.__name__)",
    )
    session.run("python", "-c", _NEEDS_JWT_EXTRA)
    session.run("python", "-c", _NEEDS_QR_EXTRA)
    session.run("python", "-c", _NEEDS_SERVER_EXTRA)


_NEEDS_JWT_EXTRA = """
import asyncio
from totpkit import MissingDependencyError, verify_session_token
try:
    asyncio.run(verify_session_token("a.b.c", jwks={"keys": []}))
except MissingDependencyError as exc:
    assert "totpkit[jwt]" in str(exc), exc
    print("without the jwt extra:", exc)
else:
    raise AssertionError("verify_session_token ran without cryptography")
"""

_NEEDS_QR_EXTRA = """
from totpkit import MissingDependencyError
from totpkit.qr import qr_terminal
try:
    qr_terminal("otpauth://totp/a?secret=JBSWY3DPEHPK3PXP")
except MissingDependencyError as exc:
    assert "totpkit[qr]" in str(exc), exc
    print("without the qr extra:", exc)
else:
    raise AssertionError("qr_terminal ran without segno")
"""


_NEEDS_SERVER_EXTRA = """
import pathlib, subprocess, sys
command = pathlib.Path(sys.executable).parent / "totpkit"
for argv in ([str(command), "serve"], [sys.executable, "-m", "totpkit", "serve"]):
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    lines = result.stderr.splitlines()
    assert result.returncode == 1, (argv, result)
    assert len(lines) == 1 and "pip install 'totpkit[server]'" in lines[0], (argv, result.stderr)
    print("without the server extra:", lines[0])
"""


@nox.session
def bench(session: nox.Session) -> None:
    """The scaling benchmark (``bench/``): ``nox -s bench -- --backend postgres --workers 1,2``; without
    arguments a short smoke run on PostgreSQL that fails unless every request succeeded (CI)."""
    if not Path(WRK).is_file():
        session.error(f"the benchmark needs wrk at {WRK}: apt-get install -y wrk")
    _install(session)
    session.run("python", "-m", "bench", *(session.posargs or ["--smoke", "--backend", "postgres"]))


WRK = "/usr/bin/wrk"


if __name__ == "__main__":
    nox.main()
