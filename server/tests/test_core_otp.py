"""Tests for server-side TOTP: secret generation, verification windows and otpauth URIs."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable

import pytest

from totpkit.otp import InvalidSecretError, decode_secret, hotp, totp_code
from totpkit_server.core.otp import find_matching_step, generate_secret, is_valid_import_secret, otpauth_uri
from totpkit_server.testing import seeded_random

RFC_SHA1_SECRET = base64.b32encode(b"12345678901234567890").decode("ascii")  # GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
AT = 1111111109.0  # RFC 6238 vector time: step 37037036


def code_at_step(step: int, *, digits: int = 6) -> str:
    """The RFC SHA1 secret's code for a given step."""
    return hotp(b"12345678901234567890", step, digits=digits)


class TestGenerateSecret:
    """generate_secret yields unpadded upper-case base32 of the requested entropy."""

    def test_default_is_32_chars_of_20_bytes(self) -> None:
        """Twenty random bytes encode to 32 base32 characters, decodable back."""
        random_bytes = seeded_random()
        expected = seeded_random()(20)
        secret = generate_secret(random_bytes)
        assert len(secret) == 32
        assert secret == secret.upper()
        assert "=" not in secret
        assert decode_secret(secret) == expected

    def test_non_multiple_of_five_has_no_padding(self) -> None:
        """A length that would need padding is emitted without it and still decodes."""
        secret = generate_secret(seeded_random(), length=16)
        assert "=" not in secret
        assert len(decode_secret(secret)) == 16

    def test_uses_injected_randomness(self) -> None:
        """The same seed yields the same secret; different seeds differ."""
        assert generate_secret(seeded_random(b"a")) == generate_secret(seeded_random(b"a"))
        assert generate_secret(seeded_random(b"a")) != generate_secret(seeded_random(b"b"))

    def test_short_length_rejected(self) -> None:
        """Fewer than ten bytes raises ValueError."""
        with pytest.raises(ValueError, match="at least 10"):
            generate_secret(seeded_random(), length=9)

    def test_short_random_source_rejected(self) -> None:
        """A random source returning too few bytes raises ValueError."""
        with pytest.raises(ValueError, match="random_bytes"):
            generate_secret(lambda n: b"\x00" * (n - 1))


