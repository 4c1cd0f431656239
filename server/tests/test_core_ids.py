"""Tests for Clerk-style id factories."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from totpkit_server.core.ids import BASE62_ALPHABET, random_id_factory, sequential_id_factory
from totpkit_server.testing import seeded_random


class TestRandomIdFactory:
    """random_id_factory yields prefix_ plus 27 uniform base62 characters."""

    def test_shape(self) -> None:
        """Ids look like Clerk's: prefix, underscore, 27 alphanumerics."""
        new_id = random_id_factory(seeded_random())
        for prefix in ("user", "sess", "client", "sia", "dvb"):
            assert re.fullmatch(rf"{prefix}_[0-9A-Za-z]{{27}}", new_id(prefix))

    def test_distinct_and_deterministic(self) -> None:
        """Successive ids differ; the same seed reproduces the same sequence."""
        first = random_id_factory(seeded_random())
        second = random_id_factory(seeded_random())
        ids = [first("user") for _ in range(50)]
        assert len(set(ids)) == 50
        assert ids == [second("user") for _ in range(50)]

    def test_rejection_sampling(self) -> None:
        """Bytes >= 248 are skipped and byte b maps to BASE62_ALPHABET[b % 62]."""
        pattern = bytes([248, 255, 0, 61, 62, 247])

        def random_bytes(n: int) -> bytes:
            return (pattern * n)[:n]

        body = random_id_factory(random_bytes)("user").removeprefix("user_")
        assert body.startswith("0z0" + BASE62_ALPHABET[247 % 62])
        assert "248" not in body

    def test_uniform(self) -> None:
        """Every base62 character appears about equally often."""
        new_id = random_id_factory(seeded_random())
        counts = Counter("".join(new_id("user")[5:] for _ in range(400)))
        expected = 400 * 27 / 62
        assert set(counts) == set(BASE62_ALPHABET)
        assert all(abs(count - expected) < expected * 0.35 for count in counts.values())

    def test_degenerate_source(self) -> None:
        """A source that only yields rejected bytes raises RuntimeError instead of looping."""
        with pytest.raises(RuntimeError):
            random_id_factory(lambda n: b"\xff" * n)("user")

    @pytest.mark.parametrize("prefix", ["", "User", "1user", "user-x", "user id", "u" * 33])
    def test_bad_prefix(self, prefix: str) -> None:
        """Prefixes must be 1-32 characters of [a-z0-9_] starting with a letter."""
        with pytest.raises(ValueError, match="prefix"):
            random_id_factory(seeded_random())(prefix)


class TestSequentialIdFactory:
    """sequential_id_factory counts per prefix, zero-padded to 27 digits."""

    def test_counts_per_prefix(self) -> None:
        """Each prefix has its own counter starting at 1."""
        new_id = sequential_id_factory()
        assert new_id("user") == "user_000000000000000000000000001"
        assert new_id("user") == "user_000000000000000000000000002"
        assert new_id("sess") == "sess_000000000000000000000000001"
        assert new_id("user") == "user_000000000000000000000000003"

    def test_same_length_as_random(self) -> None:
        """Sequential ids have the same shape as random ones."""
        assert len(sequential_id_factory()("user")) == len(random_id_factory(seeded_random())("user"))

    def test_factories_are_independent(self) -> None:
        """Two factories do not share counters."""
        first, second = sequential_id_factory(), sequential_id_factory()
        first("user")
        assert second("user").endswith("001")

    def test_bad_prefix(self) -> None:
        """The same prefix rules apply."""
        with pytest.raises(ValueError, match="prefix"):
            sequential_id_factory()("")
