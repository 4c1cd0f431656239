"""The one RS256 session-token verifier, shared by the SDK and the server (needs ``cryptography``).

Importing this module imports ``cryptography``; the SDK's public entry points import it lazily, so
a base install (httpx + msgspec) never loads it (see :func:`totpkit._session_tokens.verify_session_token`).

:func:`verify_jwt` accepts nothing but ``RS256`` with a known ``kid`` (so ``alg: none`` and the
HS256-keyed-with-the-public-key forgery fail before any key is touched), rejects ``crit`` headers
and duplicate JSON members, then checks ``exp`` (required), ``nbf`` (optional), ``iat`` (required)
against an injected ``now`` with a leeway, and optionally ``iss`` and ``azp``. Every failure raises
:class:`~totpkit._exceptions.InvalidSessionTokenError` with a ``reason`` from Clerk's backend
vocabulary (``token-expired``, ``token-invalid-signature``, ...).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection, Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from ._exceptions import InvalidSessionTokenError

__all__ = ("ALGORITHM", "MIN_KEY_SIZE", "public_key_from_jwk", "read_header", "verify_jwt")

ALGORITHM = "RS256"
MIN_KEY_SIZE = 2048
"""Smallest RSA modulus, in bits, accepted for signing and verification keys."""

_MAX_TOKEN_LENGTH = 65536
_COMPACT_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")


def read_header(token: str) -> dict[str, Any]:
    """Parse the (unverified) header of a compact JWS and enforce ``alg`` and ``crit``.

    Use it to learn the ``kid`` before the key is at hand; nothing in it is trusted yet.

    Raises:
        InvalidSessionTokenError: ``token-invalid`` if the token is not three base64url parts with a
            JSON-object header or has a ``crit`` header; ``token-invalid-algorithm`` if ``alg`` is
            not exactly ``RS256``.
    """
    header_part, _, _ = _split(token)
    return _checked_header(header_part)


def verify_jwt(
    token: str,
    public_keys: Mapping[str, RSAPublicKey],
    *,
    now: float,
    leeway: float = 5.0,
    issuer: str | None = None,
    authorized_parties: Collection[str] | None = None,
) -> dict[str, Any]:
    """Verify a compact RS256 JWT and return its claims.

    Args:
        token: The compact JWT.
        public_keys: Trusted public keys by ``kid`` (every published key: rotation works by
            publishing the new key beside the old one).
        now: The current Unix time in seconds.
        leeway: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``, in seconds.
        issuer: If given, the required ``iss`` claim.
        authorized_parties: If given, a token that carries ``azp`` must name one of these origins
            (a token without ``azp``, minted for a native client, passes, as in Clerk).

    Returns:
        The claims.

    Raises:
        InvalidSessionTokenError: If the token is malformed; its header ``alg`` is not ``RS256`` or
            it has a ``crit`` header; its ``kid`` is unknown (``jwk-kid-mismatch``); the signature
            does not verify; ``exp`` is missing or ``exp <= now - leeway``; ``nbf > now + leeway``;
            ``iat`` is missing or ``iat > now + leeway``; ``iss`` differs from ``issuer``; or
            ``azp`` is not one of ``authorized_parties``.
    """
    header_part, payload_part, signature_part = _split(token)
    header = _checked_header(header_part)
    kid = header.get("kid")
    public_key = public_keys.get(kid) if isinstance(kid, str) else None
    if public_key is None:
        raise InvalidSessionTokenError(f"unknown key id {_shown(kid)}", reason="jwk-kid-mismatch")
    signature = _decode_part(signature_part, "signature")
    signing_input = f"{header_part}.{payload_part}".encode("ascii")
    try:
        public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        raise InvalidSessionTokenError("bad signature", reason="token-invalid-signature") from None
    claims = _decode_json_part(payload_part, "payload")
    _check_times(claims, now=now, leeway=leeway)
    if issuer is not None and claims.get("iss") != issuer:
        raise InvalidSessionTokenError("issuer mismatch", reason="token-invalid-issuer")
    if authorized_parties is not None:
        _check_authorized_party(claims, authorized_parties)
    return claims


def public_key_from_jwk(jwk: Mapping[str, object]) -> RSAPublicKey:
    """The RSA public key of one JWK that may verify RS256 session tokens.

    Raises:
        ValueError: If ``kty`` is not ``RSA``; ``alg`` (when present) is not ``RS256``; ``use``
            (when present) is not ``sig``; ``kid`` is not a non-empty string; ``n``/``e`` are not
            base64url; or the modulus is shorter than 2048 bits.
    """
    if jwk.get("kty") != "RSA":
        raise ValueError("not an RSA key")
    if jwk.get("alg", ALGORITHM) != ALGORITHM:
        raise ValueError(f"alg {_shown(jwk.get('alg'))} is not {ALGORITHM}")
    if jwk.get("use", "sig") != "sig":
        raise ValueError("not a signature key")
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("kid must be a non-empty string")
    n, e = _jwk_uint(jwk, "n"), _jwk_uint(jwk, "e")
    if n.bit_length() < MIN_KEY_SIZE:
        raise ValueError(f"key {kid!r} is {n.bit_length()} bits; at least {MIN_KEY_SIZE} required")
    return rsa.RSAPublicNumbers(e, n).public_key()


def _jwk_uint(jwk: Mapping[str, object], name: str) -> int:
    value = jwk.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a base64url string")
    try:
        return int.from_bytes(_b64url_decode(value), "big")
    except (binascii.Error, ValueError):
        raise ValueError(f"{name} is not base64url") from None


def _shown(value: object) -> str:
    """A value for an error message, cut short (headers are attacker-controlled)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _split(token: str) -> tuple[str, str, str]:
    """Split a compact JWS into its three base64url parts."""
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_LENGTH:
        raise InvalidSessionTokenError("malformed token", reason="token-invalid")
    match = _COMPACT_JWS.fullmatch(token)
    if match is None:
        raise InvalidSessionTokenError("malformed token: expected three base64url parts", reason="token-invalid")
    return match.group(1), match.group(2), match.group(3)


