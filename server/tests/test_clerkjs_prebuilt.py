"""Clerk's PREBUILT UI (``@clerk/ui`` on the unmodified clerk-js) in headless Chromium against totpkit.

A real ``totpkit serve`` process, a static file server for ``clerkjs/`` (the page and both bundles
from ``node_modules``: no CDN) on another 127.0.0.1 port, and ``node clerkjs/prebuilt.mjs`` clicking
through the components as a person would, in both browser modes (``production``: the ``__client``
cookie; ``development``: the dev browser). Before the flow the user also signs in on a second
(native) device, which the flow signs out from UserProfile's "Active devices".

Every FAPI request is recorded: an answer the step did not expect (any other 4xx, 5xx), a failed
request, a request to any other host and a browser console error fail the test. A screenshot of each
screen is written to ``artifacts/screenshots/<mode>/NN-name.png`` (git-ignored; CI keeps it).
Needs Node 20+, ``npm ci --prefix clerkjs`` and Debian's Chromium; without them the test fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CLERKJS_DIR = REPO / "clerkjs"
DRIVER = CLERKJS_DIR / "prebuilt.mjs"
SCREENSHOTS = REPO / "artifacts" / "screenshots"
FLOW_TIMEOUT_S = 200.0
"""prebuilt.mjs bounds itself at FLOW_TIMEOUT_MS (170 s); this is the outer bound."""
STOP_TIMEOUT_S = 10.0

EXPECTED_STEPS = [
    "load",
    "sign_in",
    "security",
    "revoke_other_devices",
    "add_totp",
    "verify_totp_wrong_code",
    "verify_totp",
    "regenerate_backup_codes",
    "sign_out",
    "sign_in_totp",
    "sign_out_again",
    "sign_in_backup_code",
    "reload",
    "remove_totp",
]
EXPECTED_SCREENS = [
    "sign-in",
    "sign-in-password",
    "user-profile",
    "security",
    "security-other-devices-signed-out",
    "add-two-step-menu",
    "authenticator-qr-code",
    "authenticator-secret",
    "authenticator-verify",
    "authenticator-incorrect-code",
    "backup-codes",
    "security-with-authenticator",
    "backup-codes-regenerated",
    "user-button-menu",
    "sign-in-totp",
    "user-button-menu-2fa",
    "sign-in-other-methods",
    "sign-in-backup-code",
    "remove-authenticator",
    "authenticator-removed",
]


def _other_device(url: str, email: str, password: str) -> tuple[str, str]:
    """Sign the user in on a native device: ``(client token, session id)``."""
    response = httpx.post(
        f"{url}/v1/client/sign_ins",
        params={"_is_native": "1"},
        headers={"Authorization": ""},
        data={"identifier": email, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.headers["authorization"], response.json()["response"]["created_session_id"]


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
        pytest.fail(f"prebuilt.mjs did not finish within {FLOW_TIMEOUT_S} s\n{stderr}\n{server.log_tail()}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.mark.parametrize("instance", ["production", "development"])
def test_prebuilt_ui_in_chromium(
    request: pytest.FixtureRequest, require_browser_tools: Callable[..., tuple[str, str]], instance: str
) -> None:
    node, chromium = require_browser_tools("@clerk/ui")  # before any server starts, as a failure of the test
    served = request.getfixturevalue("totpkit_process")
    page_url = request.getfixturevalue("clerkjs_pages") + "/page/prebuilt.html"
    other_token, other_session = _other_device(served.url, served.email, served.password)
    screenshots = SCREENSHOTS / instance
    shutil.rmtree(screenshots, ignore_errors=True)
    env = {
        **os.environ,
        "FAPI_URL": served.url,
        "PAGE_URL": page_url,
        "EMAIL": served.email,
        "PASSWORD": served.password,
        "CLERK_INSTANCE": instance,
        "CHROMIUM_PATH": chromium,
        "SCREENSHOT_DIR": str(screenshots),
        "OTHER_DEVICES": "1",
        "FLOW_DEBUG": "1",  # every FAPI request on stderr, shown when the test fails
    }
    result = _run_driver(node, env, served.server)
    print(f"screenshots of the prebuilt UI ({instance}): {screenshots}")

    lines = result.stdout.strip().splitlines()
    report = f"exit {result.returncode}\nstderr:\n{result.stderr}\nserver log:\n{served.server.log_tail()}"
    assert lines, f"prebuilt.mjs printed nothing\n{report}"
    summary = json.loads(lines[-1])
    problems = "\n".join(summary.get("problems", []))
    requests = "\n".join(summary.get("requestLog", []))
    assert result.returncode == 0, f"{report}\nerror: {summary.get('error')}\nproblems:\n{problems}\nFAPI:\n{requests}"
    assert summary["ok"] is True, report
    assert summary["problems"] == [], problems
    assert summary["foreignRequests"] == []

    assert summary["steps"] == EXPECTED_STEPS
    assert summary["userId"] == served.user_id
    assert summary["activeDevices"] == 2
    assert summary["revoked"] == 1
    assert summary["backupCodes"] == 10
    shots = [Path(p) for p in summary["screenshots"]]
    assert [p.name for p in shots] == [f"{n:02d}-{name}.png" for n, name in enumerate(EXPECTED_SCREENS, 1)]
    assert all(p.parent == screenshots and p.stat().st_size > 5_000 for p in shots)

    log = summary["requestLog"]
    assert any(line.startswith("200 GET /v1/me/sessions/active") for line in log), log
    assert any(line.startswith(f"200 POST /v1/me/sessions/{other_session}/revoke") for line in log), log
    assert any(line.startswith("422 POST /v1/me/totp/attempt_verification") for line in log), log
    assert any(line.startswith("200 POST /v1/me/backup_codes") for line in log), log
    assert any(line.startswith("200 POST(DELETE) /v1/me/totp") for line in log), log
    assert (instance == "development") == any("POST /v1/dev_browser" in line for line in log), log

    # the device signed out from "Active devices" is signed out for real
    me = httpx.get(f"{served.url}/v1/me", params={"_is_native": "1"}, headers={"Authorization": other_token})
    assert me.status_code == 401, me.text
    assert me.json()["errors"][0]["code"] == "authentication_invalid"
