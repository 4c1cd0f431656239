"""Clerk's pinned OpenAPI documents: fetched from a (local) mirror, verified by SHA-256, cached, overridden.

A real HTTP server on 127.0.0.1 stands in for raw.githubusercontent.com and serves small documents
pinned by these tests; the real pins are exercised by every contract test that validates a schema.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .clerk_openapi import (
    BASE_URL_ENV,
    CACHE_DIR_ENV,
    DIR_ENV,
    DOCUMENTS,
    ClerkOpenAPIUnavailable,
    PinnedDocument,
    locate_document,
)

CONTENT = b"openapi: 3.0.3\ncomponents: {schemas: {}}\n"
DOCUMENT = PinnedDocument("clerk-fapi-openapi.yml", "fapi/2026-05-12.yml", hashlib.sha256(CONTENT).hexdigest())
REPOSITORY = Path(__file__).resolve().parents[1]


class Mirror:
    """A static file server on 127.0.0.1 that records the paths it was asked for."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: object, **kwargs: object) -> None:
                super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

            def do_GET(self) -> None:
                mirror.requests.append(self.path)
                super().do_GET()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the tests read :attr:`Mirror.requests` instead."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}/pinned"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def serve(self, source_path: str, content: bytes) -> None:
        path = self.root / "pinned" / source_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)

    def __enter__(self) -> Mirror:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[Mirror]:
    with Mirror(tmp_path / "mirror") as server:
        yield server


def _closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connections are refused, like no network)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/pinned"


def test_the_pins_name_clerks_2026_05_12_documents() -> None:
    assert {api: (d.file_name, d.source_path) for api, d in DOCUMENTS.items()} == {
        "fapi": ("clerk-fapi-openapi.yml", "fapi/2026-05-12.yml"),
        "bapi": ("clerk-bapi-openapi.yml", "bapi/2026-05-12.yml"),
    }
    assert all(len(d.sha256) == 64 and int(d.sha256, 16) >= 0 for d in DOCUMENTS.values())


def test_downloads_verifies_and_caches(mirror: Mirror, tmp_path: Path) -> None:
    mirror.serve(DOCUMENT.source_path, CONTENT)
    cache = tmp_path / "cache"

    path = locate_document(DOCUMENT, cache_dir=cache, base_url=mirror.base_url)

    assert path == cache / "clerk-fapi-openapi.yml"
    assert path.read_bytes() == CONTENT
    assert mirror.requests == ["/pinned/fapi/2026-05-12.yml"]
    assert sorted(p.name for p in cache.iterdir()) == ["clerk-fapi-openapi.yml"], "no temporary file is left"


def test_reuses_the_cache_without_a_request(mirror: Mirror, tmp_path: Path) -> None:
    mirror.serve(DOCUMENT.source_path, CONTENT)
    cache = tmp_path / "cache"
    locate_document(DOCUMENT, cache_dir=cache, base_url=mirror.base_url)

    again = locate_document(DOCUMENT, cache_dir=cache, base_url=_closed_port_url())

    assert again.read_bytes() == CONTENT
    assert len(mirror.requests) == 1


def test_refuses_a_download_with_another_checksum(mirror: Mirror, tmp_path: Path) -> None:
    mirror.serve(DOCUMENT.source_path, CONTENT + b"# edited\n")
    cache = tmp_path / "cache"

    with pytest.raises(ClerkOpenAPIUnavailable, match=f"not the pinned {DOCUMENT.sha256}; it was not cached"):
        locate_document(DOCUMENT, cache_dir=cache, base_url=mirror.base_url)

    assert not (cache / DOCUMENT.file_name).exists()


def test_replaces_a_cached_file_with_another_checksum(mirror: Mirror, tmp_path: Path) -> None:
    mirror.serve(DOCUMENT.source_path, CONTENT)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / DOCUMENT.file_name).write_bytes(b"truncated")

    path = locate_document(DOCUMENT, cache_dir=cache, base_url=mirror.base_url)

    assert path.read_bytes() == CONTENT
    assert len(mirror.requests) == 1


