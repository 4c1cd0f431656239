"""The fake's fixed RSA test key and a pure-Python RS256 (RSASSA-PKCS1-v1_5 over SHA-256) signer.

The key is for tests only: never use it for anything real. Only the primes are stored; everything
else is derived. No third-party crypto library is needed.
"""

from __future__ import annotations

import base64
import hashlib
import json

from ..types import JWK

__all__ = ("KEY_ID", "b64url", "public_jwk", "sign_jwt")

_P = int(
    "ded7541f88b6ab0a0ae30271339a492b328027a50fb1d3e6aa9bca971b26d3676508c2804bc373f8fabfe12b78e72f72"
    "29b36b5735320070f3d1731408bdc3a852070ebeb487f1787f9c94dfeb80d9765034d0979c170d5302baef85050461cb"
    "a4a7b1a2c354ea91dd2303b9a6a97d520c06bcb52f8bc341a68d6781df5c3cdf",
    16,
)
_Q = int(
    "bbe89a1c3ee6080979fc8b8c46436a995f04a661fa27d6e00becd5de199c45390e217b8f6532cfd584b89729a3697cad"
    "b38ed54ae41acab9ae5d823bc5ac50767227075fad9497af29c9c9794607e25fc9c5ee75c36704a884b7343d71155126"
    "b0f5e39e5755403bc77ff073130326603fb5e7858185c1008ad4e7c9c092fb01",
    16,
)
_N = _P * _Q
_E = 65537
_D = pow(_E, -1, (_P - 1) * (_Q - 1))
_DP, _DQ, _Q_INV = _D % (_P - 1), _D % (_Q - 1), pow(_Q, -1, _P)
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

KEY_ID = "ins_2TotpkitFakeSigningKey00001"
"""The ``kid`` of the fake's signing key."""


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _rs256(signing_input: bytes) -> bytes:
    """Sign with RSASSA-PKCS1-v1_5 over SHA-256 (RFC 8017 §8.2)."""
    size = (_N.bit_length() + 7) // 8
    digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(signing_input).digest()
    padded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    message = int.from_bytes(padded, "big")
    m1, m2 = pow(message, _DP, _P), pow(message, _DQ, _Q)  # CRT: about 3x faster than pow(message, _D, _N)
    return (m2 + _Q * ((_Q_INV * (m1 - m2)) % _P)).to_bytes(size, "big")


def public_jwk() -> JWK:
    """The public half of the key, as published at ``/.well-known/jwks.json``."""
    return JWK(use="sig", kty="RSA", kid=KEY_ID, alg="RS256", n=b64url(_int_bytes(_N)), e=b64url(_int_bytes(_E)))


def sign_jwt(claims: dict[str, object]) -> str:
    """A compact RS256 JWT of ``claims``, signed with the fake's key."""
    header = {"alg": "RS256", "kid": KEY_ID, "typ": "JWT"}
    signing_input = f"{b64url(_json_bytes(header))}.{b64url(_json_bytes(claims))}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64url(_rs256(signing_input))}"
