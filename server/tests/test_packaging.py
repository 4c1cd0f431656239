"""How totpkit is installed and started: the ``totpkit`` command, ``python -m totpkit``, extras, metadata.

The SDK-only case (no ``server`` extra) is simulated here by refusing imports of the server's
dependencies; ``nox -s base_install`` checks the same on a real install without extras.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
COMMAND = Path(sys.executable).parent / "totpkit"

_WITHOUT_MODULE = """
import importlib.abc, sys

class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == {module!r} or name.startswith({module!r} + "."):
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None

sys.meta_path.insert(0, Refuse())
for loaded in [m for m in sys.modules if m == {module!r} or m.startswith({module!r} + ".")]:
    del sys.modules[loaded]
from totpkit._cli import main
raise SystemExit(main(["serve", "--help"]))
"""


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args], capture_output=True, text=True, timeout=60, check=False, cwd=REPOSITORY
    )


class TestCommand:
    def test_python_m_totpkit_is_the_totpkit_command(self) -> None:
        by_module = _run(sys.executable, "-m", "totpkit", "create-user", "--help")
        by_command = _run(COMMAND, "create-user", "--help")

        assert by_module.returncode == 0, by_module.stderr
        assert "--email" in by_module.stdout
        # the same help after the usage paragraph, whose program name depends on how Python was started
        assert by_module.stdout.split("\n\n", 1)[1] == by_command.stdout.split("\n\n", 1)[1]

    def test_the_command_is_the_sdk_entry_point(self) -> None:
        """The console script must not import the server before it can say which extra is missing."""
        (entry,) = importlib.metadata.entry_points(group="console_scripts", name="totpkit")
        assert entry.value == "totpkit._cli:main"

    @pytest.mark.parametrize("module", ["litestar", "aiosqlite", "argon2", "bcrypt"])
    def test_without_the_server_extra_it_names_the_extra(self, module: str) -> None:
        result = _run(sys.executable, "-c", _WITHOUT_MODULE.format(module=module))

        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr.splitlines() == [
            "totpkit: the totpkit command runs the server, which is not installed: "
            f"pip install 'totpkit[server]' (missing module {module!r})"
        ]

    def test_a_module_missing_inside_totpkit_is_not_disguised(self) -> None:
        """A missing project module is a bug: it surfaces as the ImportError it is."""
        result = _run(sys.executable, "-c", _WITHOUT_MODULE.format(module="totpkit_server.cli"))

        assert result.returncode == 1
        assert "ModuleNotFoundError: No module named 'totpkit_server.cli'" in result.stderr
        assert "pip install" not in result.stderr


class TestExtras:
    def test_server_extra_installs_uvicorn_standard(self) -> None:
        requirements = importlib.metadata.requires("totpkit") or []
        server = [r for r in requirements if re.search(r"extra\s*==\s*[\"']server[\"']", r)]
        assert any(r.startswith("uvicorn[standard]") for r in server), server

    def test_uvicorn_serves_with_httptools_and_uvloop(self) -> None:
        """What ``uvicorn[standard]`` is for: uvicorn's ``auto`` choices pick the fast implementations."""
        from uvicorn.config import Config
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        config = Config(app="totpkit_server.app:create_app", factory=True, http="auto", ws="none", lifespan="off")
        config.load()

        assert config.http_protocol_class is HttpToolsProtocol
        assert importlib.util.find_spec("uvloop") is not None


class TestMetadata:
    def test_license_is_mit_and_shipped(self) -> None:
        metadata = importlib.metadata.metadata("totpkit")

        assert metadata["License-Expression"] == "MIT"
        assert metadata.get_all("License-File") == ["LICENSE"]
        text = (REPOSITORY / "LICENSE").read_text(encoding="utf-8")
        assert text.startswith("MIT License\n")
        assert "Permission is hereby granted, free of charge" in text

    def test_classifiers_and_urls(self) -> None:
        metadata = importlib.metadata.metadata("totpkit")

        classifiers = metadata.get_all("Classifier") or []
        assert "Typing :: Typed" in classifiers
        assert "Programming Language :: Python :: 3 :: Only" in classifiers
        assert all(url.partition(", ")[2].startswith("https://") for url in metadata.get_all("Project-URL") or [])
        assert metadata.get_all("Project-URL")

    def test_changelog_names_the_released_version(self) -> None:
        changelog = (REPOSITORY / "CHANGELOG.md").read_text(encoding="utf-8")

        assert f"## {importlib.metadata.version('totpkit')}" in changelog
