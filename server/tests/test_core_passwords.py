"""Tests for argon2id password hashing."""

from __future__ import annotations

import pytest

from totpkit_server.core.passwords import PasswordHasher


@pytest.fixture(scope="module")
def hasher() -> PasswordHasher:
    """A cheap hasher; production parameters are covered separately."""
    return PasswordHasher.fast_for_tests()


class TestPasswordHasher:
    """hash() produces argon2id PHC strings and verify() never raises."""

    def test_round_trip(self, hasher: PasswordHasher) -> None:
        """A password verifies against its own hash and not against a different password."""
        stored = hasher.hash("correct horse battery staple")
        assert hasher.verify(stored, "correct horse battery staple")
        assert not hasher.verify(stored, "correct horse battery stapler")

    def test_argon2id_with_fast_parameters(self, hasher: PasswordHasher) -> None:
        """Hashes are argon2id PHC strings carrying the configured cost."""
        stored = hasher.hash("pw")
        assert stored.startswith("$argon2id$v=19$m=1024,t=1,p=1$")

    def test_default_parameters(self) -> None:
        """The default hasher uses 64 MiB, 3 passes and 1 lane."""
        assert PasswordHasher().hash("pw").startswith("$argon2id$v=19$m=65536,t=3,p=1$")

    def test_salted(self, hasher: PasswordHasher) -> None:
        """Hashing the same password twice gives different strings."""
        assert hasher.hash("pw") != hasher.hash("pw")

    def test_unicode_and_empty(self, hasher: PasswordHasher) -> None:
        """Non-ASCII and empty passwords work."""
        assert hasher.verify(hasher.hash("pässwörd 🔑"), "pässwörd 🔑")
        assert hasher.verify(hasher.hash(""), "")
        assert not hasher.verify(hasher.hash(""), " ")

    def test_none_is_false(self, hasher: PasswordHasher) -> None:
        """A missing hash (unknown user) returns False, even for the dummy's own password."""
        from totpkit_server.core import passwords

        assert not hasher.verify(None, "anything")
        assert not hasher.verify(None, passwords._DUMMY_PASSWORD)

    def test_none_still_hashes(self, hasher: PasswordHasher, monkeypatch: pytest.MonkeyPatch) -> None:
        """A missing hash still runs an argon2 verification, so timing does not reveal the user exists."""
        calls: list[str] = []
        inner = hasher._hasher

        class Spy:
            """Records the hashes verify() is asked to check."""

            def verify(self, stored: str, password: str) -> bool:
                calls.append(stored)
                return bool(inner.verify(stored, password))

        monkeypatch.setattr(hasher, "_hasher", Spy())
        assert not hasher.verify(None, "pw")
        assert len(calls) == 1
        assert calls[0].startswith("$argon2id$")

    @pytest.mark.parametrize(
        "stored",
        [
            "",
            "plaintext",
            "$argon2id$v=19$m=1024,t=1,p=1$broken",
            "$2b$12$abcdefghijklmnopqrstuuJ2sqGzWlHyiU0mE2pmmCkx1xRhE1Wla",
            "$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$" + "A" * 43,
        ],
    )
    def test_invalid_hashes_are_false(self, hasher: PasswordHasher, stored: str) -> None:
        """Malformed or foreign hashes return False instead of raising."""
        assert hasher.verify(stored, "pw") is False

    def test_other_parameters_still_verify(self, hasher: PasswordHasher) -> None:
        """A hash made with different argon2 parameters still verifies (parameters are in the hash)."""
        other = PasswordHasher(time_cost=2, memory_cost=2048, parallelism=2)
        assert hasher.verify(other.hash("pw"), "pw")

    def test_invalid_parameters(self) -> None:
        """Parameters argon2 rejects raise ValueError at construction."""
        with pytest.raises(ValueError, match="argon2"):
            PasswordHasher(time_cost=0, memory_cost=1024)
