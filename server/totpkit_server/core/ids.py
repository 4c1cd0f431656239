"""Resource identifiers in Clerk's style: ``<prefix>_<27 base62 characters>``.

Production uses :func:`random_id_factory`; tests use
:func:`sequential_id_factory` for predictable ids.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Callable, Iterator

from totpkit.otp import RandomBytes

__all__ = ("BASE62_ALPHABET", "ID_BODY_LENGTH", "IdFactory", "random_id_factory", "sequential_id_factory")

IdFactory = Callable[[str], str]
"""Makes a new id from a prefix such as ``"user"``."""

ID_BODY_LENGTH = 27
"""Characters after ``<prefix>_``."""

BASE62_ALPHABET = string.digits + string.ascii_uppercase + string.ascii_lowercase
_BYTE_LIMIT = 256 - 256 % len(BASE62_ALPHABET)  # 248: higher bytes would bias the modulo
_PREFIX = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MAX_DRAWS = 64


def random_id_factory(random_bytes: RandomBytes) -> IdFactory:
    """Return a factory of random ids ``f"{prefix}_" + 27 base62 characters``.

    Characters are drawn by rejection sampling, so each is uniform over
    ``0-9A-Za-z`` (about 160 bits per id).

    Args:
        random_bytes: Source of randomness (``os.urandom`` in production).

    Returns:
        The factory. It raises ValueError for a prefix that is not 1-32 characters of
        ``[a-z0-9_]`` starting with a letter, and RuntimeError if the random source is degenerate.
    """

    def new_id(prefix: str) -> str:
        _check_prefix(prefix)
        chars: list[str] = []
        for _ in range(_MAX_DRAWS):
            for byte in random_bytes(ID_BODY_LENGTH * 2):
                if byte < _BYTE_LIMIT:
                    chars.append(BASE62_ALPHABET[byte % len(BASE62_ALPHABET)])
                    if len(chars) == ID_BODY_LENGTH:
                        return f"{prefix}_{''.join(chars)}"
        raise RuntimeError("random source keeps producing rejected bytes")

    return new_id


def sequential_id_factory() -> IdFactory:
    """Return a deterministic factory for tests: ``user_000…001``, ``user_000…002``, …

    Each prefix has its own counter starting at 1, zero-padded to 27 digits. The same
    prefix rules as :func:`random_id_factory` apply.
    """
    counters: dict[str, Iterator[int]] = {}

    def new_id(prefix: str) -> str:
        _check_prefix(prefix)
        counter = counters.setdefault(prefix, itertools.count(1))
        return f"{prefix}_{str(next(counter)).zfill(ID_BODY_LENGTH)}"

    return new_id


def _check_prefix(prefix: str) -> None:
    """Reject prefixes that would make ambiguous or odd-looking ids."""
    if _PREFIX.fullmatch(prefix) is None:
        raise ValueError(f"invalid id prefix {prefix!r}: expected 1-32 characters of [a-z0-9_] starting with a letter")
