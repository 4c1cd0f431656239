"""Tests for RS256 JWT signing and verification, JWKs and opaque client tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from totpkit_server.core.tokens import (
    InvalidTokenError,
    SigningKey,
    hash_token,
    new_opaque_token,
    sign_jwt,
    verify_jwt,
)
from totpkit_server.testing import seeded_random

NOW = 1_700_000_000.0
ISSUER = "https://clerk.example.test"


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(value: object) -> str:
    """Base64url of compact JSON."""
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(**overrides: object) -> dict[str, object]:
    """Valid session claims at NOW, with overrides (None removes a claim)."""
    base: dict[str, object] = {
        "azp": "http://localhost:3000",
        "exp": NOW + 60,
        "iat": NOW,
        "iss": ISSUER,
        "nbf": NOW - 10,
        "sid": "sess_1",
        "sub": "user_1",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def rs256(header: dict[str, object], payload: dict[str, object], key: SigningKey) -> str:
    """Sign an arbitrary header and payload with RS256 (for forging odd headers)."""
    signing_input = f"{compact(header)}.{compact(payload)}"
    signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    """The trusted signing key."""
    return SigningKey.generate("ins_1")


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    """An untrusted key that claims the same kid."""
    return SigningKey.generate("ins_1")


@pytest.fixture(scope="module")
def keys(key: SigningKey) -> dict[str, RSAPublicKey]:
    """The trusted public keys by kid."""
    return {key.kid: key.private_key.public_key()}


class TestSigningKey:
    """SigningKey generation, PEM round trip and JWK export."""

    def test_generated_key(self, key: SigningKey) -> None:
        """Generated keys are 2048-bit RSA with e = 65537."""
        assert key.private_key.key_size == 2048
        assert key.private_key.public_key().public_numbers().e == 65537

    def test_pem_round_trip(self, key: SigningKey) -> None:
        """from_pem(to_pem()) yields the same key."""
        pem = key.to_pem()
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
        loaded = SigningKey.from_pem("ins_1", pem)
        assert loaded.kid == "ins_1"
        assert loaded.public_jwk() == key.public_jwk()

    def test_from_pem_rejects_garbage(self) -> None:
        """Unparseable PEM raises ValueError."""
        with pytest.raises(ValueError, match="cannot load"):
            SigningKey.from_pem("k", b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")

    def test_from_pem_rejects_non_rsa(self) -> None:
        """An EC key is refused."""
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        with pytest.raises(ValueError, match="not an RSA key"):
            SigningKey.from_pem("k", pem)

    def test_from_pem_rejects_small_rsa(self) -> None:
        """RSA keys under 2048 bits are refused."""
        pem = rsa.generate_private_key(65537, 1024).private_bytes(  # noqa: S505 - deliberately weak
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
        with pytest.raises(ValueError, match="1024 bits"):
            SigningKey.from_pem("k", pem)

    def test_public_jwk(self, key: SigningKey) -> None:
        """The JWK has Clerk's member order, AQAB exponent and the unpadded modulus."""
        jwk = key.public_jwk()
        assert list(jwk) == ["use", "kty", "kid", "alg", "n", "e"]
        assert {k: jwk[k] for k in ("use", "kty", "kid", "alg", "e")} == {
            "use": "sig",
            "kty": "RSA",
            "kid": "ins_1",
            "alg": "RS256",
            "e": "AQAB",
        }
        n = int.from_bytes(b64url_decode(jwk["n"]), "big")
        assert n == key.private_key.public_key().public_numbers().n
        assert len(b64url_decode(jwk["n"])) == 256
        assert "=" not in jwk["n"]

    def test_frozen(self, key: SigningKey) -> None:
        """SigningKey is immutable."""
        with pytest.raises(AttributeError):
            key.kid = "other"  # type: ignore[misc]


