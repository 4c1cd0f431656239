"""Acceptance test: Clerk's own, unmodified clerk-js enrols, uses and removes TOTP against totpkit.

A real ``totpkit serve`` process on 127.0.0.1 and ``node clerkjs/flow.mjs`` (which drives
``@clerk/clerk-js`` in native mode). Needs Node 20+ and ``npm ci --prefix clerkjs``; without them
the test fails rather than skips, because this is the project's main promise.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.clerkjs

REPO = Path(__file__).resolve().parents[2]
CLERKJS_DIR = REPO / "clerkjs"
FLOW = CLERKJS_DIR / "flow.mjs"
FLOW_TIMEOUT_S = 120.0


def _require_node() -> str:
    """The ``node`` executable; a missing Node.js or clerk-js install is a test failure, not a skip."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("`node` (Node.js 20+) is not on PATH; it is required for the clerk-js acceptance test")
    if not (CLERKJS_DIR / "node_modules" / "@clerk" / "clerk-js" / "package.json").is_file():
        pytest.fail("clerkjs/node_modules/@clerk/clerk-js is missing: run `npm ci --prefix clerkjs`")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    if major < 20:
        pytest.fail(f"Node.js 20+ is required, found {version.stdout.strip()}")
    return node


def test_clerkjs_totp_lifecycle(request: pytest.FixtureRequest) -> None:
    node = _require_node()  # before the server starts, and as a failure of the test itself
    totpkit_process = request.getfixturevalue("totpkit_process")
    env = {
        **os.environ,
        "FAPI_URL": totpkit_process.url,
        "EMAIL": totpkit_process.email,
        "PASSWORD": totpkit_process.password,
        "FLOW_DEBUG": "1",  # every request's status and path on stderr, shown when the test fails
    }
    try:
        result = subprocess.run(
            [node, str(FLOW)],
            cwd=CLERKJS_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=FLOW_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"flow.mjs did not finish within {FLOW_TIMEOUT_S} s\nstderr:\n{exc.stderr!r}\n"
            f"server log:\n{totpkit_process.server.log_tail()}"
        )

    lines = result.stdout.strip().splitlines()
    report = (
        f"exit {result.returncode}\nstdout (last line is the summary):\n{result.stdout}\n"
        f"stderr:\n{result.stderr}\nserver log:\n{totpkit_process.server.log_tail()}"
    )
    assert lines, f"flow.mjs printed nothing\n{report}"
    try:
        summary = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"the last stdout line of flow.mjs is not JSON\n{report}")
    assert result.returncode == 0, report
    assert summary["ok"] is True, report

    assert summary["steps"] == [
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
        "second_factor_wrong_and_replayed",
        "sign_in_second_factor",
        "sign_in_backup_code",
        "reverify_backup_code",
    ]
    assert summary["userId"] == totpkit_process.user_id
    assert summary["sessionId"].startswith("sess_")
    assert summary["totpUri"].startswith("otpauth://totp/")
    assert summary["wrongCodeRejected"] is True
    assert summary["totpEnabledAfterVerify"] is True
    assert summary["backupCodesFromVerify"] > 0
    assert summary["backupCodes"] > 0
    assert summary["backupCodeEnabled"] is True
    assert summary["totpEnabledAfterDisable"] is False
    assert "totp" in summary["supportedSecondFactors"]
    assert summary["replayRejected"] is True
    assert summary["clientTokenRotated"] is True
    assert summary["totpEnabledAfterSecondFactor"] is True
    assert summary["backupCodeSignIn"] is True
    assert summary["reverified"] is True
