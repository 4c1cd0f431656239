"""Server-side TOTP: secret generation, code verification and otpauth URIs.

Code computation lives in the SDK (:mod:`totpkit.otp`) so that client and
server agree by construction; this module adds what only the server needs.
Verification compares every candidate in the window in constant time and
reports *which* time step matched, so callers can enforce single use
(replay protection) with an atomic compare-and-set on the stored step.
"""

from __future__ import annotations

import base64
import hmac
import re
import urllib.parse

from totpkit.otp import ALGORITHMS, InvalidSecretError, RandomBytes, decode_secret, hotp, time_step

__all__ = (
    "MAX_WINDOW",
    "find_matching_step",
    "generate_secret",
    "is_valid_import_secret",
    "otpauth_uri",
)

MAX_WINDOW = 2
"""The largest accepted verification window, in steps either side of the current one."""

_MIN_SECRET_BYTES = 10


def generate_secret(random_bytes: RandomBytes, *, length: int = 20) -> str:
    """Generate a new TOTP secret.

    Args:
        random_bytes: Source of randomness (``os.urandom`` in production).
        length: Number of random bytes, at least 10; 20 (160 bits) is the RFC 4226 recommendation.

    Returns:
        The secret as unpadded upper-case base32 (32 characters for 20 bytes).

    Raises:
        ValueError: If ``length`` is below 10 or ``random_bytes`` returns the wrong number of bytes.
    """
    if length < _MIN_SECRET_BYTES:
        raise ValueError(f"secret length must be at least {_MIN_SECRET_BYTES} bytes, got {length}")
    raw = random_bytes(length)
    if len(raw) != length:
        raise ValueError(f"random_bytes returned {len(raw)} bytes, expected {length}")
    return base64.b32encode(raw).decode("ascii").rstrip("=")


def find_matching_step(
    secret: str,
    code: str,
    *,
    at: float,
    period: int = 30,
    digits: int = 6,
    algorithm: str = "SHA1",
    window: int = 1,
) -> int | None:
    """Find the time step whose TOTP code equals ``code``.

    The candidates are the steps ``step - window .. step + window`` around the
    step containing ``at`` (steps below zero are skipped). Every candidate is
    computed and compared with :func:`hmac.compare_digest`; there is no early
    exit on a match, so the timing does not reveal which step matched.

    Args:
        secret: The base32 secret.
        code: The code the user typed; surrounding whitespace is ignored. Anything that
            is not exactly ``digits`` ASCII digits never matches.
        at: The verification instant, Unix seconds.
        period: Step length in seconds.
        digits: Expected code length.
        algorithm: HMAC hash name.
        window: Tolerated clock drift in steps, 0 to 2.

    Returns:
        The matching step (the highest, should several match), or ``None``.

    Raises:
        ValueError: If ``window`` is outside 0..2, or period, digits or algorithm are invalid.
        InvalidSecretError: If the stored secret cannot be decoded.
    """
    if not 0 <= window <= MAX_WINDOW:
        raise ValueError(f"window must be in 0..{MAX_WINDOW}, got {window}")
    key = decode_secret(secret)
    current = time_step(at, period)
    candidates = [
        (step, hotp(key, step, digits=digits, algorithm=algorithm).encode("ascii"))
        for step in range(max(0, current - window), current + window + 1)
    ]
    typed = code.strip()
    if re.fullmatch(f"[0-9]{{{digits}}}", typed) is None:
        return None
    typed_bytes = typed.encode("ascii")
    matched: int | None = None
    for step, expected in candidates:
        if hmac.compare_digest(expected, typed_bytes):
            matched = step
    return matched


def otpauth_uri(
    secret: str,
    *,
    issuer: str,
    account: str,
    digits: int = 6,
    period: int = 30,
    algorithm: str = "SHA1",
) -> str:
    """Build the ``otpauth://`` provisioning URI in exactly Clerk's format.

    The label is ``quote(issuer):quote(account)`` (``@`` kept literal) and the
    query parameters are sorted alphabetically and form-encoded (spaces become
    ``+``), for example::

        otpauth://totp/Cyberdyne%20%28development%29:vin@diesel.family?algorithm=SHA1&digits=6&issuer=Cyberdyne+%28development%29&period=30&secret=BANANA

    An empty ``issuer`` yields a label of just the account and no ``issuer`` parameter.
    The secret is emitted as given (it is not validated here).

    Args:
        secret: The base32 secret.
        issuer: The application name shown by authenticator apps.
        account: The user's account label, typically the e-mail address.
        digits: Code length.
        period: Step length in seconds.
        algorithm: HMAC hash name; emitted upper-case.

    Returns:
        The URI.

    Raises:
        ValueError: If ``algorithm`` is unsupported.
    """
    algorithm_name = algorithm.upper()
    if algorithm_name not in ALGORITHMS:
        raise ValueError(f"unsupported OTP algorithm {algorithm!r}")
    label = urllib.parse.quote(account, safe="@")
    params = {"algorithm": algorithm_name, "digits": str(digits), "period": str(period), "secret": secret}
    if issuer:
        label = urllib.parse.quote(issuer, safe="@") + ":" + label
        params["issuer"] = issuer
    query = urllib.parse.urlencode(sorted(params.items()))
    return f"otpauth://totp/{label}?{query}"


def is_valid_import_secret(secret: str) -> bool:
    """Tell whether an imported secret (Clerk BAPI ``totp_secret``) is usable.

    Args:
        secret: The base32 text supplied by the importer.

    Returns:
        ``True`` if it decodes as base32 to at least 10 bytes, else ``False``. Never raises.
    """
    try:
        decode_secret(secret)
    except InvalidSecretError:
        return False
    return True