class TestSignJwt:
    """sign_jwt emits Clerk-shaped compact RS256 tokens."""

    def test_exact_header_and_payload_bytes(self, key: SigningKey) -> None:
        """Header and payload are compact JSON in the given order, base64url without padding."""
        token = sign_jwt({"sub": "user_1", "iat": 1, "exp": 2}, key)
        header, payload, _signature = token.split(".")
        assert b64url_decode(header) == b'{"alg":"RS256","kid":"ins_1","typ":"JWT"}'
        assert b64url_decode(payload) == b'{"sub":"user_1","iat":1,"exp":2}'
        assert "=" not in token

    def test_signature_is_pkcs1v15_sha256(self, key: SigningKey) -> None:
        """The signature verifies independently with RSASSA-PKCS1-v1_5 / SHA-256."""
        token = sign_jwt(claims(), key)
        signing_input, _, signature = token.rpartition(".")
        key.private_key.public_key().verify(
            b64url_decode(signature), signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )

    def test_round_trip(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """A freshly signed token verifies and returns its claims."""
        assert verify_jwt(sign_jwt(claims(), key), keys, now=NOW, issuer=ISSUER) == claims()

    def test_unserialisable_claim(self, key: SigningKey) -> None:
        """Claims that are not JSON-serialisable raise TypeError."""
        with pytest.raises(TypeError):
            sign_jwt({"x": object()}, key)


class TestVerifyJwtForgeries:
    """verify_jwt rejects every forged or altered token."""

    def test_alg_none_without_signature(self, keys: dict[str, RSAPublicKey]) -> None:
        """An unsigned alg=none token is rejected."""
        token = f"{compact({'alg': 'none', 'kid': 'ins_1', 'typ': 'JWT'})}.{compact(claims())}."
        with pytest.raises(InvalidTokenError):
            verify_jwt(token, keys, now=NOW)

    @pytest.mark.parametrize("alg", ["none", "None", "NONE", "rs256", "RS512", "PS256", "ES256", None])
    def test_other_algs_with_valid_signature(self, key: SigningKey, keys: dict[str, RSAPublicKey], alg: object) -> None:
        """Any alg other than exactly RS256 is rejected even when the RS256 signature is valid."""
        token = rs256({"alg": alg, "kid": "ins_1", "typ": "JWT"}, claims(), key)
        with pytest.raises(InvalidTokenError, match="unsupported alg"):
            verify_jwt(token, keys, now=NOW)

    def test_hs256_with_public_key_as_secret(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """The classic key-confusion forgery (HS256 keyed with the public PEM) is rejected."""
        public_pem = key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = f"{compact({'alg': 'HS256', 'kid': 'ins_1', 'typ': 'JWT'})}.{compact(claims())}"
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidTokenError, match="unsupported alg"):
            verify_jwt(f"{signing_input}.{b64url(signature)}", keys, now=NOW)

    def test_hs256_header_relabelled_rs256(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """An HMAC signature under an RS256 header fails signature verification."""
        public_pem = key.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = f"{compact({'alg': 'RS256', 'kid': 'ins_1', 'typ': 'JWT'})}.{compact(claims())}"
        signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidTokenError, match="bad signature"):
            verify_jwt(f"{signing_input}.{b64url(signature)}", keys, now=NOW)

    def test_wrong_key_same_kid(self, other_key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """A token signed by an untrusted key that reuses the kid is rejected."""
        with pytest.raises(InvalidTokenError, match="bad signature"):
            verify_jwt(sign_jwt(claims(), other_key), keys, now=NOW)

    def test_unknown_kid(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """A kid not in the key set is rejected."""
        unknown = SigningKey(kid="ins_2", private_key=key.private_key)
        with pytest.raises(InvalidTokenError, match="unknown key id"):
            verify_jwt(sign_jwt(claims(), unknown), keys, now=NOW)

    @pytest.mark.parametrize("kid", [None, 1, ["ins_1"]])
    def test_missing_or_non_string_kid(self, key: SigningKey, keys: dict[str, RSAPublicKey], kid: object) -> None:
        """A missing or non-string kid is rejected."""
        header: dict[str, object] = {"alg": "RS256", "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
        with pytest.raises(InvalidTokenError, match="unknown key id"):
            verify_jwt(rs256(header, claims(), key), keys, now=NOW)

    def test_tampered_payload(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """Swapping in a different payload invalidates the signature."""
        header, _, signature = sign_jwt(claims(), key).split(".")
        forged = f"{header}.{compact(claims(sub='user_admin'))}.{signature}"
        with pytest.raises(InvalidTokenError, match="bad signature"):
            verify_jwt(forged, keys, now=NOW)

    def test_tampered_header(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """Re-encoding the header (even equivalently) invalidates the signature."""
        _, payload, signature = sign_jwt(claims(), key).split(".")
        header = compact({"typ": "JWT", "alg": "RS256", "kid": "ins_1"})
        with pytest.raises(InvalidTokenError, match="bad signature"):
            verify_jwt(f"{header}.{payload}.{signature}", keys, now=NOW)

    def test_tampered_signature(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """Altered or truncated signatures are rejected."""
        token = sign_jwt(claims(), key)
        head, _, signature = token.rpartition(".")
        raw = bytearray(b64url_decode(signature))
        raw[0] ^= 1
        for bad in (b64url(bytes(raw)), b64url(bytes(raw[:-1])), "AAAA"):
            with pytest.raises(InvalidTokenError, match="bad signature"):
                verify_jwt(f"{head}.{bad}", keys, now=NOW)

    def test_crit_header(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """Critical header extensions are refused."""
        token = rs256({"alg": "RS256", "kid": "ins_1", "crit": ["exp"]}, claims(), key)
        with pytest.raises(InvalidTokenError, match="critical"):
            verify_jwt(token, keys, now=NOW)

    def test_duplicate_claims(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """A payload with a repeated member name is rejected as malformed."""
        header = compact({"alg": "RS256", "kid": "ins_1", "typ": "JWT"})
        payload = b64url(b'{"sub":"user_1","iat":1700000000,"exp":1700000060,"sub":"user_admin"}')
        signature = key.private_key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        with pytest.raises(InvalidTokenError, match="malformed"):
            verify_jwt(f"{header}.{payload}.{b64url(signature)}", keys, now=NOW)

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "abc",
            "a.b",
            "a.b.c.d",
            "a..c",
            "a.b.c",
            "eyJ.eyJ.sig",
            "eyJhbGciOiJSUzI1NiJ9.eyJ9.AAAA",
            "e30.e30.AAAA=",
            "e30 .e30.AAAA",
            "éé.e30.AAAA",
            "x" * 70000,
            f"{b64url(b'[1]')}.e30.AAAA",
            f"{b64url(b'null')}.e30.AAAA",
        ],
    )
    def test_malformed(self, keys: dict[str, RSAPublicKey], token: str) -> None:
        """Structurally invalid tokens raise InvalidTokenError and nothing else."""
        with pytest.raises(InvalidTokenError):
            verify_jwt(token, keys, now=NOW)

    def test_payload_not_object(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """A correctly signed non-object payload is rejected."""
        header = compact({"alg": "RS256", "kid": "ins_1", "typ": "JWT"})
        payload = b64url(b"[1,2]")
        signature = key.private_key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
        with pytest.raises(InvalidTokenError, match="not a JSON object"):
            verify_jwt(f"{header}.{payload}.{b64url(signature)}", keys, now=NOW)


class TestVerifyJwtClaims:
    """verify_jwt enforces exp, nbf, iat and iss against the injected time."""

    def test_expired(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """exp <= now - leeway is rejected; just inside the leeway is accepted."""
        token = sign_jwt(claims(exp=NOW - 5), key)
        with pytest.raises(InvalidTokenError, match="expired"):
            verify_jwt(token, keys, now=NOW)
        assert verify_jwt(sign_jwt(claims(exp=NOW - 4.9), key), keys, now=NOW)["sub"] == "user_1"
        with pytest.raises(InvalidTokenError, match="expired"):
            verify_jwt(sign_jwt(claims(exp=NOW), key), keys, now=NOW, leeway=0)

    def test_not_yet_valid(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """nbf > now + leeway is rejected; nbf == now + leeway is accepted."""
        with pytest.raises(InvalidTokenError, match="not yet valid"):
            verify_jwt(sign_jwt(claims(nbf=NOW + 5.1), key), keys, now=NOW)
        assert verify_jwt(sign_jwt(claims(nbf=NOW + 5), key), keys, now=NOW)["sub"] == "user_1"

    def test_nbf_optional(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """A token without nbf is accepted."""
        assert "nbf" not in verify_jwt(sign_jwt(claims(nbf=None), key), keys, now=NOW)

    @pytest.mark.parametrize("name", ["iat", "exp"])
    def test_required_claims(self, key: SigningKey, keys: dict[str, RSAPublicKey], name: str) -> None:
        """Tokens without iat or exp are rejected."""
        with pytest.raises(InvalidTokenError, match=f"missing {name}"):
            verify_jwt(sign_jwt(claims(**{name: None}), key), keys, now=NOW)

    def test_issued_in_future(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """iat beyond now + leeway is rejected."""
        with pytest.raises(InvalidTokenError, match="future"):
            verify_jwt(sign_jwt(claims(iat=NOW + 30, nbf=None), key), keys, now=NOW)

    @pytest.mark.parametrize("value", ["1700000060", True, [1], {"a": 1}, 10**400])
    def test_non_numeric_times(self, key: SigningKey, keys: dict[str, RSAPublicKey], value: object) -> None:
        """Time claims must be finite JSON numbers (booleans and strings are not)."""
        with pytest.raises(InvalidTokenError, match="exp claim"):
            verify_jwt(sign_jwt(claims(exp=value), key), keys, now=NOW)

    def test_infinite_exp(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """An 'Infinity' exp (accepted by Python's json) is rejected."""
        with pytest.raises(InvalidTokenError, match="exp claim"):
            verify_jwt(sign_jwt(claims(exp=float("inf")), key), keys, now=NOW)

    def test_issuer(self, key: SigningKey, keys: dict[str, RSAPublicKey]) -> None:
        """When an issuer is required, a different or missing iss is rejected."""
        with pytest.raises(InvalidTokenError, match="issuer"):
            verify_jwt(sign_jwt(claims(iss="https://evil.test"), key), keys, now=NOW, issuer=ISSUER)
        with pytest.raises(InvalidTokenError, match="issuer"):
            verify_jwt(sign_jwt(claims(iss=None), key), keys, now=NOW, issuer=ISSUER)
        assert verify_jwt(sign_jwt(claims(iss="https://evil.test"), key), keys, now=NOW)["iss"] == "https://evil.test"

    def test_key_rotation(self, key: SigningKey, other_key: SigningKey) -> None:
        """Tokens verify with whichever published key their kid names."""
        second = SigningKey(kid="ins_2", private_key=other_key.private_key)
        published = {k.kid: k.private_key.public_key() for k in (key, second)}
        assert verify_jwt(sign_jwt(claims(), key), published, now=NOW)["sub"] == "user_1"
        assert verify_jwt(sign_jwt(claims(), second), published, now=NOW)["sub"] == "user_1"


class TestOpaqueTokens:
    """Opaque client tokens are random base64url strings stored as SHA-256 hex."""

    def test_new_opaque_token(self) -> None:
        """32 injected random bytes become 43 unpadded base64url characters."""
        token = new_opaque_token(seeded_random())
        assert len(token) == 43
        assert b64url_decode(token) == seeded_random()(32)
        assert token == new_opaque_token(seeded_random())
        assert token != new_opaque_token(seeded_random(b"other"))

    def test_custom_size(self) -> None:
        """nbytes controls the entropy."""
        assert len(b64url_decode(new_opaque_token(seeded_random(), nbytes=48))) == 48

    def test_too_small(self) -> None:
        """Fewer than 16 bytes raises ValueError."""
        with pytest.raises(ValueError, match="at least 16"):
            new_opaque_token(seeded_random(), nbytes=15)

    def test_short_random_source(self) -> None:
        """A random source returning too few bytes raises ValueError."""
        with pytest.raises(ValueError, match="random_bytes"):
            new_opaque_token(lambda n: bytes(n - 1))

    def test_hash_token(self) -> None:
        """hash_token is the SHA-256 hex digest of the UTF-8 token."""
        assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()
        assert len(hash_token("x")) == 64
        assert hash_token("a") != hash_token("b")

    def test_hash_token_odd_input(self) -> None:
        """Lone surrogates hash without raising."""
        assert len(hash_token("\ud800")) == 64
