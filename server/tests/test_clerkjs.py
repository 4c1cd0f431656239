"""Acceptance test: Clerk's own, unmodified clerk-js enrols, uses and removes TOTP against totpkit.

A real ``totpkit serve`` process on 127.0.0.1 and ``node clerkjs/flow.mjs`` (which drives
``@clerk/clerk-js`` in native mode). Needs Node 20+ and ``npm ci --prefix clerkjs``; without them
the test fails rather than skips, because this is the project's main promise.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.clerkjs

REPO = Path(__file__).resolve().parents[2]
CLERKJS_DIR = REPO / "clerkjs"
FLOW = CLERKJS_DIR / "flow.mjs"
HOST = "127.0.0.1"
EMAIL = "ada.clerkjs@example.com"
PASSWORD = "correct horse battery staple 42"
READY_TIMEOUT_S = 20.0
FLOW_TIMEOUT_S = 120.0
SERVER_STOP_TIMEOUT_S = 10.0

TOTPKIT = [sys.executable, "-m", "totpkit_server"]
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Readiness probes go straight to 127.0.0.1 even when *_proxy variables are set."""


@dataclass(frozen=True)
class Server:
    url: str
    user_id: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no server log>"


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


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_error = "no attempt"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"totpkit serve exited with {proc.returncode} before it was ready:\n{_tail(log)}")
        try:
            with _NO_PROXY.open(f"{url}/v1/environment", timeout=2) as response:
                if response.status == 200:
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last_error = repr(exc)
        time.sleep(0.1)
    pytest.fail(f"totpkit serve not ready within {READY_TIMEOUT_S} s ({last_error}):\n{_tail(log)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=SERVER_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=SERVER_STOP_TIMEOUT_S)


@pytest.fixture
def totpkit_process(tmp_path: Path) -> Iterator[Server]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    created = subprocess.run(
        [*TOTPKIT, "create-user", "--data-dir", str(data_dir), "--email", EMAIL, "--password", PASSWORD],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert created.returncode == 0, f"create-user failed:\n{created.stdout}\n{created.stderr}"
    user_ids = [word for word in created.stdout.split() if word.startswith("user_")]
    assert user_ids, f"create-user printed no user id: {created.stdout!r}"

    port = _free_port()
    url = f"http://{HOST}:{port}"
    log = tmp_path / "server.log"
    with log.open("wb") as log_file:
        proc = subprocess.Popen(
            [*TOTPKIT, "serve", "--host", HOST, "--port", str(port), "--data-dir", str(data_dir)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        _wait_ready(proc, url, log)
        yield Server(url=url, user_id=user_ids[0], log=log)
        assert proc.poll() is None, f"totpkit serve died during the test:\n{_tail(log)}"
    finally:
        _stop(proc)


def test_clerkjs_totp_lifecycle(request: pytest.FixtureRequest) -> None:
    node = _require_node()  # before the server starts, and as a failure of the test itself
    totpkit_process: Server = request.getfixturevalue("totpkit_process")
    env = {
        **os.environ,
        "FAPI_URL": totpkit_process.url,
        "EMAIL": EMAIL,
        "PASSWORD": PASSWORD,
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
            f"server log:\n{_tail(totpkit_process.log)}"
        )

    lines = result.stdout.strip().splitlines()
    report = (
        f"exit {result.returncode}\nstdout (last line is the summary):\n{result.stdout}\n"
        f"stderr:\n{result.stderr}\nserver log:\n{_tail(totpkit_process.log)}"
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
    assert summary["totpEnabledAfterSecondFactor"] is True
    assert summary["backupCodeSignIn"] is True
