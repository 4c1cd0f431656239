"""RS256 JSON Web Tokens and opaque client tokens, with ``cryptography`` only.

Session tokens are JWTs signed with RSASSA-PKCS1-v1_5 / SHA-256 and
published as a JWKS. Verification accepts nothing but ``RS256`` with a
known ``kid`` (so ``alg: none`` and HS256-with-the-public-key forgeries
fail) and checks ``exp``, ``nbf``, ``iat`` and optionally ``iss`` against
an injected ``now``. Client tokens are opaque random strings stored as
SHA-256 hashes: they carry 256 bits of entropy, so a fast hash suffices.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from totpkit.otp import RandomBytes

__all__ = (
    "ALGORITHM",
    "InvalidTokenError",
    "SigningKey",
    "hash_token",
    "new_opaque_token",
    "sign_jwt",
    "verify_jwt",
)

ALGORITHM = "RS256"
_KEY_SIZE = 2048
_PUBLIC_EXPONENT = 65537
_MIN_OPAQUE_BYTES = 16
_MAX_TOKEN_LENGTH = 65536
_COMPACT_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")


class InvalidTokenError(Exception):
    """A JWT is malformed, forged, signed with an unknown key, expired, not yet valid, or from the wrong issuer."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """An RSA private key with its JWKS key id."""

    kid: str
    private_key: RSAPrivateKey

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        """Generate a 2048-bit RSA key with public exponent 65537 (randomness from the OS via OpenSSL)."""
        return cls(kid, rsa.generate_private_key(public_exponent=_PUBLIC_EXPONENT, key_size=_KEY_SIZE))

    def to_pem(self) -> bytes:
        """Serialise the private key as unencrypted PKCS#8 PEM (store it as a secret)."""
        return self.private_key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, kid: str, pem: bytes) -> SigningKey:
        """Load an unencrypted PEM private key (PKCS#8 or PKCS#1).

        Raises:
            ValueError: If the PEM cannot be parsed, is not RSA, or is shorter than 2048 bits.
        """
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"cannot load signing key {kid!r}: {exc}") from None
        if not isinstance(key, RSAPrivateKey):
            raise ValueError(f"signing key {kid!r} is not an RSA key")
        if key.key_size < _KEY_SIZE:
            raise ValueError(f"signing key {kid!r} is {key.key_size} bits; at least {_KEY_SIZE} required")
        return cls(kid, key)

    def public_jwk(self) -> dict[str, str]:
        """Return the public key as a JWK: ``use``, ``kty``, ``kid``, ``alg``, ``n``, ``e`` (in that order)."""
        numbers = self.private_key.public_key().public_numbers()
        return {
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": ALGORITHM,
            "n": _b64url_encode(_int_to_bytes(numbers.n)),
            "e": _b64url_encode(_int_to_bytes(numbers.e)),
        }


def sign_jwt(claims: Mapping[str, object], key: SigningKey) -> str:
    """Sign claims as a compact RS256 JWT.

    The header is exactly ``{"alg":"RS256","kid":<kid>,"typ":"JWT"}``; header and claims
    are compact JSON (claims in the given order), base64url without padding.

    Args:
        claims: JSON-serialisable claims; time claims in Unix seconds.
        key: The signing key.

    Returns:
        ``<header>.<payload>.<signature>``.

    Raises:
        TypeError: If a claim is not JSON-serialisable.
    """
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}
    signing_input = f"{_b64url_encode(_compact_json(header))}.{_b64url_encode(_compact_json(dict(claims)))}"
    signature = key.private_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url_encode(signature)}"


