"""Tests for backup-code generation, normalisation, keyed digests and bcrypt imports."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import bcrypt
import pytest

from totpkit_server.core.backup_codes import (
    BACKUP_CODE_ALPHABET,
    backup_code_matches,
    digest_backup_code,
    generate_backup_codes,
    is_bcrypt_digest,
    normalize_backup_code,
)
from totpkit_server.core.sealing import KeyRing
from totpkit_server.testing import seeded_random

USER = "user_000000000000000000000000001"


def cycling_bytes(values: bytes) -> Callable[[int], bytes]:
    """Return a random source that repeats the given byte sequence forever."""
    position = 0

    def random_bytes(n: int) -> bytes:
        nonlocal position
        out = bytes(values[(position + i) % len(values)] for i in range(n))
        position += n
        return out

    return random_bytes


@pytest.fixture
def ring() -> KeyRing:
    """A key ring with one deterministic key."""
    return KeyRing({"k1": bytes(range(32))}, "k1")


@pytest.fixture(scope="module")
def bcrypt_digest() -> str:
    """A cheap bcrypt digest of "abcd-efgh-ij", as Clerk exports would hold."""
    return bcrypt.hashpw(b"abcd-efgh-ij", bcrypt.gensalt(rounds=4)).decode()


class TestGenerateBackupCodes:
    """generate_backup_codes draws distinct, uniform codes from the alphabet."""

    def test_defaults(self) -> None:
        """Ten distinct codes of ten alphabet characters."""
        codes = generate_backup_codes(seeded_random())
        assert len(codes) == 10
        assert len(set(codes)) == 10
        assert all(len(code) == 10 and set(code) <= set(BACKUP_CODE_ALPHABET) for code in codes)

    def test_alphabet_has_no_lookalikes(self) -> None:
        """The alphabet has 31 characters and omits i, l, o, 0 and 1."""
        assert len(BACKUP_CODE_ALPHABET) == len(set(BACKUP_CODE_ALPHABET)) == 31
        assert not set("ilo01") & set(BACKUP_CODE_ALPHABET)

    def test_deterministic_under_seed(self) -> None:
        """The same random source gives the same codes."""
        assert generate_backup_codes(seeded_random()) == generate_backup_codes(seeded_random())

    def test_custom_count_and_length(self) -> None:
        """count and length are honoured."""
        codes = generate_backup_codes(seeded_random(), count=3, length=16)
        assert [len(code) for code in codes] == [16, 16, 16]

    def test_rejection_sampling_skips_biased_bytes(self) -> None:
        """Bytes >= 248 are discarded; byte b maps to alphabet[b % 31]."""
        codes = generate_backup_codes(cycling_bytes(bytes([255, 248, 0, 31, 1, 247])), count=1, length=6)
        assert codes == ["aab" + BACKUP_CODE_ALPHABET[247 % 31] + "aa"]

    def test_uniform_distribution(self) -> None:
        """Over many characters every symbol appears close to equally often."""
        codes = generate_backup_codes(seeded_random(), count=100, length=64)
        counts = Counter("".join(codes))
        expected = 6400 / 31
        assert set(counts) == set(BACKUP_CODE_ALPHABET)
        assert all(abs(count - expected) < expected * 0.35 for count in counts.values())

    def test_duplicates_are_redrawn(self) -> None:
        """A repeated code from the source is skipped so the set stays distinct."""
        first = bytes(range(6)) * 2  # one draw consumes 12 bytes; code "abcdef"
        second = bytes(range(6, 12)) * 2
        codes = generate_backup_codes(cycling_bytes(first + first + second), count=2, length=6)
        assert codes == ["abcdef", "ghjkmn"]

    def test_constant_source_fails_loudly(self) -> None:
        """A degenerate source raises RuntimeError instead of looping forever."""
        with pytest.raises(RuntimeError, match="duplicate"):
            generate_backup_codes(lambda n: bytes(n), count=2)
        with pytest.raises(RuntimeError, match="rejected"):
            generate_backup_codes(lambda n: b"\xff" * n)

    @pytest.mark.parametrize(("count", "length"), [(0, 10), (101, 10), (10, 5), (10, 65)])
    def test_out_of_range(self, count: int, length: int) -> None:
        """count outside 1..100 or length outside 6..64 raises ValueError."""
        with pytest.raises(ValueError, match=r"count|length"):
            generate_backup_codes(seeded_random(), count=count, length=length)


class TestNormalize:
    """normalize_backup_code lower-cases and drops spaces and dashes."""

    @pytest.mark.parametrize(
        ("typed", "expected"),
        [("abcd-efgh-jk", "abcdefghjk"), (" ABCD EFGH JK ", "abcdefghjk"), ("a-b - c\td", "abcd"), ("", "")],
    )
    def test_normalize(self, typed: str, expected: str) -> None:
        """Case, spaces, tabs and dashes do not matter."""
        assert normalize_backup_code(typed) == expected


class TestDigestAndMatch:
    """Keyed digests are user-bound and match typed codes in any formatting."""

    def test_digest_construction(self, ring: KeyRing) -> None:
        """The digest is the ring's backup-code digest of user id, NUL, normalised code."""
        expected = ring.keyed_digest(USER.encode() + b"\x00abcdefghjk", purpose="backup-code")
        assert digest_backup_code(ring, "ABCD-EFGH-JK", user_id=USER) == expected
        assert expected.startswith("h1.k1.")

    def test_matches_with_formatting(self, ring: KeyRing) -> None:
        """A stored code matches when typed upper-case, spaced or dashed."""
        stored = digest_backup_code(ring, "abcdefghjk", user_id=USER)
        for typed in ["abcdefghjk", "ABCDEFGHJK", "abcde-fghjk", " abcd efgh jk "]:
            assert backup_code_matches(ring, typed, stored, user_id=USER)

    def test_wrong_code(self, ring: KeyRing) -> None:
        """A different code does not match."""
        stored = digest_backup_code(ring, "abcdefghjk", user_id=USER)
        assert not backup_code_matches(ring, "abcdefghjm", stored, user_id=USER)

    def test_bound_to_user(self, ring: KeyRing) -> None:
        """A digest stored for one user does not match for another."""
        stored = digest_backup_code(ring, "abcdefghjk", user_id=USER)
        assert not backup_code_matches(ring, "abcdefghjk", stored, user_id="user_other")

    def test_survives_rotation(self, ring: KeyRing) -> None:
        """Digests made under an old key still match after rotation."""
        stored = digest_backup_code(ring, "abcdefghjk", user_id=USER)
        rotated = ring.with_new_active_key(seeded_random())
        assert backup_code_matches(rotated, "abcdefghjk", stored, user_id=USER)

    def test_overlong_input_rejected_without_hashing(self, ring: KeyRing, monkeypatch: pytest.MonkeyPatch) -> None:
        """Input over 64 characters is refused before any digest is computed."""
        stored = digest_backup_code(ring, "a" * 64, user_id=USER)
        assert backup_code_matches(ring, "a" * 64, stored, user_id=USER)

        def boom(*args: object, **kwargs: object) -> bool:
            raise AssertionError("must not hash")

        monkeypatch.setattr(KeyRing, "verify_keyed_digest", boom)
        monkeypatch.setattr(bcrypt, "checkpw", boom)
        assert not backup_code_matches(ring, "a" * 65, stored, user_id=USER)
        assert not backup_code_matches(ring, "a" * 65, "$2b$04$" + "a" * 53, user_id=USER)

    @pytest.mark.parametrize("stored", ["", "abcdefghjk", "h1.", "h1.k1.???", "$2x$04$" + "a" * 53, "$argon2id$v=19$x"])
    def test_unknown_digest_formats_are_false(self, ring: KeyRing, stored: str) -> None:
        """Plaintext, malformed and foreign digests never match."""
        assert backup_code_matches(ring, "abcdefghjk", stored, user_id=USER) is False

    def test_never_raises_on_odd_input(self, ring: KeyRing, bcrypt_digest: str) -> None:
        """Lone surrogates and long multi-byte input return False instead of raising."""
        stored = digest_backup_code(ring, "abcdefghjk", user_id=USER)
        assert not backup_code_matches(ring, "\ud800", stored, user_id=USER)
        assert not backup_code_matches(ring, "\ud800", bcrypt_digest, user_id=USER)
        assert not backup_code_matches(ring, "é" * 60, bcrypt_digest, user_id=USER)  # 120 bytes > bcrypt's 72


