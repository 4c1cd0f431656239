"""RS256 JSON Web Tokens and opaque client tokens, with ``cryptography`` only.

Session tokens are JWTs signed with RSASSA-PKCS1-v1_5 / SHA-256 and
published as a JWKS. Verification is the SDK's (:mod:`totpkit._jwt`), so the
server's guards and ``totpkit.verify_session_token`` run one verifier: it
accepts nothing but ``RS256`` with a known ``kid`` (so ``alg: none`` and
HS256-with-the-public-key forgeries fail) and checks ``exp``, ``nbf``,
``iat`` and optionally ``iss`` and ``azp`` against an injected ``now``. Client
tokens are opaque random strings stored as SHA-256 hashes: they carry 256 bits
of entropy, so a fast hash suffices.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from totpkit import InvalidSessionTokenError
from totpkit._jwt import ALGORITHM, MIN_KEY_SIZE, verify_jwt
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

_KEY_SIZE = MIN_KEY_SIZE
_PUBLIC_EXPONENT = 65537
_MIN_OPAQUE_BYTES = 16

InvalidTokenError = InvalidSessionTokenError
"""A JWT is malformed, forged, signed with an unknown key, expired, not yet valid, or from the wrong
issuer or party (the SDK's :class:`totpkit.InvalidSessionTokenError`; ``reason`` says which)."""


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


def _compact_json(value: Mapping[str, object]) -> bytes:
    """Serialise as compact JSON (non-ASCII escaped)."""
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def _b64url_encode(data: bytes) -> str:
    """Base64url without padding, as text."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_to_bytes(value: int) -> bytes:
    """Big-endian unsigned bytes of a positive integer, without leading zeros."""
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
