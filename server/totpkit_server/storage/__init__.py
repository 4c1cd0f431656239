"""Persistence: the :class:`Store` ABC, its records, and the backends.

This package imports no database driver; import a backend module (``storage.sqlite``) to use it.
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
