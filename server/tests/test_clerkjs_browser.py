"""The faithful test: Clerk's unmodified clerk-js bundle in headless Chromium against totpkit.

A real ``totpkit serve`` process and a static file server for ``clerkjs/page`` on two 127.0.0.1
ports (so the page is cross-origin to the FAPI), and ``node clerkjs/browser.mjs`` driving Debian's
Chromium through playwright-core, in both browser modes:

* ``production``: ``pk_live_`` key of the server's host with ``proxyUrl``; the client is the
  HttpOnly ``__client`` cookie, sent cross-origin with CORS credentials.
* ``development``: ``pk_test_`` key of a Clerk dev host with ``proxyUrl``; clerk-js's dev-browser
  flow (``POST /v1/dev_browser``, then ``__clerk_db_jwt`` on every request).

The flow fails on any FAPI answer 404/405/5xx (or an unexpected 4xx), on failed requests (CORS)
and on browser console errors. Needs Node 20+, ``npm ci --prefix clerkjs`` and Chromium
(``apt-get install -y chromium``); without them the test fails rather than skips.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CLERKJS_DIR = REPO / "clerkjs"
DRIVER = CLERKJS_DIR / "browser.mjs"
HOST = "127.0.0.1"
FLOW_TIMEOUT_S = 180.0
"""browser.mjs bounds itself at FLOW_TIMEOUT_MS (150 s); this is the outer bound."""
STOP_TIMEOUT_S = 10.0
DEFAULT_CHROMIUM = "/usr/bin/chromium"


EXPECTED_STEPS = [
    "load",
    "sign_in_password",
    "create_totp",
    "verify_totp_wrong_code",
    "verify_totp",
    "create_backup_code",
    "disable_totp",
    "reenrol_totp",
    "sign_out",
    "sign_in_needs_second_factor",
    "second_factor_wrong_code",
    "sign_in_second_factor",
    "idle",
    "cookies",
]


def _require_tools() -> tuple[str, str]:
    """``node`` and the Chromium binary; anything missing is a test failure (with how to install it)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` (Node.js 20+) is not on PATH; install Node.js 20+ for the browser test")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"Node.js 20+ is required, found {version.stdout.strip()}")
    modules = CLERKJS_DIR / "node_modules"
    for package in ("@clerk/clerk-js", "playwright-core"):
        if not (modules / package / "package.json").is_file():
            pytest.fail(f"clerkjs/node_modules/{package} is missing: run `npm ci --prefix clerkjs`")
    chromium = os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM
    if not (Path(chromium).is_file() and os.access(chromium, os.X_OK)):
        pytest.fail(
            f"no Chromium at {chromium}: install Debian's package as root "
            "(`apt-get update && apt-get install -y chromium`), or point CHROMIUM_PATH at one"
        )
    return node, chromium


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def page_server() -> Iterator[str]:
    """``clerkjs/`` over HTTP on 127.0.0.1 (page/index.html and node_modules/@clerk/clerk-js/dist)."""
    handler = functools.partial(_QuietHandler, directory=str(CLERKJS_DIR))
    httpd = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="clerkjs-page-server", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{httpd.server_address[1]}/page/index.html"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=STOP_TIMEOUT_S)


def _run_driver(node: str, env: dict[str, str], server: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.Popen(
        [node, str(DRIVER)],
        cwd=CLERKJS_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group: Chromium goes with it on a timeout
    )
    try:
        stdout, stderr = proc.communicate(timeout=FLOW_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=STOP_TIMEOUT_S)
        pytest.fail(
            f"browser.mjs did not finish within {FLOW_TIMEOUT_S} s\nstdout:\n{stdout}\nstderr:\n{stderr}\n"
            f"server log:\n{server.server.log_tail()}"
        )
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("instance", ["production", "development"])
def test_clerkjs_in_chromium(request: pytest.FixtureRequest, instance: str) -> None:
    node, chromium = _require_tools()  # before any server starts, and as a failure of the test itself
    server = request.getfixturevalue("totpkit_process")
    page_url: str = request.getfixturevalue("page_server")
    env = {
        **os.environ,
        "FAPI_URL": server.url,
        "PAGE_URL": page_url,
        "EMAIL": server.email,
        "PASSWORD": server.password,
        "CLERK_INSTANCE": instance,
        "CHROMIUM_PATH": chromium,
        "FLOW_DEBUG": "1",  # every FAPI request and console error on stderr, shown when the test fails
    }
    result = _run_driver(node, env, server)

    lines = result.stdout.strip().splitlines()
    report = (
        f"exit {result.returncode}\nstdout (last line is the summary):\n{result.stdout}\n"
        f"stderr:\n{result.stderr}\nserver log:\n{server.server.log_tail()}"
    )
    assert lines, f"browser.mjs printed nothing\n{report}"
    try:
        summary = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"the last stdout line of browser.mjs is not JSON\n{report}")
    problems = "\n".join(summary.get("problems", []))
    requests = "\n".join(summary.get("requestLog", []))
    assert result.returncode == 0, f"{report}\nproblems:\n{problems}\nFAPI requests:\n{requests}"
    assert summary["ok"] is True, report
    assert summary["problems"] == [], problems

    assert summary["instance"] == instance
    assert summary["steps"] == EXPECTED_STEPS
    assert summary["pageOrigin"] != summary["fapiOrigin"]
    assert summary["userId"] == server.user_id
    assert summary["jwtSub"] == server.user_id
    assert summary["wrongCodeRejected"] is True
    assert summary["totpEnabledAfterVerify"] is True
    assert summary["totpEnabledAfterDisable"] is False
    assert summary["backupCodes"] > 0
    assert "totp" in summary["supportedSecondFactors"]
    assert summary["clientTokenRotated"] is True
    log = summary["requestLog"]
    if instance == "production":
        assert any(c["name"] == "__client" and c["httpOnly"] for c in summary["cookies"]), summary["cookies"]
        assert "__client" not in summary["documentCookieNames"]
        assert not any("/v1/dev_browser" in line for line in log), log
    else:
        assert any("POST /v1/dev_browser" in line for line in log), log
        assert any("POST(PATCH) /v1/environment" in line for line in log), log
