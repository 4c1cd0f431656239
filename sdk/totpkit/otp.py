"""One-time password primitives: HOTP (RFC 4226) and TOTP (RFC 6238).

Standard library only, so the SDK can generate codes (for tests and for
headless clients) without extra dependencies. The server builds its
verification on the same functions, so both sides agree by construction.

Time and randomness are never read here: the caller passes the instant
(``at``, Unix seconds) and, where needed, a :data:`RandomBytes` source.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import struct
from collections.abc import Callable, Mapping
from types import MappingProxyType

__all__ = (
    "ALGORITHMS",
    "InvalidSecretError",
    "RandomBytes",
    "decode_secret",
    "hotp",
    "time_step",
    "totp_code",
)

RandomBytes = Callable[[int], bytes]
"""A source of randomness: called with ``n``, returns exactly ``n`` random bytes (e.g. ``os.urandom``)."""

ALGORITHMS: Mapping[str, Callable[..., hashlib._Hash]] = MappingProxyType(
    {
        "SHA1": hashlib.sha1,
        "SHA256": hashlib.sha256,
        "SHA512": hashlib.sha512,
    }
)
"""The HMAC hash functions allowed for OTPs, keyed by their upper-case otpauth names."""

_MIN_SECRET_BYTES = 10
_MIN_DIGITS = 6
_MAX_DIGITS = 10
_MAX_COUNTER = 2**64 - 1
_BASE32_BODY = re.compile(r"[A-Z2-7]+")
# RFC 4648: the last quantum of an unpadded base32 string has 2, 4, 5 or 7 characters (or none).
_VALID_BASE32_REMAINDERS = frozenset({0, 2, 4, 5, 7})


class InvalidSecretError(ValueError):
    """A TOTP secret is not valid base32 or is too short to be secure."""


def decode_secret(secret: str) -> bytes:
    """Decode a base32 (RFC 4648) TOTP secret into the raw HMAC key.

    The input is case-insensitive, whitespace anywhere in it (as in
    ``"JBSW Y3DP ..."`` groupings) is ignored, and trailing ``=`` padding
    is optional.

    Args:
        secret: The base32 text, as shown to users or stored in an otpauth URI.

    Returns:
        The decoded key bytes.

    Raises:
        InvalidSecretError: If the secret is empty, contains characters outside
            the base32 alphabet (including padding anywhere but at the end), has
            an impossible length, or decodes to fewer than 10 bytes (80 bits).
    """
    compact = "".join(secret.split()).upper().rstrip("=")
    if not compact:
        raise InvalidSecretError("TOTP secret is empty")
    if _BASE32_BODY.fullmatch(compact) is None:
        raise InvalidSecretError("TOTP secret contains characters outside the base32 alphabet")
    if len(compact) % 8 not in _VALID_BASE32_REMAINDERS:
        raise InvalidSecretError("TOTP secret has an invalid base32 length")
    padded = compact + "=" * (-len(compact) % 8)
    try:
        key = base64.b32decode(padded)
    except binascii.Error as exc:  # pragma: no cover - excluded by the checks above
        raise InvalidSecretError("TOTP secret is not valid base32") from exc
    if len(key) < _MIN_SECRET_BYTES:
        raise InvalidSecretError(f"TOTP secret must decode to at least {_MIN_SECRET_BYTES} bytes, got {len(key)}")
    return key


def time_step(at: float, period: int = 30) -> int:
    """Return the RFC 6238 time step containing the instant ``at``.

    Args:
        at: Unix time in seconds (may be fractional).
        period: Length of a step in seconds; must be positive.

    Returns:
        ``floor(at / period)``.

    Raises:
        ValueError: If ``at`` is negative or not finite, or ``period`` is not positive.
    """
    if period <= 0:
        raise ValueError(f"period must be positive, got {period}")
    if not math.isfinite(at) or at < 0:
        raise ValueError(f"time must be a finite, non-negative Unix timestamp, got {at}")
    return int(at // period)


def hotp(key: bytes, counter: int, *, digits: int = 6, algorithm: str = "SHA1") -> str:
    """Compute an RFC 4226 HOTP value with dynamic truncation.

    Args:
        key: The raw HMAC key.
        counter: The moving factor, ``0 <= counter < 2**64``.
        digits: Number of decimal digits, 6 to 10.
        algorithm: ``"SHA1"``, ``"SHA256"`` or ``"SHA512"`` (case-insensitive).

    Returns:
        The code as a string of exactly ``digits`` digits, zero-padded on the left.

    Raises:
        ValueError: If the counter, digit count or algorithm is out of range.
    """
    if not 0 <= counter <= _MAX_COUNTER:
        raise ValueError(f"counter must be in 0..2**64-1, got {counter}")
    if not _MIN_DIGITS <= digits <= _MAX_DIGITS:
        raise ValueError(f"digits must be in {_MIN_DIGITS}..{_MAX_DIGITS}, got {digits}")
    digestmod = _hash_function(algorithm)
    mac = hmac.new(key, struct.pack(">Q", counter), digestmod).digest()
    offset = mac[-1] & 0x0F
    (binary,) = struct.unpack(">I", mac[offset : offset + 4])
    return str((binary & 0x7FFFFFFF) % 10**digits).zfill(digits)


def totp_code(secret: str, *, at: float, period: int = 30, digits: int = 6, algorithm: str = "SHA1") -> str:
    """Compute the RFC 6238 TOTP code of a base32 secret at an instant.

    Args:
        secret: The base32 secret (see :func:`decode_secret`).
        at: Unix time in seconds.
        period: Step length in seconds.
        digits: Number of digits in the code.
        algorithm: HMAC hash name (see :data:`ALGORITHMS`).

    Returns:
        The zero-padded code.

    Raises:
        InvalidSecretError: If the secret cannot be decoded.
        ValueError: If the time, period, digits or algorithm are invalid.
    """
    return hotp(decode_secret(secret), time_step(at, period), digits=digits, algorithm=algorithm)


def _hash_function(algorithm: str) -> Callable[..., hashlib._Hash]:
    """Look up an OTP hash function by name, case-insensitively; ValueError if unsupported."""
    try:
        return ALGORITHMS[algorithm.upper()]
    except KeyError:
        raise ValueError(f"unsupported OTP algorithm {algorithm!r}; expected one of {sorted(ALGORITHMS)}") from None
