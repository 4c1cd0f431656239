"""Key rotation: new sealing and signing keys, re-sealing TOTP secrets, retiring keys, the start-up check.

Sealing keys (the AES-256-GCM key ring):

* **rotate** adds a fresh key and makes it active. Old keys stay in the ring, so every TOTP secret
  and backup-code digest made under them still opens; new secrets and digests use the new key.
* **re-seal** moves TOTP secrets to the active key: in batches by :func:`reseal_all`, and one at a
  time after a successful verification by :func:`reseal_if_stale`. Each row is replaced by a
  compare-and-set on its old ciphertext, so a concurrent enrolment (a new secret) is never
  overwritten and a verification running meanwhile is not disturbed.
* **backup codes** cannot be re-digested: only their keyed digests are stored. A digest keeps naming
  its key until the code is used or the set is replaced (``POST /v1/me/backup_codes``, disabling TOTP).
* **retire** removes a key. Refused (:class:`KeyRetirementRefused`) for the active key and while any
  TOTP secret or unused backup code still uses it: retiring it would lock those users out.
* **start-up**: :func:`check_sealing_keys` refuses to start (:class:`KeyConfigurationError` naming the
  key ids) when the database holds values under a key the ring lacks, instead of failing at the
  first verification of an affected user.

Signing keys (RS256): the first key signs new session tokens and every key is published in the
JWKS. Rotating puts a new key first; tokens signed by an older key verify while it is published.
Retiring removes it from the JWKS, after which its tokens no longer verify; the signing key itself
cannot be retired (rotate first).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from totpkit.otp import RandomBytes

from .core.sealing import KeyRing, SealingError
from .core.tokens import SigningKey
from .keys import InstanceKeys, KeyConfigurationError
from .storage.base import Store
from .storage.records import SealingKeyUsage, TOTPRecord

__all__ = (
    "DEFAULT_BATCH_SIZE",
    "KeyRetirementRefused",
    "ResealOutcome",
    "ResealReport",
    "check_sealing_keys",
    "missing_sealing_keys",
    "reseal_all",
    "reseal_if_stale",
    "retire_key",
    "with_new_sealing_key",
    "with_new_signing_key",
)

DEFAULT_BATCH_SIZE = 100
"""TOTP rows read and re-sealed per batch by :func:`reseal_all`."""


class KeyRetirementRefused(Exception):
    """A key cannot be retired: unknown, still in use, or the one that seals or signs new data."""


class ResealOutcome(enum.Enum):
    """What happened to one TOTP secret during a re-seal."""

    RESEALED = "resealed"
    """Now sealed under the active key."""
    CHANGED_MEANWHILE = "changed_meanwhile"
    """Replaced or deleted by someone else between reading and writing; left as it is."""
    UNREADABLE = "unreadable"
    """Could not be opened (its key is missing from the ring, or it was tampered with); left as it is."""


@dataclass
class ResealReport:
    """The result of :func:`reseal_all`."""

    resealed: int = 0
    changed_meanwhile: int = 0
    unreadable: list[str] = field(default_factory=list)
    """Ids of the TOTP credentials that could not be opened."""

    def count(self, totp: TOTPRecord, outcome: ResealOutcome) -> None:
        """Add one row's outcome."""
        if outcome is ResealOutcome.RESEALED:
            self.resealed += 1
        elif outcome is ResealOutcome.CHANGED_MEANWHILE:
            self.changed_meanwhile += 1
        else:
            self.unreadable.append(totp.id)


# --- the keys themselves -------------------------------------------------------------------------


def with_new_sealing_key(keys: InstanceKeys, random_bytes: RandomBytes) -> InstanceKeys:
    """``keys`` with a fresh sealing key added and made active; the old keys are kept."""
    return dataclasses.replace(keys, key_ring=keys.key_ring.with_new_active_key(random_bytes), generated=False)


def with_new_signing_key(keys: InstanceKeys, signing_key: SigningKey) -> InstanceKeys:
    """``keys`` with ``signing_key`` first (it signs new tokens); the old keys stay published.

    Raises:
        ValueError: If a signing key with the same ``kid`` exists already.
    """
    if any(key.kid == signing_key.kid for key in keys.signing_keys):
        raise ValueError(f"a signing key with kid {signing_key.kid!r} exists already")
    return dataclasses.replace(keys, signing_keys=(signing_key, *keys.signing_keys), generated=False)


def retire_key(keys: InstanceKeys, key_id: str, usage: Mapping[str, SealingKeyUsage]) -> InstanceKeys:
    """``keys`` without the sealing or signing key ``key_id``.

    Args:
        keys: The current keys.
        key_id: A sealing key id (``k_…``) or a signing key id (``ins_…``).
        usage: What the database still protects per sealing key (:meth:`Store.sealing_key_usage`).

    Raises:
        KeyRetirementRefused: With an explanation, if ``key_id`` is unknown, names both kinds of
            key, is the active sealing key or the signing key, or still protects a TOTP secret or an
            unused backup code.
    """
    is_sealing = key_id in keys.key_ring.key_ids
    is_signing = any(key.kid == key_id for key in keys.signing_keys)
    if is_sealing and is_signing:
        raise KeyRetirementRefused(f"{key_id!r} names both a sealing and a signing key; edit the keys file by hand")
    if is_sealing:
        return dataclasses.replace(keys, key_ring=_ring_without(keys.key_ring, key_id, usage.get(key_id)))
    if is_signing:
        return dataclasses.replace(keys, signing_keys=_signing_keys_without(keys.signing_keys, key_id))
    raise KeyRetirementRefused(f"there is no sealing or signing key with id {key_id!r}")