def _checked_header(header_part: str) -> dict[str, Any]:
    header = _decode_json_part(header_part, "header")
    if header.get("alg") != ALGORITHM:
        raise InvalidSessionTokenError(
            f"unsupported alg {_shown(header.get('alg'))}; only {ALGORITHM} is accepted",
            reason="token-invalid-algorithm",
        )
    if "crit" in header:
        raise InvalidSessionTokenError("critical header extensions are not supported", reason="token-invalid")
    return header


def _b64url_decode(part: str) -> bytes:
    """Strictly decode unpadded base64url (``binascii.Error`` / ``ValueError`` on bad input)."""
    if len(part) % 4 == 1:
        raise ValueError("impossible length")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _decode_part(part: str, what: str) -> bytes:
    try:
        return _b64url_decode(part)
    except (binascii.Error, ValueError):
        raise InvalidSessionTokenError(f"malformed token {what}", reason="token-invalid") from None


def _decode_json_part(part: str, what: str) -> dict[str, Any]:
    """Decode a base64url JSON object, rejecting duplicate member names."""
    try:
        value = json.loads(_decode_part(part, what), object_pairs_hook=_reject_duplicates)
    except (ValueError, RecursionError):
        raise InvalidSessionTokenError(f"malformed token {what}: not a JSON object", reason="token-invalid") from None
    if not isinstance(value, dict):
        raise InvalidSessionTokenError(f"malformed token {what}: not a JSON object", reason="token-invalid")
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
        raise InvalidSessionTokenError("token has expired", reason="token-expired")
    nbf = _numeric_claim(claims, "nbf", required=False)
    if nbf is not None and nbf > now + leeway:
        raise InvalidSessionTokenError("token is not yet valid", reason="token-not-active-yet")
    iat = _numeric_claim(claims, "iat", required=True)
    if iat is not None and iat > now + leeway:
        raise InvalidSessionTokenError("token was issued in the future", reason="token-iat-in-the-future")


def _numeric_claim(claims: Mapping[str, Any], name: str, *, required: bool) -> float | None:
    """Read a NumericDate claim: a finite JSON number (not a boolean), required or optional."""
    value = claims.get(name)
    if value is None:
        if required:
            raise InvalidSessionTokenError(f"missing {name} claim", reason="token-invalid")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidSessionTokenError(f"{name} claim is not a number", reason="token-invalid")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidSessionTokenError(f"{name} claim is out of range", reason="token-invalid") from None
    if not math.isfinite(number):
        raise InvalidSessionTokenError(f"{name} claim is not a finite number", reason="token-invalid")
    return number


def _check_authorized_party(claims: Mapping[str, Any], authorized_parties: Collection[str]) -> None:
    azp = claims.get("azp")
    if azp is None:
        return
    if not isinstance(azp, str) or azp not in authorized_parties:
        raise InvalidSessionTokenError(
            f"azp {_shown(azp)} is not an authorized party", reason="token-invalid-authorized-parties"
        )
