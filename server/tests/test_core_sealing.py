"""Tests for AES-256-GCM sealing, keyed digests and key-ring rotation and serialisation."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from totpkit_server.core.sealing import KeyRing, SealingError
from totpkit_server.testing import seeded_random

CONTEXT = b"user_1"


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def ring() -> KeyRing:
    """A key ring with one deterministic key."""
    return KeyRing({"k1": bytes(range(32))}, "k1")


class TestKeyRingConstruction:
    """The constructor and generate() validate ids and key sizes."""

    def test_properties(self) -> None:
        """active_key_id and key_ids reflect the constructor arguments."""
        ring = KeyRing({"a": bytes(32), "b-2_X": bytes(32)}, "b-2_X")
        assert ring.active_key_id == "b-2_X"
        assert ring.key_ids == ("a", "b-2_X")

    @pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
    def test_wrong_key_size(self, size: int) -> None:
        """Keys that are not exactly 32 bytes raise ValueError."""
        with pytest.raises(ValueError, match="32 bytes"):
            KeyRing({"k": bytes(size)}, "k")

    @pytest.mark.parametrize("key_id", ["", "a.b", "a b", "k/1", "é", "x" * 65])
    def test_bad_key_id(self, key_id: str) -> None:
        """Key ids outside ^[A-Za-z0-9_-]{1,64}$ raise ValueError."""
        with pytest.raises(ValueError, match="key id"):
            KeyRing({key_id: bytes(32)}, key_id)

    def test_active_must_exist(self) -> None:
        """An active key id that is not in the ring raises ValueError."""
        with pytest.raises(ValueError, match="not in the key ring"):
            KeyRing({"a": bytes(32)}, "b")

    def test_empty_ring(self) -> None:
        """A ring without keys is rejected."""
        with pytest.raises(ValueError, match="not in the key ring"):
            KeyRing({}, "a")

    def test_generate_default_id(self) -> None:
        """generate() names the key "k_" plus 12 hex characters taken from the random source."""
        ring = KeyRing.generate(seeded_random())
        assert ring.active_key_id == "k_" + seeded_random()(6).hex()
        assert ring.key_ids == (ring.active_key_id,)

    def test_generate_explicit_id(self) -> None:
        """An explicit key id is used as given and still validated."""
        assert KeyRing.generate(seeded_random(), key_id="prod-2024").active_key_id == "prod-2024"
        with pytest.raises(ValueError, match="key id"):
            KeyRing.generate(seeded_random(), key_id="bad.id")

    def test_repr_hides_keys(self) -> None:
        """repr() lists key ids but never key material."""
        key = b"\xaa" * 32
        text = repr(KeyRing({"k1": key}, "k1"))
        assert "k1" in text
        assert key.hex() not in text
        assert base64.b64encode(key).decode() not in text

    def test_input_mapping_is_copied(self) -> None:
        """Mutating the mapping passed in does not change the ring."""
        keys = {"k1": bytes(32)}
        ring = KeyRing(keys, "k1")
        keys["k2"] = bytes(32)
        assert ring.key_ids == ("k1",)


class TestSealUnseal:
    """seal() and unseal() round-trip and detect every kind of tampering."""

    @pytest.mark.parametrize("plaintext", [b"", b"JBSWY3DPEHPK3PXP", bytes(range(256)) * 4])
    def test_round_trip(self, ring: KeyRing, plaintext: bytes) -> None:
        """Any plaintext, including empty, comes back unchanged."""
        sealed = ring.seal(plaintext, context=CONTEXT, random_bytes=seeded_random())
        assert ring.unseal(sealed, context=CONTEXT) == plaintext

    def test_format(self, ring: KeyRing) -> None:
        """The output is v1.<kid>.<base64url(nonce + ciphertext + tag)> with the injected nonce."""
        nonce = seeded_random()(12)
        sealed = ring.seal(b"secret", context=CONTEXT, random_bytes=seeded_random())
        version, key_id, payload = sealed.split(".")
        assert (version, key_id) == ("v1", "k1")
        assert "=" not in payload
        raw = b64url_decode(payload)
        assert raw[:12] == nonce
        assert len(raw) == 12 + len(b"secret") + 16

    def test_aad_layout(self, ring: KeyRing) -> None:
        """The associated data is b"totpkit/v1|" + key id + b"|" + context."""
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        sealed = ring.seal(b"secret", context=CONTEXT, random_bytes=seeded_random())
        raw = b64url_decode(sealed.split(".")[2])
        assert AESGCM(bytes(range(32))).decrypt(raw[:12], raw[12:], b"totpkit/v1|k1|" + CONTEXT) == b"secret"

    def test_fresh_nonce_per_seal(self, ring: KeyRing) -> None:
        """Two seals with a random source differ."""
        random_bytes = seeded_random()
        assert ring.seal(b"x", context=CONTEXT, random_bytes=random_bytes) != ring.seal(
            b"x", context=CONTEXT, random_bytes=random_bytes
        )

    def test_wrong_context(self, ring: KeyRing) -> None:
        """A value sealed for one user does not open for another."""
        sealed = ring.seal(b"secret", context=b"user_1", random_bytes=seeded_random())
        with pytest.raises(SealingError, match="authentication"):
            ring.unseal(sealed, context=b"user_2")

    def test_tampered_ciphertext(self, ring: KeyRing) -> None:
        """Flipping any byte of nonce, ciphertext or tag is detected."""
        sealed = ring.seal(b"secret", context=CONTEXT, random_bytes=seeded_random())
        raw = b64url_decode(sealed.split(".")[2])
        for index in range(len(raw)):
            tampered = bytearray(raw)
            tampered[index] ^= 0x01
            with pytest.raises(SealingError):
                ring.unseal(f"v1.k1.{b64url(bytes(tampered))}", context=CONTEXT)

    def test_truncated(self, ring: KeyRing) -> None:
        """A payload shorter than nonce plus tag is rejected."""
        with pytest.raises(SealingError, match="too short"):
            ring.unseal(f"v1.k1.{b64url(bytes(27))}", context=CONTEXT)

    def test_key_id_swap(self) -> None:
        """Relabelling a sealed value with another key id fails even if that key is identical."""
        ring = KeyRing({"a": bytes(32), "b": bytes(32)}, "a")
        sealed = ring.seal(b"secret", context=CONTEXT, random_bytes=seeded_random())
        with pytest.raises(SealingError):
            ring.unseal(sealed.replace("v1.a.", "v1.b.", 1), context=CONTEXT)

    def test_unknown_key_id(self, ring: KeyRing) -> None:
        """A value sealed under a key the ring lacks raises SealingError."""
        other = KeyRing({"zz": bytes(32)}, "zz")
        sealed = other.seal(b"secret", context=CONTEXT, random_bytes=seeded_random())
        with pytest.raises(SealingError, match="unknown key id"):
            ring.unseal(sealed, context=CONTEXT)

    def test_wrong_key_same_id(self, ring: KeyRing) -> None:
        """A value sealed under a different key with the same id fails authentication."""
        other = KeyRing({"k1": b"\x01" * 32}, "k1")
        sealed = other.seal(b"secret", context=CONTEXT, random_bytes=seeded_random())
        with pytest.raises(SealingError):
            ring.unseal(sealed, context=CONTEXT)

    @pytest.mark.parametrize(
        "sealed",
        [
            "",
            "v1",
            "v1.k1",
            "v1.k1.",
            "v2.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "v1..AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "v1.k1.AAAA.AAAA",
            "v1.k1.AAAAA",  # impossible base64 length
            "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
            "v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAé",
            " v1.k1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ],
    )
    def test_malformed(self, ring: KeyRing, sealed: str) -> None:
        """Malformed input raises SealingError and never another exception type."""
        with pytest.raises(SealingError):
            ring.unseal(sealed, context=CONTEXT)

    def test_non_canonical_base64_rejected(self, ring: KeyRing) -> None:
        """Changing the unused low bits of the last base64 character is rejected, not ignored."""
        sealed = ring.seal(b"secret", context=CONTEXT, random_bytes=seeded_random())
        payload = sealed.split(".")[2]
        assert len(payload) % 4 != 0
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        last = alphabet.index(payload[-1])
        sibling = alphabet[last ^ 1]
        with pytest.raises(SealingError):
            ring.unseal(sealed[:-1] + sibling, context=CONTEXT)

    def test_short_nonce_source(self, ring: KeyRing) -> None:
        """A random source returning the wrong nonce length raises ValueError."""
        with pytest.raises(ValueError, match="random_bytes"):
            ring.seal(b"x", context=CONTEXT, random_bytes=lambda n: bytes(n - 1))

    def test_key_id_of(self, ring: KeyRing) -> None:
        """key_id_of reads the key id, known or not, and rejects malformed values."""
        sealed = ring.seal(b"x", context=CONTEXT, random_bytes=seeded_random())
        assert ring.key_id_of(sealed) == "k1"
        assert ring.key_id_of("v1.other.AAAA") == "other"
        with pytest.raises(SealingError):
            ring.key_id_of("garbage")


class TestRotation:
    """with_new_active_key() adds an active key while old values stay readable."""

    def test_rotation_keeps_old_keys(self, ring: KeyRing) -> None:
        """Old sealed values open after rotation; new ones use the new key."""
        old = ring.seal(b"old", context=CONTEXT, random_bytes=seeded_random())
        rotated = ring.with_new_active_key(seeded_random(b"rot"))
        assert rotated.active_key_id != "k1"
        assert rotated.key_ids == ("k1", rotated.active_key_id)
        assert rotated.unseal(old, context=CONTEXT) == b"old"
        new = rotated.seal(b"new", context=CONTEXT, random_bytes=seeded_random())
        assert rotated.key_id_of(new) == rotated.active_key_id
        with pytest.raises(SealingError, match="unknown key id"):
            ring.unseal(new, context=CONTEXT)

    def test_original_unchanged(self, ring: KeyRing) -> None:
        """Rotation returns a new ring and leaves the original as it was."""
        ring.with_new_active_key(seeded_random())
        assert ring.key_ids == ("k1",)
        assert ring.active_key_id == "k1"

    def test_id_collision_redrawn(self) -> None:
        """A drawn key id that already exists is redrawn."""
        ring = KeyRing.generate(seeded_random())
        rotated = ring.with_new_active_key(seeded_random())  # same seed: first draw collides
        assert len(set(rotated.key_ids)) == 2

    def test_broken_source_gives_up(self) -> None:
        """A constant random source cannot produce a fresh id and raises ValueError."""
        ring = KeyRing.generate(lambda n: bytes(n))
        with pytest.raises(ValueError, match="random source"):
            ring.with_new_active_key(lambda n: bytes(n))


class TestKeyedDigest:
    """keyed_digest() is HMAC-SHA256 under an HKDF subkey, verifiable across rotation."""

    def test_format_and_determinism(self, ring: KeyRing) -> None:
        """Digests are h1.<kid>.<43 base64url chars> and deterministic."""
        digest = ring.keyed_digest(b"data", purpose="backup-code")
        assert digest == ring.keyed_digest(b"data", purpose="backup-code")
        prefix, key_id, mac = digest.split(".")
        assert (prefix, key_id, len(mac)) == ("h1", "k1", 43)

    def test_matches_hkdf_construction(self, ring: KeyRing) -> None:
        """The MAC key is HKDF-SHA256(key, info=b"totpkit/digest/" + purpose)."""
        import hmac as hmac_module

        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        subkey = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"totpkit/digest/p").derive(
            bytes(range(32))
        )
        expected = hmac_module.new(subkey, b"data", hashlib.sha256).digest()
        assert ring.keyed_digest(b"data", purpose="p") == f"h1.k1.{b64url(expected)}"

    def test_verify(self, ring: KeyRing) -> None:
        """The right data verifies; other data or another purpose does not."""
        digest = ring.keyed_digest(b"data", purpose="a")
        assert ring.verify_keyed_digest(b"data", digest, purpose="a")
        assert not ring.verify_keyed_digest(b"datb", digest, purpose="a")
        assert not ring.verify_keyed_digest(b"data", digest, purpose="b")

    def test_purposes_are_independent(self, ring: KeyRing) -> None:
        """Different purposes give different digests of the same data."""
        assert ring.keyed_digest(b"x", purpose="a").split(".")[2] != ring.keyed_digest(b"x", purpose="b").split(".")[2]

    def test_verify_after_rotation(self, ring: KeyRing) -> None:
        """A digest made before rotation verifies with the rotated ring (using its embedded key id)."""
        digest = ring.keyed_digest(b"data", purpose="a")
        rotated = ring.with_new_active_key(seeded_random())
        assert rotated.verify_keyed_digest(b"data", digest, purpose="a")
        assert rotated.keyed_digest(b"data", purpose="a") != digest

    @pytest.mark.parametrize(
        "digest",
        [
            "",
            "h1",
            "h1.k1",
            "h1.k1.",
            "h2.k1.AAAA",
            "h1.unknown.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "h1.k1.A",
            "é",
        ],
    )
    def test_malformed_or_unknown_is_false(self, ring: KeyRing, digest: str) -> None:
        """Malformed digests and unknown key ids verify as False without raising."""
        assert ring.verify_keyed_digest(b"data", digest, purpose="a") is False

    def test_empty_purpose_rejected(self, ring: KeyRing) -> None:
        """An empty purpose is a programming error."""
        with pytest.raises(ValueError, match="purpose"):
            ring.keyed_digest(b"x", purpose="")
        with pytest.raises(ValueError, match="purpose"):
            ring.verify_keyed_digest(b"x", "h1.k1.AAAA", purpose="")


class TestJson:
    """to_json() and from_json() round-trip and reject bad input with clear messages."""

    def test_round_trip(self, ring: KeyRing) -> None:
        """A rotated ring survives serialisation: same ids, active key and keys."""
        rotated = ring.with_new_active_key(seeded_random())
        sealed = rotated.seal(b"x", context=CONTEXT, random_bytes=seeded_random())
        loaded = KeyRing.from_json(rotated.to_json())
        assert loaded.key_ids == rotated.key_ids
        assert loaded.active_key_id == rotated.active_key_id
        assert loaded.unseal(sealed, context=CONTEXT) == b"x"

    def test_shape(self, ring: KeyRing) -> None:
        """The JSON is {"active": kid, "keys": {kid: standard base64}}."""
        assert json.loads(ring.to_json()) == {
            "active": "k1",
            "keys": {"k1": base64.b64encode(bytes(range(32))).decode()},
        }

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("not json", "not valid JSON"),
            ("[]", "must be an object"),
            ('{"keys": {"a": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}', "'active'"),
            ('{"active": 1, "keys": {}}', "'active'"),
            ('{"active": "a"}', "'keys'"),
            ('{"active": "a", "keys": {}}', "'keys'"),
            ('{"active": "a", "keys": {"a": 5}}', "base64 string"),
            ('{"active": "a", "keys": {"a": "!!!!"}}', "not valid standard base64"),
            ('{"active": "a", "keys": {"a": "AAAA"}}', "exactly 32 bytes"),
            ('{"active": "b", "keys": {"a": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}', "not in the key ring"),
            ('{"active": "a.b", "keys": {"a.b": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}', "invalid key id"),
        ],
    )
    def test_bad_input(self, text: str, message: str) -> None:
        """Each kind of bad input raises ValueError naming the problem."""
        with pytest.raises(ValueError, match=message):
            KeyRing.from_json(text)
