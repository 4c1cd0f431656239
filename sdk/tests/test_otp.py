"""Tests for the SDK's HOTP/TOTP primitives against the RFC test vectors."""

from __future__ import annotations

import base64

import pytest

from totpkit.otp import ALGORITHMS, InvalidSecretError, decode_secret, hotp, time_step, totp_code

RFC4226_KEY = b"12345678901234567890"
RFC4226_CODES = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]

RFC6238_KEYS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238_VECTORS = [
    (59, "SHA1", "94287082"),
    (59, "SHA256", "46119246"),
    (59, "SHA512", "90693936"),
    (1111111109, "SHA1", "07081804"),
    (1111111109, "SHA256", "68084774"),
    (1111111109, "SHA512", "25091201"),
    (1111111111, "SHA1", "14050471"),
    (1111111111, "SHA256", "67062674"),
    (1111111111, "SHA512", "99943326"),
    (1234567890, "SHA1", "89005924"),
    (1234567890, "SHA256", "91819424"),
    (1234567890, "SHA512", "93441116"),
    (2000000000, "SHA1", "69279037"),
    (2000000000, "SHA256", "90698825"),
    (2000000000, "SHA512", "38618901"),
    (20000000000, "SHA1", "65353130"),
    (20000000000, "SHA256", "77737706"),
    (20000000000, "SHA512", "47863826"),
]


def b32(key: bytes) -> str:
    """Encode a raw key as unpadded base32, the way secrets are shown to users."""
    return base64.b32encode(key).decode("ascii").rstrip("=")


