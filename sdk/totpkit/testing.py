"""Test helpers: a stateful in-memory fake of the totpkit server, and TOTP codes at a chosen instant.

:class:`FakeFrontendAPI` answers Frontend and Backend API requests the way the totpkit server does
(``docs/BEHAVIOUR.md``), with the same JSON built from the same :mod:`totpkit.types` structs. It is a
``respx`` router, so it plugs into any :class:`httpx.AsyncClient`, needs no network, and its named
routes (``fake.router["totp_verify"].call_count``) show what was called. Time comes from the
``clock`` you pass; randomness from ``random_bytes``.

Usage::

    from totpkit.testing import FakeFrontendAPI, totp_code

    now = 1_700_000_000.0
    async with FakeFrontendAPI(clock=lambda: now) as fake:
        fake.add_user("jane@example.com", "correct horse")
        fapi = fake.frontend()
        await fapi.sign_in(identifier="jane@example.com", password="correct horse")
        user = await fapi.get_user()
        totp = await user.create_totp()
        await user.verify_totp(code=totp_code(totp.secret, at=now))

This module needs ``respx``: ``pip install "totpkit[testing]"``.
"""

from __future__ import annotations

try:
    import respx  # noqa: F401 - checked here so the error names the extra to install
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError('totpkit.testing needs respx; install it with: pip install "totpkit[testing]"') from exc

from ._fake import FakeFrontendAPI
from ._fake.clock import ManualClock
from .otp import totp_code

__all__ = ("FakeFrontendAPI", "ManualClock", "totp_code")