def _ring_without(ring: KeyRing, key_id: str, usage: SealingKeyUsage | None) -> KeyRing:
    if key_id == ring.active_key_id:
        raise KeyRetirementRefused(
            f"sealing key {key_id!r} is active (it seals new secrets); run `totpkit keys rotate --sealing` first"
        )
    if usage is not None and usage.total:
        raise KeyRetirementRefused(
            f"sealing key {key_id!r} still protects {usage.totp_secrets} TOTP secret(s) and "
            f"{usage.backup_codes} unused backup code(s); retiring it would lock those users out. "
            "Run `totpkit keys reseal` to move the TOTP secrets to the active key; backup codes keep "
            "their key until they are used or their set is replaced."
        )
    return ring.without_key(key_id)


def _signing_keys_without(signing_keys: tuple[SigningKey, ...], key_id: str) -> tuple[SigningKey, ...]:
    if signing_keys[0].kid == key_id:
        raise KeyRetirementRefused(
            f"signing key {key_id!r} signs new session tokens; run `totpkit keys rotate --signing` first"
        )
    return tuple(key for key in signing_keys if key.kid != key_id)


# --- the database -------------------------------------------------------------------------------


def missing_sealing_keys(ring: KeyRing, usage: Mapping[str, SealingKeyUsage]) -> list[SealingKeyUsage]:
    """The usages (sorted by key id) of key ids that ``ring`` does not hold."""
    return [usage[key_id] for key_id in sorted(usage) if key_id not in ring.key_ids]


async def check_sealing_keys(store: Store, ring: KeyRing) -> None:
    """Refuse to run when the database holds secrets or digests under a key the ring lacks.

    Raises:
        KeyConfigurationError: Naming each missing key id and what it protects.
    """
    missing = missing_sealing_keys(ring, await store.sealing_key_usage())
    if missing:
        details = ", ".join(
            f"{usage.key_id!r} ({usage.totp_secrets} TOTP secret(s), {usage.backup_codes} unused backup code(s))"
            for usage in missing
        )
        raise KeyConfigurationError(
            f"the database holds values sealed under key id(s) missing from the key ring: {details}; "
            f"the ring has {', '.join(ring.key_ids)}. Restore the missing sealing keys before starting."
        )


async def reseal_all(
    store: Store, ring: KeyRing, *, random_bytes: RandomBytes, batch_size: int = DEFAULT_BATCH_SIZE
) -> ResealReport:
    """Re-seal every TOTP secret not under the active key, ``batch_size`` rows at a time.

    Each row is read once (keyed pagination by id), so rows that cannot be opened do not stall the
    walk. Safe while servers run on the same database: every write is a compare-and-set.

    Raises:
        ValueError: If ``batch_size`` is not positive.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = ResealReport()
    usage = await store.sealing_key_usage()
    for key_id in sorted(usage):
        if key_id == ring.active_key_id or not usage[key_id].totp_secrets:
            continue
        after_id: str | None = None
        while batch := await store.list_totps_sealed_with(key_id, after_id=after_id, limit=batch_size):
            for totp in batch:
                report.count(totp, await _reseal(store, ring, totp, random_bytes))
            after_id = batch[-1].id
    return report


async def reseal_if_stale(
    store: Store, ring: KeyRing, totp: TOTPRecord, secret: bytes, random_bytes: RandomBytes
) -> bool:
    """Lazy re-seal after a successful use: seal ``secret`` (already opened) under the active key.

    Returns ``True`` if the row was re-sealed; ``False`` if it already was under the active key or
    changed meanwhile (compare-and-set on ``totp.sealed_secret``).
    """
    try:
        if ring.key_id_of(totp.sealed_secret) == ring.active_key_id:
            return False
    except SealingError:
        return False
    return await _write_resealed(store, ring, totp, secret, random_bytes)


async def _reseal(store: Store, ring: KeyRing, totp: TOTPRecord, random_bytes: RandomBytes) -> ResealOutcome:
    try:
        secret = ring.unseal(totp.sealed_secret, context=_context(totp))
    except SealingError:
        return ResealOutcome.UNREADABLE
    if await _write_resealed(store, ring, totp, secret, random_bytes):
        return ResealOutcome.RESEALED
    return ResealOutcome.CHANGED_MEANWHILE


async def _write_resealed(
    store: Store, ring: KeyRing, totp: TOTPRecord, secret: bytes, random_bytes: RandomBytes
) -> bool:
    new_sealed = ring.seal(secret, context=_context(totp), random_bytes=random_bytes)
    return await store.reseal_totp(totp.id, old_sealed=totp.sealed_secret, new_sealed=new_sealed)


def _context(totp: TOTPRecord) -> bytes:
    """The associated data a TOTP secret is sealed with: its user id (as ``MFAService`` seals it)."""
    return totp.user_id.encode()