def test_an_http_error_says_how_to_work_offline(mirror: Mirror, tmp_path: Path) -> None:
    with pytest.raises(ClerkOpenAPIUnavailable) as raised:
        locate_document(DOCUMENT, cache_dir=tmp_path / "cache", base_url=mirror.base_url)

    assert f"could not download Clerk's OpenAPI document {mirror.base_url}/fapi/2026-05-12.yml" in str(raised.value)
    assert "HTTP status 404" in str(raised.value)
    assert DIR_ENV in str(raised.value)


def test_no_network_says_how_to_work_offline(tmp_path: Path) -> None:
    with pytest.raises(ClerkOpenAPIUnavailable, match=f"Without internet access, point {DIR_ENV}"):
        locate_document(DOCUMENT, cache_dir=tmp_path / "cache", base_url=_closed_port_url(), timeout=5)

    assert not (tmp_path / "cache" / DOCUMENT.file_name).exists()


def test_override_directory_is_used_without_network_or_cache(tmp_path: Path) -> None:
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / DOCUMENT.file_name).write_bytes(CONTENT)

    path = locate_document(
        DOCUMENT, override_dir=tmp_path / "reference", cache_dir=tmp_path / "cache", base_url=_closed_port_url()
    )

    assert path == tmp_path / "reference" / DOCUMENT.file_name
    assert not (tmp_path / "cache").exists()


def test_override_directory_is_verified_too(tmp_path: Path) -> None:
    (tmp_path / DOCUMENT.file_name).write_bytes(CONTENT.upper())

    with pytest.raises(ClerkOpenAPIUnavailable, match=f"not the pinned {DOCUMENT.sha256}"):
        locate_document(DOCUMENT, override_dir=tmp_path, cache_dir=tmp_path / "cache")


def test_override_directory_without_the_file(tmp_path: Path) -> None:
    with pytest.raises(ClerkOpenAPIUnavailable, match=f"does not exist: the directory given by .* {DIR_ENV} must hold"):
        locate_document(DOCUMENT, override_dir=tmp_path, cache_dir=tmp_path / "cache")


def _run_a_schema_validating_contract_test(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """Run one contract test in a new pytest with an empty cache, no override in the environment and no network."""
    env = {key: value for key, value in os.environ.items() if key != DIR_ENV}
    env |= {CACHE_DIR_ENV: str(tmp_path / "cache"), BASE_URL_ENV: _closed_port_url()}
    test_id = "contract_tests/test_frontend_resources.py::TestUnwrappedEndpoints::test_environment"
    return subprocess.run(
        # the two targets that need no database server (inprocess_postgres adds a third when a DSN is set)
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rfs",
            "-k",
            "not postgres",
            *options,
            test_id,
        ],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_contract_tests_fail_with_a_clear_message_without_documents(tmp_path: Path) -> None:
    """No override, an empty cache and no network: a schema-validating contract test fails, never skips."""
    result = _run_a_schema_validating_contract_test(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 failed" in result.stdout, result.stdout
    assert "skipped" not in result.stdout, result.stdout
    assert "Clerk's FAPI OpenAPI document is unavailable: could not download" in result.stdout, result.stdout
    assert f"Without internet access, point {DIR_ENV}" in result.stdout, result.stdout


def test_the_pytest_option_names_a_directory_that_is_verified(tmp_path: Path) -> None:
    (tmp_path / "reference").mkdir()
    (tmp_path / "reference" / "clerk-fapi-openapi.yml").write_bytes(CONTENT)

    result = _run_a_schema_validating_contract_test(tmp_path, "--clerk-openapi-dir", str(tmp_path / "reference"))

    assert result.returncode == 1, result.stdout + result.stderr
    assert "2 failed" in result.stdout, result.stdout
    expected = f"{tmp_path / 'reference' / 'clerk-fapi-openapi.yml'} has SHA-256 {DOCUMENT.sha256}, not the pinned"
    assert expected in result.stdout, result.stdout
