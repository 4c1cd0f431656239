"""The repository stands on its own: no tracked file needs a path outside it, and its docs name real code.

A fresh clone must pass its own test command, so code, tests and docs may not read or link files
beside the checkout. The only exception is ``.ci/run``, which points the contract
tests at local copies of Clerk's OpenAPI documents on the CI machine, which has no internet.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
SERVER_PACKAGE = REPOSITORY / "server" / "totpkit_server"
OUTSIDE = re.compile(r"""\.\./shared|"shared" */ *"reference"|/ *"shared\"""")
ALLOWED_OUTSIDE = {".ci/run"}
ARCHITECTURE = REPOSITORY / "docs" / "ARCHITECTURE.md"
MODULE_REFERENCE = re.compile(r"`((?:sdk/)?[\w/]+\.py)(?:::(\w+))?")


def _tracked_text_files() -> list[Path]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPOSITORY, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    return [REPOSITORY / name for name in listing.split("\0") if name and name not in ALLOWED_OUTSIDE]


def test_no_tracked_file_refers_to_a_path_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_text_files():
        if not path.is_file():
            continue  # deleted in the work tree, not yet committed
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [
            f"{path.relative_to(REPOSITORY)}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1)
            if OUTSIDE.search(line)
        ]
    assert offenders == []


def test_readme_and_docs_link_the_architecture_document() -> None:
    assert "docs/ARCHITECTURE.md" in (REPOSITORY / "README.md").read_text(encoding="utf-8")
    assert "docs/ARCHITECTURE.md" in (REPOSITORY / "docs" / "SECURITY.md").read_text(encoding="utf-8")


def test_architecture_document_names_modules_and_functions_that_exist() -> None:
    """Every ``path.py`` (and ``path.py::name``) the document names is real, so it cannot silently rot."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    references = MODULE_REFERENCE.findall(text)
    assert len(references) >= 20, "the document names the modules it describes"
    missing = []
    for relative, name in references:
        path = REPOSITORY / relative if (REPOSITORY / relative).is_file() else SERVER_PACKAGE / relative
        if not path.is_file():
            missing.append(relative)
        elif name and not re.search(rf"^\s*(?:async def|def|class) {name}\b", path.read_text("utf-8"), re.M):
            missing.append(f"{relative}::{name}")
    assert missing == []


def test_architecture_document_covers_layers_flows_and_invariants() -> None:
    headings = re.findall(r"^## (.+)$", ARCHITECTURE.read_text(encoding="utf-8"), re.M)

    assert headings[:4] == [
        "Layers",
        "Data flow: a sign-in with TOTP",
        "Data flow: a TOTP enrolment",
        "Security invariants and where they are enforced",
    ]
