"""The browser pages in headless Chromium: the example page clicked through as a person would, and
the API docs viewer.

A real ``totpkit serve --clerk-js-dir clerkjs/node_modules/@clerk/clerk-js/dist`` process serves the
pages (and Clerk's unmodified clerk-js bundle); Node drivers in ``clerkjs/`` run Debian's Chromium
through playwright-core and fail on any unexpected HTTP status, any request to another host (no
CDN), any failed request and any console error.

* ``clerkjs/example.mjs`` on ``/examples/totp``: sign in, every button (a wrong code, backup codes
  before TOTP and disabling twice must fail with Clerk's errors), signing in again with a TOTP code,
  sign out. The QR code the page
  shows is decoded from its screenshot.
* ``clerkjs/apidocs.mjs`` on ``/docs``: Swagger UI lists every operation of ``/openapi.json``.

Screenshots of every step land in ``artifacts/screenshots/{example,docs}/`` (git-ignored; CI keeps
them as artefacts). Needs Node 20+, ``npm ci --prefix clerkjs`` and Chromium; without them the tests
fail, never skip.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image

from totpkit_server.testing import RunningServer, create_user, serve

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CLERKJS_DIR = REPO / "clerkjs"
CLERK_JS_DIST = CLERKJS_DIR / "node_modules" / "@clerk" / "clerk-js" / "dist"
DRIVER = CLERKJS_DIR / "example.mjs"
DOCS_DRIVER = CLERKJS_DIR / "apidocs.mjs"
ARTIFACTS = REPO / "artifacts" / "screenshots"
SCREENSHOTS = ARTIFACTS / "example"
EMAIL = "example-page@example.com"
PASSWORD = "correct horse battery staple"
FLOW_TIMEOUT_S = 150.0
"""example.mjs bounds itself at FLOW_TIMEOUT_MS (120 s); this is the outer bound."""

EXPECTED_STEPS = [
    "load",
    "sign_in",
    "backup_codes_without_totp",
    "create_totp",
    "verify_wrong_code",
    "verify_totp",
    "create_backup_code",
    "sign_in_second_factor",
    "disable_totp",
    "disable_twice",
    "sign_out",
]


def run_driver(node: str, driver: Path, env: dict[str, str], server: RunningServer) -> dict[str, object]:
    """Run a page driver in its own process group; its summary (last stdout line), failing the test on a crash."""
    proc = subprocess.Popen(
        [node, str(driver)],
        cwd=CLERKJS_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # Chromium goes with it on a timeout
    )
    try:
        stdout, stderr = proc.communicate(timeout=FLOW_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate(timeout=10)
        pytest.fail(f"{driver.name} did not finish in {FLOW_TIMEOUT_S} s\n{stdout}\n{stderr}\n{server.log_tail()}")
    report = f"exit {proc.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{server.log_tail()}"
    lines = stdout.strip().splitlines()
    assert lines, f"{driver.name} printed nothing\n{report}"
    try:
        summary: dict[str, object] = json.loads(lines[-1])
    except json.JSONDecodeError:
        pytest.fail(f"the last stdout line of {driver.name} is not JSON\n{report}")
    assert proc.returncode == 0, f"{report}\nproblems: {summary.get('problems')}\nerror: {summary.get('error')}"
    assert summary["ok"] is True, report
    assert summary["problems"] == [], report
    return summary


@dataclass(frozen=True)
class ExampleServer:
    server: RunningServer
    user_id: str

    @property
    def page_url(self) -> str:
        return f"{self.server.url}/examples/totp"


@pytest.fixture
def example_server(tmp_path: Path) -> Iterator[ExampleServer]:
    """``totpkit serve`` with the clerk-js bundle of clerkjs/node_modules, and one user without MFA."""
    data_dir = tmp_path / "data"
    user_id = create_user(data_dir, EMAIL, PASSWORD)
    with serve(data_dir, args=["--clerk-js-dir", str(CLERK_JS_DIST)]) as server:
        yield ExampleServer(server=server, user_id=user_id)
        assert server.is_alive(), f"totpkit serve died during the test:\n{server.log_tail()}"


def decode_qr(path: Path) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(path), formats=zxingcpp.BarcodeFormat.QRCode)]


def test_every_button_of_the_example_page(
    request: pytest.FixtureRequest, require_browser_tools: Callable[..., tuple[str, str]]
) -> None:
    node, chromium = require_browser_tools()
    example: ExampleServer = request.getfixturevalue("example_server")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    env = {
        **os.environ,
        "PAGE_URL": example.page_url,
        "EMAIL": EMAIL,
        "PASSWORD": PASSWORD,
        "CHROMIUM_PATH": chromium,
        "SCREENSHOT_DIR": str(SCREENSHOTS),
    }
    summary = run_driver(node, DRIVER, env, example.server)

    assert summary["steps"] == EXPECTED_STEPS
    results = summary["results"]
    assert isinstance(results, dict)
    assert results["backup_codes_without_totp"]["text"].startswith(
        "user.createBackupCode() → HTTP 400 backup_codes_not_available"
    )
    assert (
        results["verify_wrong_code"]["text"]
        == "user.verifyTOTP({ code }) → HTTP 422 form_code_incorrect: Incorrect code"
    )
    assert results["verify_totp"] == {
        "call": "user.verifyTOTP({ code })",
        "outcome": "ok",
        "text": "user.verifyTOTP({ code }) → ok",
    }
    assert results["disable_twice"]["text"].startswith("user.disableTOTP() → HTTP 404 resource_not_found")
    assert summary["backupCodes"] == 10

    uri = summary["totpUri"]
    assert isinstance(uri, str)
    assert uri.startswith("otpauth://totp/totpkit%20%28development%29:")
    assert decode_qr(Path(str(summary["qrScreenshot"]))) == [uri], "the QR code on the page is the otpauth URI"

    screenshots = [Path(p) for p in summary["screenshots"]]  # type: ignore[union-attr]
    assert len(screenshots) >= 8
    assert all(p.is_file() and p.parent == SCREENSHOTS and p.stat().st_size > 0 for p in screenshots)


def test_api_docs_list_every_operation(
    request: pytest.FixtureRequest, require_browser_tools: Callable[..., tuple[str, str]]
) -> None:
    """/docs shows Swagger UI, from this server's own files, over every operation of /openapi.json."""
    node, chromium = require_browser_tools()
    example: ExampleServer = request.getfixturevalue("example_server")
    shots = ARTIFACTS / "docs"
    shutil.rmtree(shots, ignore_errors=True)
    env = {
        **os.environ,
        "DOCS_URL": f"{example.server.url}/docs",
        "CHROMIUM_PATH": chromium,
        "SCREENSHOT_DIR": str(shots),
    }
    summary = run_driver(node, DOCS_DRIVER, env, example.server)

    document = httpx.get(f"{example.server.url}/openapi.json", timeout=10).json()
    documented = sorted(f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item)
    listed = summary["operations"]
    assert isinstance(listed, list)
    assert sorted(listed) == documented
    assert "POST /v1/me/totp/attempt_verification" in listed
    assert str(summary["title"]).startswith(document["info"]["title"])
    assert summary["steps"] == ["load", "expand"]
    assert [Path(p).name for p in summary["screenshots"]] == ["01-docs.png", "02-docs-operation.png"]  # type: ignore[union-attr]
