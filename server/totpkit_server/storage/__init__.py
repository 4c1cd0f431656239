"""Persistence: the :class:`Store` ABC, its records, and the backends.

This package imports no database driver; ``storage.factory.create_store`` imports the backend a
configuration names (``storage.sqlite``, or ``storage.postgres`` with the ``postgres`` extra).
"""

from .base import DuplicateError, Store
from .records import (
    AuditEventRecord,
    BackupCodeRecord,
    ClientRecord,
    SealingKeyUsage,
    SessionRecord,
    SessionVerificationRecord,
    SignInRecord,
    SweepCounts,
    TOTPRecord,
    UserRecord,
)

__all__ = (
    "AuditEventRecord",
    "BackupCodeRecord",
    "ClientRecord",
    "DuplicateError",
    "SealingKeyUsage",
    "SessionRecord",
    "SessionVerificationRecord",
    "SignInRecord",
    "Store",
    "SweepCounts",
    "TOTPRecord",
    "UserRecord",
)