def verify_jwt(
    token: str,
    public_keys: Mapping[str, RSAPublicKey],
    *,
    now: float,
    leeway: float = 5.0,
    issuer: str | None = None,
) -> dict[str, Any]:
    """Verify a compact RS256 JWT and return its claims.

    Args:
        token: The compact JWT.
        public_keys: Trusted public keys by ``kid``.
        now: The current Unix time in seconds.
        leeway: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``, in seconds.
        issuer: If given, the required ``iss`` claim.

    Returns:
        The claims.

    Raises:
        InvalidTokenError: If the token is malformed; its header ``alg`` is not ``RS256`` or it
            has a ``crit`` header; its ``kid`` is unknown; the signature does not verify; ``exp``
            is missing or ``exp <= now - leeway``; ``nbf > now + leeway``; ``iat`` is missing or
            ``iat > now + leeway``; or ``iss`` differs from ``issuer``.
    """
    header_part, payload_part, signature_part = _split(token)
    header = _decode_json_part(header_part, "header")
    if header.get("alg") != ALGORITHM:
        raise InvalidTokenError(f"unsupported alg {header.get('alg')!r}; only {ALGORITHM} is accepted")
    if "crit" in header:
        raise InvalidTokenError("critical header extensions are not supported")
    kid = header.get("kid")
    public_key = public_keys.get(kid) if isinstance(kid, str) else None
    if public_key is None:
        raise InvalidTokenError(f"unknown key id {kid!r}")
    signature = _decode_part(signature_part, "signature")
    signing_input = f"{header_part}.{payload_part}".encode("ascii")
    try:
        public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise InvalidTokenError("bad signature") from None
    claims = _decode_json_part(payload_part, "payload")
    _check_times(claims, now=now, leeway=leeway)
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidTokenError("issuer mismatch")
    return claims


def new_opaque_token(random_bytes: RandomBytes, *, nbytes: int = 32) -> str:
    """Create an opaque bearer token: ``nbytes`` random bytes, base64url without padding.

    Raises:
        ValueError: If ``nbytes`` is below 16 or ``random_bytes`` returns the wrong length.
    """
    if nbytes < _MIN_OPAQUE_BYTES:
        raise ValueError(f"opaque tokens need at least {_MIN_OPAQUE_BYTES} bytes, got {nbytes}")
    raw = random_bytes(nbytes)
    if len(raw) != nbytes:
        raise ValueError(f"random_bytes returned {len(raw)} bytes, expected {nbytes}")
    return _b64url_encode(raw)


def hash_token(token: str) -> str:
    """Return the SHA-256 hex digest of a token, for storage and lookup.

    Tokens are high-entropy random values, so a fast unsalted hash is appropriate
    (a password hash would add cost without security). Never raises on odd input.
    """
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _split(token: str) -> tuple[str, str, str]:
    """Split a compact JWS into its three base64url parts, or raise InvalidTokenError."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
        raise InvalidTokenError("malformed token")
    match = _COMPACT_JWS.fullmatch(token)
    if match is None:
        raise InvalidTokenError("malformed token: expected three base64url parts")
    return match.group(1), match.group(2), match.group(3)


def _decode_part(part: str, what: str) -> bytes:
    """Strictly decode one unpadded base64url part."""
    try:
        if len(part) % 4 == 1:
            raise ValueError("impossible length")
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError(f"malformed token {what}") from None


def _decode_json_part(part: str, what: str) -> dict[str, Any]:
    """Decode a base64url JSON object, rejecting duplicate member names."""
    try:
        value = json.loads(_decode_part(part, what), object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError):
        raise InvalidTokenError(f"malformed token {what}: not a JSON object") from None
    if not isinstance(value, dict):
        raise InvalidTokenError(f"malformed token {what}: not a JSON object")
    return value


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook: build an object, failing on a repeated member name."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate member {name!r}")
        result[name] = value
    return result


def _check_times(claims: Mapping[str, Any], *, now: float, leeway: float) -> None:
    """Enforce ``exp`` (required), ``nbf`` (optional) and ``iat`` (required)."""
    exp = _numeric_claim(claims, "exp", required=True)
    if exp is not None and exp <= now - leeway:
        raise InvalidTokenError("token has expired")
    nbf = _numeric_claim(claims, "nbf", required=False)
    if nbf is not None and nbf > now + leeway:
        raise InvalidTokenError("token is not yet valid")
    iat = _numeric_claim(claims, "iat", required=True)
    if iat is not None and iat > now + leeway:
        raise InvalidTokenError("token was issued in the future")


def _numeric_claim(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    """Read a NumericDate claim; InvalidTokenError if it is not a finite number or is missing when required."""
    value = claims.get(name)
    if value is None:
        if required:
            raise InvalidTokenError(f"missing {name} claim")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTokenError(f"{name} claim is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidTokenError(f"{name} claim is out of range") from None
    if not math.isfinite(number):
        raise InvalidTokenError(f"{name} claim is not a finite number")
    return number


def _compact_json(value: Mapping[str, object]) -> bytes:
    """Serialise as compact JSON (non-ASCII escaped)."""
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def _b64url_encode(data: bytes) -> str:
    """Base64url without padding, as text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_to_bytes(value: int) -> bytes:
    """Big-endian unsigned bytes of a positive integer, without leading zeros."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