class TestFindMatchingStep:
    """find_matching_step checks a code against the window and reports the matching step."""

    def test_rfc_vector_matches_current_step(self) -> None:
        """The RFC 8-digit SHA1 code at 1111111109 matches step 37037036."""
        assert find_matching_step(RFC_SHA1_SECRET, "07081804", at=AT, digits=8) == 37037036

    @pytest.mark.parametrize("offset", [-1, 0, 1])
    def test_window_one_accepts_adjacent_steps(self, offset: int) -> None:
        """With window 1 the previous, current and next step's codes match."""
        step = 37037036 + offset
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(step), at=AT) == step

    @pytest.mark.parametrize("offset", [-2, 2])
    def test_window_one_rejects_two_steps_away(self, offset: int) -> None:
        """Codes two steps away are rejected with window 1 and accepted with window 2."""
        step = 37037036 + offset
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(step), at=AT) is None
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(step), at=AT, window=2) == step

    def test_window_zero_accepts_only_current(self) -> None:
        """With window 0 only the current step's code matches."""
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(37037036), at=AT, window=0) == 37037036
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(37037035), at=AT, window=0) is None

    @pytest.mark.parametrize("window", [-1, 3, 10])
    def test_window_out_of_range(self, window: int) -> None:
        """Windows outside 0..2 raise ValueError."""
        with pytest.raises(ValueError, match="window"):
            find_matching_step(RFC_SHA1_SECRET, "123456", at=AT, window=window)

    def test_surrounding_whitespace_ignored(self) -> None:
        """Spaces and newlines around the code are stripped."""
        assert find_matching_step(RFC_SHA1_SECRET, f" {code_at_step(37037036)}\n", at=AT) == 37037036

    @pytest.mark.parametrize(
        "transform",
        [
            lambda c: c[:3] + " " + c[3:],  # inner space
            lambda c: c[:-1],  # too short
            lambda c: c + "0",  # too long
            lambda c: "".join(chr(ord(ch) - ord("0") + 0x0660) for ch in c),  # Arabic-Indic digits
            lambda c: "-" + c[1:],
            lambda c: "",
        ],
    )
    def test_malformed_codes_never_match(self, transform: Callable[[str], str]) -> None:
        """Anything other than exactly `digits` ASCII digits returns None."""
        assert find_matching_step(RFC_SHA1_SECRET, transform(code_at_step(37037036)), at=AT) is None

    def test_wrong_code(self) -> None:
        """A code from a distant step does not match."""
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(1), at=AT) is None

    def test_near_epoch_skips_negative_steps(self) -> None:
        """At time 0 the window does not go below step 0."""
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(0), at=0) == 0
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(1), at=0) == 1

    def test_other_algorithms_and_digits(self) -> None:
        """SHA512 with 8 digits verifies the RFC 6238 vector."""
        secret = base64.b32encode(b"1234567890123456789012345678901234567890123456789012345678901234").decode()
        assert find_matching_step(secret, "93441116", at=1234567890, digits=8, algorithm="SHA512") == 41152263

    def test_compares_every_candidate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Every step in the window is compared with compare_digest, even after an early match."""
        calls: list[tuple[bytes, bytes]] = []
        real = hmac.compare_digest

        def spy(a: bytes, b: bytes) -> bool:
            calls.append((a, b))
            return real(a, b)

        monkeypatch.setattr(hmac, "compare_digest", spy)
        assert find_matching_step(RFC_SHA1_SECRET, code_at_step(37037034), at=AT, window=2) == 37037034
        assert len(calls) == 5

    def test_highest_of_several_matches(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """If several steps matched, the highest is returned."""
        monkeypatch.setattr(hmac, "compare_digest", lambda a, b: True)
        assert find_matching_step(RFC_SHA1_SECRET, "000000", at=AT, window=2) == 37037038

    def test_invalid_secret_raises(self) -> None:
        """A corrupt stored secret is an error, not a silent mismatch."""
        with pytest.raises(InvalidSecretError):
            find_matching_step("short", "123456", at=AT)

    def test_agrees_with_sdk(self) -> None:
        """A code produced by the SDK at an instant verifies at that instant."""
        secret = generate_secret(seeded_random())
        at = 1_700_000_000.0
        assert find_matching_step(secret, totp_code(secret, at=at), at=at) == int(at // 30)


class TestOtpauthUri:
    """otpauth_uri reproduces Clerk's URI format byte for byte."""

    def test_clerk_fixture(self) -> None:
        """The recorded Clerk fixture is reproduced exactly."""
        uri = otpauth_uri("BANANA", issuer="Cyberdyne (development)", account="vin@diesel.family")
        assert uri == (
            "otpauth://totp/Cyberdyne%20%28development%29:vin@diesel.family"
            "?algorithm=SHA1&digits=6&issuer=Cyberdyne+%28development%29&period=30&secret=BANANA"
        )

    def test_colon_in_issuer_is_escaped(self) -> None:
        """A ':' inside the issuer or account is percent-encoded so the label stays unambiguous."""
        uri = otpauth_uri("S", issuer="A:B", account="c:d")
        assert uri.startswith("otpauth://totp/A%3AB:c%3Ad?")
        assert "&issuer=A%3AB&" in uri

    def test_parameters_sorted_and_custom(self) -> None:
        """Non-default digits, period and algorithm appear in sorted order; algorithm upper-cased."""
        uri = otpauth_uri("S", issuer="X", account="y", digits=8, period=60, algorithm="sha256")
        assert uri == "otpauth://totp/X:y?algorithm=SHA256&digits=8&issuer=X&period=60&secret=S"

    def test_unicode_and_plus(self) -> None:
        """Non-ASCII and '+' are percent-encoded in both label and query."""
        uri = otpauth_uri("S", issuer="Café", account="a+b@x.io")
        assert uri == "otpauth://totp/Caf%C3%A9:a%2Bb@x.io?algorithm=SHA1&digits=6&issuer=Caf%C3%A9&period=30&secret=S"

    def test_empty_issuer(self) -> None:
        """Without an issuer the label is just the account and no issuer parameter is sent."""
        assert otpauth_uri("S", issuer="", account="u") == "otpauth://totp/u?algorithm=SHA1&digits=6&period=30&secret=S"

    def test_unknown_algorithm(self) -> None:
        """An unsupported algorithm raises ValueError."""
        with pytest.raises(ValueError, match="algorithm"):
            otpauth_uri("S", issuer="X", account="y", algorithm="MD5")


class TestIsValidImportSecret:
    """is_valid_import_secret accepts decodable base32 of at least 80 bits."""

    @pytest.mark.parametrize(
        "secret", [RFC_SHA1_SECRET, RFC_SHA1_SECRET.lower(), "AAAAAAAAAAAAAAAA", "jbsw y3dp ehpk 3pxp"]
    )
    def test_valid(self, secret: str) -> None:
        """Well-formed secrets of 10 bytes or more are accepted."""
        assert is_valid_import_secret(secret)

    @pytest.mark.parametrize("secret", ["", "BANANA", "AAAAAAAAAAAAAAA", "JBSWY3DPEHPK3PX!", "0000000000000000"])
    def test_invalid(self, secret: str) -> None:
        """Short, empty or non-base32 secrets are refused without raising."""
        assert not is_valid_import_secret(secret)
