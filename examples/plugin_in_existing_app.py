"""Mount totpkit in an existing Litestar app, next to the app's own routes.

Run it with ``litestar --app examples.plugin_in_existing_app:app run`` (or any ASGI server). Clerk's
clients then use ``http://127.0.0.1:8000/auth`` as their Frontend API (``proxyUrl`` in clerk-js).
"""

from __future__ import annotations

import os
from pathlib import Path

from litestar import Litestar, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from totpkit_server import TOTPKitConfig, TOTPKitPlugin
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


def create_app(data_dir: Path | None = None) -> Litestar:
    """The host app with totpkit mounted under ``/auth``."""
    config = TOTPKitConfig(
        issuer_name="My App",
        path_prefix="/auth",
        data_dir=data_dir or Path(os.environ.get("TOTPKIT_DATA_DIR", ".totpkit-example")),
    )
    return Litestar(route_handlers=[index, user_mfa], plugins=[TOTPKitPlugin(config)])


app = create_app()
