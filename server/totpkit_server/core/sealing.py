"""Secrets at rest: AES-256-GCM sealing and keyed digests under a rotating key ring.

A :class:`KeyRing` holds named 32-byte keys, one of which is *active*. New
data is always sealed (and digested) under the active key; the key id is
written into the output, so older values stay readable after a rotation
until they are re-sealed.

Sealed format: ``v1.<key_id>.<base64url(nonce || ciphertext || tag)>`` (no
padding). The GCM associated data is ``b"totpkit/v1|" + key_id + b"|" +
context``: the caller's ``context`` (e.g. the owning user id) binds a
ciphertext to its row, so a sealed secret copied to another user fails to
open.

Digest format: ``h1.<key_id>.<base64url(HMAC-SHA256)>``, keyed with a
per-purpose subkey derived by HKDF-SHA256, for values that must be
compared but never recovered (backup codes).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from totpkit.otp import RandomBytes

__all__ = ("KEY_BYTES", "NONCE_BYTES", "KeyRing", "SealingError")

KEY_BYTES = 32
NONCE_BYTES = 12
_TAG_BYTES = 16
_MAX_NEW_KEY_ATTEMPTS = 8
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SEALED = re.compile(r"v1\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]+)")
_DIGEST = re.compile(r"h1\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]+)")
_AAD_PREFIX = b"totpkit/v1|"
_DIGEST_INFO_PREFIX = b"totpkit/digest/"


class SealingError(Exception):
    """A sealed value cannot be opened: malformed, unknown key id, tampered, or sealed for another context."""


class KeyRing:
    """A set of named AES-256 keys with one active key used for new data.

    Instances are immutable; :meth:`with_new_active_key` returns a new ring.
    ``repr()`` shows key ids only, never key material.
    """

    __slots__ = ("_active_key_id", "_digest_subkeys", "_keys")

    def __init__(self, keys: Mapping[str, bytes], active_key_id: str) -> None:
        """Create a key ring.

        Args:
            keys: Key id to 32-byte key. Ids match ``^[A-Za-z0-9_-]{1,64}$``.
            active_key_id: The id of the key used for sealing; must be in ``keys``.

        Raises:
            ValueError: If a key id is malformed, a key is not exactly 32 bytes, or the
                active key id is not one of the keys.
        """
        for key_id, key in keys.items():
            if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
                raise ValueError(f"invalid key id {key_id!r}: expected 1-64 characters of [A-Za-z0-9_-]")
            if not isinstance(key, bytes) or len(key) != KEY_BYTES:
                raise ValueError(f"key {key_id!r} must be exactly {KEY_BYTES} bytes")
        if active_key_id not in keys:
            raise ValueError(f"active key id {active_key_id!r} is not in the key ring")
        self._keys: dict[str, bytes] = dict(keys)
        self._active_key_id = active_key_id
        self._digest_subkeys: dict[tuple[str, str], bytes] = {}

    @classmethod
    def generate(cls, random_bytes: RandomBytes, *, key_id: str | None = None) -> KeyRing:
        """Create a ring holding one fresh active key.

        Args:
            random_bytes: Source of randomness for the key (and the default id).
            key_id: The key id; defaults to ``"k_"`` followed by 12 random hex characters.

        Returns:
            The new key ring.

        Raises:
            ValueError: If ``key_id`` is malformed or ``random_bytes`` misbehaves.
        """
        new_id = key_id if key_id is not None else _random_key_id(random_bytes)
        return cls({new_id: _random_key(random_bytes)}, new_id)

    @property
    def active_key_id(self) -> str:
        """The id of the key that seals new data."""
        return self._active_key_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        """All key ids, in insertion order (oldest first)."""
        return tuple(self._keys)

    def with_new_active_key(self, random_bytes: RandomBytes) -> KeyRing:
        """Rotate: return a ring with an extra fresh key that becomes active.

        Old keys are kept so existing sealed values and digests still open.

        Args:
            random_bytes: Source of randomness for the key and its id.

        Returns:
            The new key ring; this one is unchanged.

        Raises:
            ValueError: If no unused key id could be drawn (a broken random source).
        """
        for _ in range(_MAX_NEW_KEY_ATTEMPTS):
            new_id = _random_key_id(random_bytes)
            if new_id not in self._keys:
                return KeyRing({**self._keys, new_id: _random_key(random_bytes)}, new_id)
        raise ValueError("could not draw an unused key id; is the random source broken?")

    def without_key(self, key_id: str) -> KeyRing:
        """Retire: return a ring without ``key_id``; values sealed or digested under it no longer open.

        Whether anything still uses the key is the caller's question (the ring cannot know).

        Raises:
            ValueError: If ``key_id`` is not in the ring, or is the active key (rotate first).
        """
        if key_id not in self._keys:
            raise ValueError(f"key id {key_id!r} is not in the key ring")
        if key_id == self._active_key_id:
            raise ValueError(f"key id {key_id!r} is the active key; rotate to a new key before retiring it")
        return KeyRing({kid: key for kid, key in self._keys.items() if kid != key_id}, self._active_key_id)

    def seal(self, plaintext: bytes, *, context: bytes, random_bytes: RandomBytes) -> str:
        """Encrypt and authenticate ``plaintext`` under the active key.

        Args:
            plaintext: The bytes to protect (may be empty).
            context: Associated data the value is bound to (e.g. the user id); the same
                context must be given to :meth:`unseal`.
            random_bytes: Source of the 12-byte nonce; must never repeat under one key.

        Returns:
            ``v1.<key_id>.<base64url>``.

        Raises:
            ValueError: If ``random_bytes`` returns the wrong number of bytes.
        """
        key_id = self._active_key_id
        nonce = random_bytes(NONCE_BYTES)
        if len(nonce) != NONCE_BYTES:
            raise ValueError(f"random_bytes returned {len(nonce)} bytes, expected {NONCE_BYTES}")
        ciphertext = AESGCM(self._keys[key_id]).encrypt(nonce, plaintext, _aad(key_id, context))
        return f"v1.{key_id}.{_b64url_encode(nonce + ciphertext)}"

    def unseal(self, sealed: str, *, context: bytes) -> bytes:
        """Decrypt a value produced by :meth:`seal` (under any key still in the ring).

        Args:
            sealed: The sealed text.
            context: The associated data used when sealing.

        Returns:
            The plaintext.

        Raises:
            SealingError: If the value is malformed, its key id is unknown, it was
                tampered with, or ``context`` differs. No other exception type escapes.
        """
        key_id, payload = _parse(_SEALED, sealed, "sealed value")
        key = self._keys.get(key_id)
        if key is None:
            raise SealingError(f"unknown key id {key_id!r}")
        if len(payload) < NONCE_BYTES + _TAG_BYTES:
            raise SealingError("sealed value is too short")
        try:
            return AESGCM(key).decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], _aad(key_id, context))
        except InvalidTag:
            raise SealingError("sealed value failed authentication (tampered, or wrong context)") from None

    def key_id_of(self, sealed: str) -> str:
        """Return the key id a sealed value names (known to this ring or not).

        Useful to find values to re-seal after a rotation.

        Raises:
            SealingError: If the value is malformed.
        """
        key_id, _ = _parse(_SEALED, sealed, "sealed value")
        return key_id

    def keyed_digest(self, data: bytes, *, purpose: str) -> str:
        """Compute a keyed, non-reversible digest of ``data`` under the active key.

        The MAC key is ``HKDF-SHA256(active key, info=b"totpkit/digest/" + purpose)``,
        so digests for different purposes are unrelated.

        Args:
            data: The bytes to digest.
            purpose: A non-empty label separating uses (e.g. ``"backup-code"``).

        Returns:
            ``h1.<key_id>.<base64url(HMAC-SHA256)>``.

        Raises:
            ValueError: If ``purpose`` is empty.
        """
        key_id = self._active_key_id
        return f"h1.{key_id}.{_b64url_encode(self._mac(key_id, data, purpose))}"

    def verify_keyed_digest(self, data: bytes, digest: str, *, purpose: str) -> bool:
        """Check ``data`` against a digest from :meth:`keyed_digest`, in constant time.

        The key named inside the digest is used, so digests made before a rotation verify.

        Args:
            data: The candidate bytes.
            digest: The stored digest.
            purpose: The purpose used when digesting.

        Returns:
            ``True`` on a match; ``False`` on a mismatch, a malformed digest or an unknown key id.

        Raises:
            ValueError: If ``purpose`` is empty.
        """
        _check_purpose(purpose)
        try:
            key_id, stored = _parse(_DIGEST, digest, "digest")
        except SealingError:
            return False
        if key_id not in self._keys:
            return False
        return hmac.compare_digest(self._mac(key_id, data, purpose), stored)

    def to_json(self) -> str:
        """Serialise the ring as ``{"active": "<kid>", "keys": {"<kid>": "<base64>"}}``.

        The output contains the raw keys: store it like any other secret.
        """
        keys = {key_id: base64.b64encode(key).decode("ascii") for key_id, key in self._keys.items()}
        return json.dumps({"active": self._active_key_id, "keys": keys})

    @classmethod
    def from_json(cls, text: str) -> KeyRing:
        """Load a ring written by :meth:`to_json`.

        Raises:
            ValueError: With a message naming the problem, if the text is not JSON, lacks
                ``active`` or ``keys``, holds a key that is not standard base64 of 32 bytes,
                or names an active key that is not present.
        """
        try:
            document: Any = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"key ring is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise ValueError("key ring JSON must be an object with 'active' and 'keys'")
        active = document.get("active")
        encoded_keys = document.get("keys")
        if not isinstance(active, str):
            raise ValueError("key ring JSON needs a string 'active' key id")
        if not isinstance(encoded_keys, dict) or not encoded_keys:
            raise ValueError("key ring JSON needs a non-empty 'keys' object")
        keys = {str(key_id): _decode_json_key(str(key_id), value) for key_id, value in encoded_keys.items()}
        return cls(keys, active)

    def __repr__(self) -> str:
        """Show key ids only, never key material."""
        return f"KeyRing(active_key_id={self._active_key_id!r}, key_ids={self.key_ids!r})"

    def _mac(self, key_id: str, data: bytes, purpose: str) -> bytes:
        """HMAC-SHA256 of ``data`` under the (cached) purpose subkey of ``key_id``."""
        subkey = self._digest_subkeys.get((key_id, purpose))
        if subkey is None:
            subkey = _derive_subkey(self._keys[key_id], purpose)
            self._digest_subkeys[(key_id, purpose)] = subkey
        return hmac.new(subkey, data, hashlib.sha256).digest()


def _aad(key_id: str, context: bytes) -> bytes:
    """The GCM associated data binding a ciphertext to its key id and context."""
    return _AAD_PREFIX + key_id.encode("ascii") + b"|" + context


def _check_purpose(purpose: str) -> None:
    """Reject an empty digest purpose."""
    if not purpose:
        raise ValueError("digest purpose must be a non-empty string")


def _derive_subkey(key: bytes, purpose: str) -> bytes:
    """HKDF-SHA256 a 32-byte MAC key for ``purpose`` from a ring key."""
    _check_purpose(purpose)
    info = _DIGEST_INFO_PREFIX + purpose.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


def _parse(pattern: re.Pattern[str], value: str, what: str) -> tuple[str, bytes]:
    """Split ``<version>.<key_id>.<base64url>`` into key id and decoded bytes, or raise SealingError."""
    match = pattern.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise SealingError(f"malformed {what}")
    try:
        return match.group(1), _b64url_decode(match.group(2))
    except ValueError:
        raise SealingError(f"malformed {what}: bad base64url") from None


def _b64url_encode(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    """Decode unpadded base64url (alphabet already checked); ValueError unless canonically encoded."""
    if len(text) % 4 == 1:
        raise ValueError("impossible base64url length")
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url_encode(data) != text:
        raise ValueError("non-canonical base64url")
    return data


def _decode_json_key(key_id: str, value: object) -> bytes:
    """Decode one standard-base64 key from the JSON form, with a clear ValueError."""
    if not isinstance(value, str):
        raise ValueError(f"key {key_id!r} must be a base64 string")
    try:
        key = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"key {key_id!r} is not valid standard base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"key {key_id!r} must decode to exactly {KEY_BYTES} bytes, got {len(key)}")
    return key


def _random_key(random_bytes: RandomBytes) -> bytes:
    """Draw a 32-byte key, checking the source returned the right length."""
    key = random_bytes(KEY_BYTES)
    if len(key) != KEY_BYTES:
        raise ValueError(f"random_bytes returned {len(key)} bytes, expected {KEY_BYTES}")
    return key


def _random_key_id(random_bytes: RandomBytes) -> str:
    """Draw a default key id: ``"k_"`` and 12 hex characters."""
    raw = random_bytes(6)
    if len(raw) != 6:
        raise ValueError(f"random_bytes returned {len(raw)} bytes, expected 6")
    return "k_" + raw.hex()
