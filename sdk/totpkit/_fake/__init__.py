"""Private implementation of :mod:`totpkit.testing`: a stateful in-memory fake of the totpkit server.

Modules: ``api`` (:class:`FakeFrontendAPI`), ``routes`` (route table and dispatch), ``context``
(caller identification, answers), ``params`` (bodies), ``handlers_*`` (one per API area), ``mfa``
(code checks, lockout), ``views`` (records to wire structs), ``state`` (records), ``errors`` and
``_rsa`` (the pure-Python RS256 signer). Import :mod:`totpkit.testing` instead of this package.
"""

from __future__ import annotations

from .api import FakeFrontendAPI

__all__ = ("FakeFrontendAPI",)