class TestBcryptImports:
    """Clerk-imported bcrypt digests are verified with bcrypt."""

    @pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
    def test_variants_match(self, ring: KeyRing, bcrypt_digest: str, prefix: str) -> None:
        """$2a$, $2b$ and $2y$ digests of the code match it (surrounding spaces stripped)."""
        digest = prefix + bcrypt_digest[4:]
        assert backup_code_matches(ring, "abcd-efgh-ij", digest, user_id=USER)
        assert backup_code_matches(ring, "  abcd-efgh-ij\n", digest, user_id=USER)

    def test_wrong_code(self, ring: KeyRing, bcrypt_digest: str) -> None:
        """A different code does not match an imported digest."""
        assert not backup_code_matches(ring, "abcd-efgh-ik", bcrypt_digest, user_id=USER)

    def test_imported_codes_are_not_normalised(self, ring: KeyRing, bcrypt_digest: str) -> None:
        """Imported digests were made from the exact code, so only surrounding whitespace is ignored."""
        assert not backup_code_matches(ring, "ABCD-EFGH-IJ", bcrypt_digest, user_id=USER)

    def test_is_bcrypt_digest(self, bcrypt_digest: str) -> None:
        """Only well-formed $2a$/$2b$/$2y$ digests are recognised."""
        assert is_bcrypt_digest(bcrypt_digest)
        assert is_bcrypt_digest("$2y$" + bcrypt_digest[4:])
        assert not is_bcrypt_digest("$2x$" + bcrypt_digest[4:])
        assert not is_bcrypt_digest(bcrypt_digest[:-1])
        assert not is_bcrypt_digest(bcrypt_digest + "a")
        assert not is_bcrypt_digest("h1.k1.AAAA")
        assert not is_bcrypt_digest("")
