"""Backup (recovery) codes: generation, normalisation, digests and matching.

Codes are stored only as keyed digests (:meth:`KeyRing.keyed_digest`,
bound to the user id), never in plaintext. Codes imported from Clerk may
instead carry bcrypt digests, which are checked with bcrypt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bcrypt

from totpkit.otp import RandomBytes
from totpkit_server.core.sealing import KeyRing

__all__ = (
    "BACKUP_CODE_ALPHABET",
    "MAX_BACKUP_CODE_LENGTH",
    "MAX_BCRYPT_COST",
    "MAX_BCRYPT_DIGESTS",
    "backup_code_matches",
    "bcrypt_cost",
    "digest_backup_code",
    "digests_worth_checking",
    "generate_backup_codes",
    "is_bcrypt_digest",
    "normalize_backup_code",
)

BACKUP_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
"""Lower-case letters and digits without the look-alikes ``i l o 0 1``."""

MAX_BACKUP_CODE_LENGTH = 64
"""Longer input is rejected without hashing."""

MAX_BCRYPT_DIGESTS = 10
"""Most bcrypt digests one attempt evaluates (and one user's set may import; Clerk's sets have 10).

Each stored bcrypt digest costs a full bcrypt evaluation on every attempt that does not match an
earlier code, so this bounds the CPU a wrong backup code can cost."""

MAX_BCRYPT_COST = 12
"""Highest bcrypt cost factor accepted (2^12 rounds, a few hundred milliseconds at most)."""

_PURPOSE = "backup-code"
_MIN_LENGTH = 6
_MAX_COUNT = 100
_MAX_DRAWS = 64
# Largest multiple of the alphabet size that fits in a byte: bytes at or above it are rejected.
_BYTE_LIMIT = 256 - 256 % len(BACKUP_CODE_ALPHABET)
_BCRYPT_DIGEST = re.compile(r"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}")
_SEPARATORS = re.compile(r"[\s-]+")


def generate_backup_codes(random_bytes: RandomBytes, *, count: int = 10, length: int = 10) -> list[str]:
    """Generate distinct backup codes drawn uniformly from :data:`BACKUP_CODE_ALPHABET`.

    Each character comes from one random byte by rejection sampling (bytes that
    would bias the modulo are discarded), so every character is equally likely.

    Args:
        random_bytes: Source of randomness (``os.urandom`` in production).
        count: Number of codes, 1 to 100.
        length: Characters per code, 6 to 64.

    Returns:
        ``count`` distinct codes, lower-case, without separators.

    Raises:
        ValueError: If ``count`` or ``length`` is out of range.
        RuntimeError: If the random source is so degenerate that no codes can be drawn.
    """
    if not 1 <= count <= _MAX_COUNT:
        raise ValueError(f"count must be in 1..{_MAX_COUNT}, got {count}")
    if not _MIN_LENGTH <= length <= MAX_BACKUP_CODE_LENGTH:
        raise ValueError(f"length must be in {_MIN_LENGTH}..{MAX_BACKUP_CODE_LENGTH}, got {length}")
    codes: list[str] = []
    for _ in range(count * _MAX_DRAWS):
        code = _draw_code(random_bytes, length)
        if code not in codes:
            codes.append(code)
            if len(codes) == count:
                return codes
    raise RuntimeError("random source keeps producing duplicate backup codes")


def normalize_backup_code(code: str) -> str:
    """Canonicalise typed input: lower-case, with whitespace and ``-`` removed."""
    return _SEPARATORS.sub("", code).lower()


def digest_backup_code(keyring: KeyRing, code: str, *, user_id: str) -> str:
    """Return the storable keyed digest of a backup code, bound to its user.

    The digested bytes are ``user_id + b"\\x00" + normalize_backup_code(code)``.
    """
    data = user_id.encode("utf-8") + b"\x00" + normalize_backup_code(code).encode("utf-8")
    return keyring.keyed_digest(data, purpose=_PURPOSE)


def backup_code_matches(keyring: KeyRing, code: str, stored_digest: str, *, user_id: str) -> bool:
    """Check a typed backup code against one stored digest.

    Args:
        keyring: The key ring that made ``h1.`` digests.
        code: What the user typed.
        stored_digest: Either a ``h1.`` keyed digest from :func:`digest_backup_code`, or a
            bcrypt digest imported from Clerk (checked against ``code.strip()``).
        user_id: The owner of the stored digest.

    Returns:
        ``True`` on a match. ``False`` for a mismatch, input longer than 64 characters
        (rejected before any hashing), or an unrecognised digest. Never raises.
    """
    if len(code) > MAX_BACKUP_CODE_LENGTH:
        return False
    try:
        if stored_digest.startswith("h1."):
            data = user_id.encode("utf-8") + b"\x00" + normalize_backup_code(code).encode("utf-8")
            return keyring.verify_keyed_digest(data, stored_digest, purpose=_PURPOSE)
        if is_bcrypt_digest(stored_digest):
            return bool(bcrypt.checkpw(code.strip().encode("utf-8"), stored_digest.encode("ascii")))
    except (ValueError, TypeError):  # includes UnicodeError (lone surrogates) and bcrypt's length limit
        return False
    return False


def bcrypt_cost(digest: str) -> int | None:
    """The cost factor of a well-formed bcrypt digest (``$2b$12$...`` → 12), else ``None``."""
    return int(digest[4:6]) if is_bcrypt_digest(digest) else None


def digests_worth_checking(digests: Sequence[str]) -> list[bool]:
    """Which of a user's stored digests an attempt evaluates, in order.

    Every keyed (``h1.``) digest is checked: that is one HMAC. Of the bcrypt digests, only the
    first :data:`MAX_BCRYPT_DIGESTS` whose cost is at most :data:`MAX_BCRYPT_COST` are; the rest
    are skipped as if they never matched. Imports cannot store more or costlier ones, so this
    drops no valid code; it keeps one attempt within a fixed CPU budget whatever the store holds.
    """
    budget = MAX_BCRYPT_DIGESTS
    chosen: list[bool] = []
    for digest in digests:
        cost = bcrypt_cost(digest)
        affordable = cost is None or (cost <= MAX_BCRYPT_COST and budget > 0)
        if cost is not None and affordable:
            budget -= 1
        chosen.append(affordable)
    return chosen


def is_bcrypt_digest(value: str) -> bool:
    """Tell whether ``value`` is a well-formed bcrypt digest (``$2a$``, ``$2b$`` or ``$2y$``)."""
    return _BCRYPT_DIGEST.fullmatch(value) is not None


def _draw_code(random_bytes: RandomBytes, length: int) -> str:
    """Draw one code of ``length`` characters by rejection sampling, reading bytes in batches."""
    chars: list[str] = []
    for _ in range(_MAX_DRAWS):
        for byte in random_bytes(length * 2):
            if byte < _BYTE_LIMIT:
                chars.append(BACKUP_CODE_ALPHABET[byte % len(BACKUP_CODE_ALPHABET)])
                if len(chars) == length:
                    return "".join(chars)
    raise RuntimeError("random source keeps producing rejected bytes")
