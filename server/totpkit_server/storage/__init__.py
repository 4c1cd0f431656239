"""Persistence: the :class:`Store` ABC, its records, and the backends.

This package imports no database driver; import a backend module (``storage.sqlite``) to use it.
"""

from .base import DuplicateError, Store
from .records import BackupCodeRecord, ClientRecord, SessionRecord, SignInRecord, TOTPRecord, UserRecord

__all__ = (
    "BackupCodeRecord",
    "ClientRecord",
    "DuplicateError",
    "SessionRecord",
    "SignInRecord",
    "Store",
    "TOTPRecord",
    "UserRecord",
)
