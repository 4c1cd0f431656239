"""Mount totpkit in an existing Litestar app, next to the app's own routes.

Run it with ``litestar --app examples.plugin_in_existing_app:app run`` (or any ASGI server). Clerk's
clients then use ``http://127.0.0.1:8000/auth`` as their Frontend API (``proxyUrl`` in clerk-js).

The host's own ``/account`` routes are protected by totpkit's guards: ``requires_session`` lets in any
signed-in session (its token as ``Authorization: Bearer`` or the ``__session`` cookie), and
``requires_second_factor`` only sessions that passed a second factor in the last 10 minutes
(403 with Clerk's reverification hint otherwise).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from litestar import Litestar, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from totpkit_server import TOTPKitConfig, TOTPKitPlugin, VerifiedSession, requires_second_factor, requires_session
from totpkit_server.storage import Store


@get("/")
async def index() -> dict[str, str]:
    """The host app's own page."""
    return {"app": "my-app", "auth": "/auth/v1/environment"}


@get("/admin/users/{user_id:str}/mfa")
async def user_mfa(user_id: FromPath[str], totpkit_store: NamedDependency[Store]) -> dict[str, object]:
    """A host route that reads totpkit's store (provided as ``totpkit_store``)."""
    totp = await totpkit_store.get_totp(user_id)
    codes = await totpkit_store.list_unused_backup_codes(user_id)
    return {"user_id": user_id, "totp_enabled": bool(totp and totp.verified), "backup_codes_left": len(codes)}


@get("/account", guards=[requires_session])
async def account(verified_session: NamedDependency[VerifiedSession]) -> dict[str, object]:
    """Any signed-in user: the session the request's token belongs to."""
    return {"user_id": verified_session.user_id, "session_id": verified_session.session_id}


@post("/account/payouts", guards=[requires_second_factor(max_age=timedelta(minutes=10))], status_code=200)
async def payout(verified_session: NamedDependency[VerifiedSession]) -> dict[str, object]:
    """A sensitive action: only after a second factor in the last 10 minutes."""
    return {"paid_by": verified_session.user_id}


def create_app(data_dir: Path | None = None, *, clock: Callable[[], float] = time.time) -> Litestar:
    """The host app with totpkit mounted under ``/auth``."""
    config = TOTPKitConfig(
        issuer_name="My App",
        path_prefix="/auth",
        data_dir=data_dir or Path(os.environ.get("TOTPKIT_DATA_DIR", ".totpkit-example")),
        clock=clock,
    )
    return Litestar(route_handlers=[index, user_mfa, account, payout], plugins=[TOTPKitPlugin(config)])


app = create_app()