class TestHotp:
    """HOTP follows RFC 4226, including dynamic truncation and zero padding."""

    @pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226_CODES)))
    def test_rfc4226_appendix_d(self, counter: int, expected: str) -> None:
        """Each Appendix D counter yields its published 6-digit value."""
        assert hotp(RFC4226_KEY, counter) == expected

    def test_zero_padding(self) -> None:
        """Codes with a leading zero keep it (RFC 6238 vector 07081804)."""
        code = hotp(RFC6238_KEYS["SHA1"], 1111111109 // 30, digits=8)
        assert code == "07081804"
        assert len(code) == 8

    def test_algorithm_name_is_case_insensitive(self) -> None:
        """Lower-case algorithm names select the same hash."""
        assert hotp(RFC4226_KEY, 1, algorithm="sha1") == hotp(RFC4226_KEY, 1, algorithm="SHA1")

    @pytest.mark.parametrize("algorithm", ["MD5", "SHA224", "", "sha-1"])
    def test_unknown_algorithm_rejected(self, algorithm: str) -> None:
        """Algorithms outside SHA1/SHA256/SHA512 raise ValueError."""
        with pytest.raises(ValueError, match="unsupported OTP algorithm"):
            hotp(RFC4226_KEY, 0, algorithm=algorithm)

    @pytest.mark.parametrize("digits", [0, 5, 11])
    def test_digits_out_of_range_rejected(self, digits: int) -> None:
        """Digit counts outside 6..10 raise ValueError."""
        with pytest.raises(ValueError, match="digits"):
            hotp(RFC4226_KEY, 0, digits=digits)

    @pytest.mark.parametrize("counter", [-1, 2**64])
    def test_counter_out_of_range_rejected(self, counter: int) -> None:
        """Counters that do not fit an unsigned 64-bit integer raise ValueError."""
        with pytest.raises(ValueError, match="counter"):
            hotp(RFC4226_KEY, counter)

    def test_largest_counter_accepted(self) -> None:
        """The maximum 64-bit counter is accepted."""
        assert len(hotp(RFC4226_KEY, 2**64 - 1)) == 6

    def test_algorithms_mapping_is_read_only(self) -> None:
        """ALGORITHMS exposes exactly the three RFC 6238 hashes and cannot be mutated."""
        assert sorted(ALGORITHMS) == ["SHA1", "SHA256", "SHA512"]
        with pytest.raises(TypeError):
            ALGORITHMS["MD5"] = ALGORITHMS["SHA1"]  # type: ignore[index]


class TestTotpCode:
    """TOTP codes match RFC 6238 Appendix B for every hash."""

    @pytest.mark.parametrize(("at", "algorithm", "expected"), RFC6238_VECTORS)
    def test_rfc6238_appendix_b(self, at: int, algorithm: str, expected: str) -> None:
        """Each Appendix B row is reproduced from its base32-encoded ASCII key."""
        secret = b32(RFC6238_KEYS[algorithm])
        assert totp_code(secret, at=at, digits=8, algorithm=algorithm) == expected

    def test_six_digits_are_the_low_digits(self) -> None:
        """A 6-digit code is the 8-digit code modulo 10**6."""
        assert totp_code(b32(RFC6238_KEYS["SHA1"]), at=59) == "287082"

    def test_same_step_same_code(self) -> None:
        """Instants within one period give the same code; the next period differs."""
        secret = b32(RFC6238_KEYS["SHA1"])
        assert totp_code(secret, at=60) == totp_code(secret, at=89.999)
        assert totp_code(secret, at=60) != totp_code(secret, at=90)

    def test_custom_period(self) -> None:
        """A 60-second period uses floor(at / 60) as the counter."""
        secret = b32(RFC4226_KEY)
        assert totp_code(secret, at=3 * 60 + 59, period=60) == RFC4226_CODES[3]

    def test_invalid_secret_raises(self) -> None:
        """An undecodable secret raises InvalidSecretError."""
        with pytest.raises(InvalidSecretError):
            totp_code("not base32!", at=0)


class TestTimeStep:
    """time_step floors the instant by the period and rejects impossible input."""

    @pytest.mark.parametrize(
        ("at", "period", "expected"),
        [
            (0, 30, 0),
            (29.999, 30, 0),
            (30, 30, 1),
            (59, 30, 1),
            (1111111109, 30, 37037036),
            (20000000000, 30, 666666666),
        ],
    )
    def test_floor(self, at: float, period: int, expected: int) -> None:
        """The step is floor(at / period)."""
        assert time_step(at, period) == expected

    @pytest.mark.parametrize("at", [-1, -0.5, float("nan"), float("inf")])
    def test_rejects_negative_or_non_finite(self, at: float) -> None:
        """Negative, NaN and infinite instants raise ValueError."""
        with pytest.raises(ValueError, match="time"):
            time_step(at)

    @pytest.mark.parametrize("period", [0, -30])
    def test_rejects_non_positive_period(self, period: int) -> None:
        """A period of zero or less raises ValueError."""
        with pytest.raises(ValueError, match="period"):
            time_step(100, period)


class TestDecodeSecret:
    """decode_secret accepts human-formatted base32 and rejects weak or malformed secrets."""

    def test_round_trip(self) -> None:
        """An unpadded upper-case encoding decodes to the original key."""
        assert decode_secret(b32(RFC6238_KEYS["SHA512"])) == RFC6238_KEYS["SHA512"]

    def test_lower_case_spaces_and_padding(self) -> None:
        """Case, spaces (inside and around) and trailing padding are ignored."""
        key = bytes(range(11))  # 11 bytes: base32 needs padding
        padded = base64.b32encode(key).decode("ascii")
        assert padded.endswith("=")
        spaced = " " + " ".join(padded[i : i + 4] for i in range(0, len(padded), 4)).lower() + "\n"
        assert decode_secret(padded) == key
        assert decode_secret(padded.rstrip("=")) == key
        assert decode_secret(spaced) == key

    def test_minimum_length_is_ten_bytes(self) -> None:
        """Ten bytes (80 bits) are accepted; nine are rejected."""
        assert decode_secret(b32(bytes(10))) == bytes(10)
        with pytest.raises(InvalidSecretError, match="at least 10 bytes"):
            decode_secret(b32(bytes(9)))

    @pytest.mark.parametrize(
        "secret",
        [
            "",
            "   ",
            "====",
            "JBSWY3DPEHPK3PXP0",  # '0' is not base32
            "JBSWY3DPEHPK3PXP1",  # '1' is not base32
            "JBSWY3DP-EHPK3PXP",
            "JBSWY3DP=EHPK3PXP",  # padding in the middle
            "JBSWY3DPEHPK3PXPé",
            "AAAAAAAAAAAAAAAAA",  # 17 characters: impossible base32 length
        ],
    )
    def test_malformed_rejected(self, secret: str) -> None:
        """Empty input, non-alphabet characters, inner padding and impossible lengths raise."""
        with pytest.raises(InvalidSecretError):
            decode_secret(secret)

    def test_error_is_a_value_error(self) -> None:
        """InvalidSecretError can be caught as ValueError."""
        assert issubclass(InvalidSecretError, ValueError)
