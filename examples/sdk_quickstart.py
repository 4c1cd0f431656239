"""The SDK quickstart: sign in, enrol an authenticator app, use it, and turn it off again.

Against a running server (``totpkit serve`` and ``totpkit create-user``)::

    python examples/sdk_quickstart.py http://127.0.0.1:8000 jane@example.com 'a long password'

A real user would type the code from their authenticator app; this script computes it from the
secret with :func:`totpkit.otp.totp_code`, the way a test would.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

import httpx

from totpkit import AsyncFrontend
from totpkit.otp import totp_code


async def main(
    base_url: str,
    email: str,
    password: str,
    *,
    http_client: httpx.AsyncClient | None = None,
    clock: Callable[[], float] = time.time,
) -> dict[str, object]:
    """Run the whole flow; returns what happened, step by step."""
    report: dict[str, object] = {}
    async with AsyncFrontend(base_url, http_client=http_client) as fapi:
        sign_in = await fapi.sign_in(identifier=email, password=password)
        report["first_sign_in"] = sign_in.status

        user = await fapi.get_user()
        totp = await user.create_totp()
        assert totp.secret is not None
        report["otpauth_uri"] = totp.uri

        verified = await user.verify_totp(code=totp_code(totp.secret, at=clock()))
        report["verified"] = verified.verified
        report["first_backup_codes"] = len(verified.backup_codes or [])

        codes = await user.create_backup_code()
        report["regenerated_backup_codes"] = len(codes.codes)

        await fapi.sign_out()
        sign_in = await fapi.sign_in(identifier=email, password=password)
        report["second_sign_in"] = sign_in.status
        if sign_in.status == "needs_second_factor":
            # The enrolment code's time step is spent (replay protection): use the next step's code.
            sign_in = await sign_in.attempt_second_factor(strategy="totp", code=totp_code(totp.secret, at=clock() + 30))
        report["after_second_factor"] = sign_in.status

        user = await fapi.get_user()
        deleted = await user.disable_totp()
        report["disabled"] = deleted.deleted
        await user.reload()
        report["totp_enabled_at_end"] = user.totp_enabled
    return report


if __name__ == "__main__":
    url, email_arg, password_arg = sys.argv[1:4]
    for key, value in asyncio.run(main(url, email_arg, password_arg)).items():
        print(f"{key}: {value}")
