"""Clerk's two OpenAPI documents, pinned: one commit of ``clerk/openapi-specs``, verified by SHA-256.

The contract tests validate answers against Clerk's Frontend API and Backend API documents. They are
not copied into this repository; :func:`locate_document` finds each one, in this order:

1. a directory named by ``--clerk-openapi-dir`` or ``TOTPKIT_CLERK_OPENAPI_DIR`` that holds
   ``clerk-fapi-openapi.yml`` and ``clerk-bapi-openapi.yml`` (for machines without internet);
2. the cache, ``contract_tests/.clerk-openapi/`` (git-ignored; ``TOTPKIT_CLERK_OPENAPI_CACHE_DIR``
   moves it);
3. a download of the pinned file from ``raw.githubusercontent.com`` (``TOTPKIT_CLERK_OPENAPI_BASE_URL``
   names a mirror with the same layout), written to the cache.

Every file, wherever it comes from, must have the pinned SHA-256: a different file is refused (and a
stale cache file is replaced), so every machine validates against exactly the same documents. Any
failure raises :class:`ClerkOpenAPIUnavailable` with a message that says what to do; the contract
tests turn it into a failure, never a skip.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = (
    "BASE_URL_ENV",
    "CACHE_DIR_ENV",
    "COMMIT",
    "DEFAULT_BASE_URL",
    "DEFAULT_CACHE_DIR",
    "DIR_ENV",
    "DOCUMENTS",
    "ClerkOpenAPIUnavailable",
    "PinnedDocument",
    "locate_document",
)

COMMIT = "7987d1b776258d5ddd9163e1a03d256b5ac4d64a"
"""The commit of https://github.com/clerk/openapi-specs the documents are taken from (2026-08-14)."""

DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/clerk/openapi-specs/{COMMIT}"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent / ".clerk-openapi"

DIR_ENV = "TOTPKIT_CLERK_OPENAPI_DIR"
CACHE_DIR_ENV = "TOTPKIT_CLERK_OPENAPI_CACHE_DIR"
BASE_URL_ENV = "TOTPKIT_CLERK_OPENAPI_BASE_URL"

MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""A download larger than this is abandoned (the pinned documents are well under 1 MiB)."""


@dataclass(frozen=True, slots=True)
class PinnedDocument:
    """One pinned file: its local name, its path in the source repository and its SHA-256 (hex)."""

    file_name: str
    source_path: str
    sha256: str


DOCUMENTS: Mapping[str, PinnedDocument] = {
    "fapi": PinnedDocument(
        "clerk-fapi-openapi.yml",
        "fapi/2026-05-12.yml",
        "1b16fc8d2886210d8f23175bd3113e7c20c24fdb408347a1219994d413104c57",
    ),
    "bapi": PinnedDocument(
        "clerk-bapi-openapi.yml",
        "bapi/2026-05-12.yml",
        "75df3a43fcb2d9fc4467a23c717714f5228aa3267b0930ba34612728365fd8f2",
    ),
}
"""Clerk's Frontend API and Backend API documents, API version 2026-05-12."""


class ClerkOpenAPIUnavailable(Exception):
    """A pinned document could not be found, downloaded or verified; the message says what to do."""


def locate_document(
    document: PinnedDocument,
    *,
    override_dir: Path | None = None,
    cache_dir: Path = DEFAULT_CACHE_DIR,
    base_url: str = DEFAULT_BASE_URL,
    timeout: float = 30.0,
) -> Path:
    """The path of a verified copy of ``document``; downloads it into ``cache_dir`` when needed.

    With ``override_dir`` nothing is downloaded or cached: the file must be there with the pinned
    SHA-256. Otherwise a cached copy with the pinned SHA-256 is used as is, a cached copy with another
    hash is replaced, and a download is verified before it is written (atomically) to the cache.

    Raises:
        ClerkOpenAPIUnavailable: the override file is missing or differs, the download failed
            (no network, an HTTP error status, too large) or its content differs from the pin.
    """
    if override_dir is not None:
        return _verified_override(document, override_dir)
    cached = cache_dir / document.file_name
    if cached.is_file() and _sha256(cached.read_bytes()) == document.sha256:
        return cached
    content = _download(document, base_url, timeout)
    _write_atomically(cached, content)
    return cached


def _verified_override(document: PinnedDocument, directory: Path) -> Path:
    path = directory / document.file_name
    if not path.is_file():
        raise ClerkOpenAPIUnavailable(
            f"{path} does not exist: the directory given by --clerk-openapi-dir or {DIR_ENV} must hold "
            f"{_file_names()} (Clerk's clerk/openapi-specs at {COMMIT})."
        )
    actual = _sha256(path.read_bytes())
    if actual != document.sha256:
        raise ClerkOpenAPIUnavailable(
            f"{path} has SHA-256 {actual}, not the pinned {document.sha256}: it must be an unmodified copy of "
            f"{document.source_path} at commit {COMMIT} of https://github.com/clerk/openapi-specs."
        )
    return path


def _download(document: PinnedDocument, base_url: str, timeout: float) -> bytes:
    url = f"{base_url.rstrip('/')}/{document.source_path}"
    advice = (
        f"Without internet access, point {DIR_ENV} (or --clerk-openapi-dir) at a directory holding {_file_names()}."
    )
    try:
        content = _fetch(url, timeout)
    except (httpx.HTTPError, ClerkOpenAPIUnavailable) as exc:
        raise ClerkOpenAPIUnavailable(f"could not download Clerk's OpenAPI document {url}: {exc}. {advice}") from exc
    actual = _sha256(content)
    if actual != document.sha256:
        raise ClerkOpenAPIUnavailable(
            f"the download of {url} has SHA-256 {actual}, not the pinned {document.sha256}; it was not cached."
        )
    return content


def _fetch(url: str, timeout: float) -> bytes:
    """The body of a 200 answer to ``GET url`` (redirects followed), at most :data:`MAX_DOCUMENT_BYTES`."""
    with httpx.stream("GET", url, timeout=timeout, follow_redirects=True) as response:
        if response.status_code != 200:
            raise ClerkOpenAPIUnavailable(f"HTTP status {response.status_code}")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_DOCUMENT_BYTES:
                raise ClerkOpenAPIUnavailable(f"larger than {MAX_DOCUMENT_BYTES} bytes")
            chunks.append(chunk)
    return b"".join(chunks)


def _write_atomically(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` through a temporary file and a rename: never a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _file_names() -> str:
    return " and ".join(document.file_name for document in DOCUMENTS.values())
