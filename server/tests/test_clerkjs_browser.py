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

import json
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CLERKJS_DIR = REPO / "clerkjs"
DRIVER = CLERKJS_DIR / "browser.mjs"
FLOW_TIMEOUT_S = 180.0
"""browser.mjs bounds itself at FLOW_TIMEOUT_MS (150 s); this is the outer bound."""
STOP_TIMEOUT_S = 10.0


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
def test_clerkjs_in_chromium(
    request: pytest.FixtureRequest, require_browser_tools: Callable[..., tuple[str, str]], instance: str
) -> None:
    node, chromium = require_browser_tools()  # before any server starts, and as a failure of the test itself
    server = request.getfixturevalue("totpkit_process")
    page_url = request.getfixturevalue("clerkjs_pages") + "/page/index.html"
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
