"""Framework-free domain logic: OTPs, backup codes, passwords, tokens, sealing and ids.

Nothing in this package imports Litestar or a database driver, and nothing
reads the clock or the random source on its own: time and randomness are
passed in, which keeps every function deterministic under test.
"""

from __future__ import annotations

from totpkit.otp import RandomBytes
from totpkit_server.core.backup_codes import (
    BACKUP_CODE_ALPHABET,
    backup_code_matches,
    digest_backup_code,
    generate_backup_codes,
    is_bcrypt_digest,
    normalize_backup_code,
)
from totpkit_server.core.ids import IdFactory, random_id_factory, sequential_id_factory
from totpkit_server.core.otp import find_matching_step, generate_secret, is_valid_import_secret, otpauth_uri
from totpkit_server.core.passwords import PasswordHasher
from totpkit_server.core.sealing import KeyRing, SealingError
from totpkit_server.core.tokens import (
    InvalidTokenError,
    SigningKey,
    hash_token,
    new_opaque_token,
    sign_jwt,
    verify_jwt,
)

__all__ = (
    "BACKUP_CODE_ALPHABET",
    "IdFactory",
    "InvalidTokenError",
    "KeyRing",
    "PasswordHasher",
    "RandomBytes",
    "SealingError",
    "SigningKey",
    "backup_code_matches",
    "digest_backup_code",
    "find_matching_step",
    "generate_backup_codes",
    "generate_secret",
    "hash_token",
    "is_bcrypt_digest",
    "is_valid_import_secret",
    "new_opaque_token",
    "normalize_backup_code",
    "otpauth_uri",
    "random_id_factory",
    "sequential_id_factory",
    "sign_jwt",
    "verify_jwt",
)
