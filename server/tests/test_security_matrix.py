"""``docs/SECURITY.md`` maps every requirement to a test; this keeps the map honest.

Every table row must name at least one test as ``path::name`` or ``path::Class::name``, and every
named test must exist (found by parsing the file, so a renamed or deleted test fails here). Each
standard section the conformance matrix promises must be present and non-empty.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "docs" / "SECURITY.md"
_REFERENCE = re.compile(r"`([\w./-]+\.py)::([\w:]+)`")
_REQUIRED_ROWS = (
    "RFC 6238 §5.1",
    "RFC 6238 §5.2",
    "RFC 6238 §6",
    "RFC 4226 §7.3",
    "RFC 4226 §7.5",
    "SP 800-63B §5.1.2",
    "SP 800-63B §5.1.4.2",
    "SP 800-63B §5.2.2",
    "DESIGN: Replay",
    "DESIGN: Window",
    "DESIGN: Secrets at rest",
    "DESIGN: Backup codes",
    "DESIGN: Passwords",
    "DESIGN: Comparisons",
    "DESIGN: Throttling",
    "DESIGN: Bad input",
    "DESIGN: Secret shown once",
)


def _rows() -> list[str]:
    return [line for line in MATRIX.read_text("utf-8").splitlines() if line.startswith("| ") and "---" not in line]


def _requirement_rows() -> list[str]:
    return [row for row in _rows() if not row.startswith("| Requirement")]


def _defined_tests(path: Path) -> set[str]:
    """Qualified names (``name`` and ``Class::name``) of the test functions defined in ``path``."""
    tree = ast.parse(path.read_text("utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(f"{node.name}::{item.name}")
    return names


def test_every_row_names_a_test() -> None:
    rows = _requirement_rows()
    assert len(rows) >= len(_REQUIRED_ROWS)
    missing = [row[:80] for row in rows if not _REFERENCE.search(row)]
    assert missing == []


@pytest.mark.parametrize("label", _REQUIRED_ROWS)
def test_the_matrix_covers(label: str) -> None:
    assert any(row.startswith(f"| {label}") for row in _requirement_rows()), label


def test_every_named_test_exists() -> None:
    references = [match.groups() for row in _requirement_rows() for match in _REFERENCE.finditer(row)]
    assert references
    unresolved = []
    cache: dict[str, set[str]] = {}
    for file_name, qualified in references:
        path = ROOT / file_name
        if not path.is_file():
            unresolved.append(f"{file_name} (no such file)")
            continue
        defined = cache.setdefault(file_name, _defined_tests(path))
        if qualified not in defined:
            unresolved.append(f"{file_name}::{qualified}")
    assert unresolved == []
