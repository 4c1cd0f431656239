"""Development sessions: ``nox`` runs lint, typecheck, tests, contract, fuzz, clerkjs, browser, base_install.

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
nox.options.sessions = ["lint", "typecheck", "tests", "contract", "fuzz", "clerkjs", "browser", "base_install"]

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
PYTEST_ARGS = ("--strict-markers", "--strict-config", "--durations=10", "-p", "no:cacheprovider")


def _install(session: nox.Session, *groups: str) -> None:
    session.install("-e", ".[server,testing]")
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
    against a server process; screenshots of every prebuilt screen go to artifacts/screenshots/<mode>/."""
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
        "server/tests/test_clerkjs_prebuilt.py",
        *session.posargs,
    )
    session.log(f"screenshots of Clerk's prebuilt UI: {ROOT / 'artifacts' / 'screenshots'}")


@nox.session
def base_install(session: nox.Session) -> None:
    """Install the wheel without extras: the SDK imports, the server stack is absent, and verifying a
    session token asks for the ``jwt`` extra."""
    session.install(".")
    session.run(
        "python",
        "-c",
        "import importlib.util, totpkit, totpkit.types;"
        "absent = [m for m in ('litestar', 'aiosqlite', 'cryptography', 'respx') if importlib.util.find_spec(m)];"
        "assert not absent, f'base install pulled in {absent}';"
        "print('SDK imports alone:', totpkit.__name__)",
    )
    session.run("python", "-c", _NEEDS_JWT_EXTRA)


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


if __name__ == "__main__":
    nox.main()
