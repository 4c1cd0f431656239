"""The public surface of the totpkit package is curated and pinned."""

from __future__ import annotations

import importlib
import re
from types import ModuleType

import pytest

import totpkit

MODULES = ["totpkit", "totpkit.resources", "totpkit.types", "totpkit.testing", "totpkit.otp"]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest."""
    if name.isupper() or re.fullmatch(r"[A-Z0-9_]+", name):
        return 0, name
    return (1, name) if name[0].isupper() else (2, name)


class TestExportedMembers:
    """__all__ lists exactly the public names, sorted."""

    @pytest.mark.parametrize("module_name", MODULES)
    def test_all_is_sorted(self, module_name: str) -> None:
        """Each public module's __all__ is in ruff's isort-style order, with names that exist."""
        module = importlib.import_module(module_name)
        assert module.__doc__
        assert list(module.__all__) == sorted(module.__all__, key=_isort_key)
        for name in module.__all__:
            assert hasattr(module, name), name

    def test_all_equals_public_names(self) -> None:
        """Every public non-module name of totpkit is exported, and nothing else (plus types, __version__)."""
        public = {
            name
            for name, value in vars(totpkit).items()
            if not name.startswith("_") and not isinstance(value, ModuleType)
        }
        assert set(totpkit.__all__) == public | {"__version__", "types"}

    def test_classes_come_from_private_modules(self) -> None:
        """Exported classes are defined in _private modules or in resources."""
        for name in totpkit.__all__:
            value = getattr(totpkit, name)
            if isinstance(value, type):
                module = value.__module__
                assert module.split(".")[1].startswith("_") or module.startswith("totpkit.resources."), name

    def test_version(self) -> None:
        """__version__ is a non-empty string."""
        assert isinstance(totpkit.__version__, str)
        assert totpkit.__version__
