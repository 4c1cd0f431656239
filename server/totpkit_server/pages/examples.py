"""``/examples/totp``: Clerk's TOTP example page, live against this server (development only).

The page signs in with email and password (``signIn.create``), then offers the four calls of Clerk's
TOTP guide - ``user.createTOTP()``, ``user.verifyTOTP({ code })``, ``user.disableTOTP()``,
``user.createBackupCode()`` - and shows each call's JSON response or Clerk error. The otpauth URI is
shown as a QR code next to the secret, rendered here as SVG (``POST /examples/totp/qr``, extra
``qr``).

It runs Clerk's own, unmodified ``clerk.browser.js``, which this server serves from
``config.clerk_js_dir`` under ``/examples/clerk-js/`` (never a CDN); when that is unset or holds no
bundle the page says so and how to fix it. The page configures clerk-js with a ``pk_live_`` key of
the request's host and ``proxyUrl`` pointing at this server, so clerk-js talks to totpkit over
plain HTTP on the same origin (the ``__client`` cookie identifies the browser).

Nothing here is registered with ``config.production``: every path answers 404 there.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Annotated, Any

from litestar import MediaType, Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from totpkit import MissingDependencyError
from totpkit.qr import qr_svg

from ..config import TOTPKitConfig
from ._paths import PAGE_OPT, STATIC_DIR, json_for_script, mounted, render_template

__all__ = ("CLERK_JS_BUNDLE", "clerk_js_bundle_dir", "example_handlers", "publishable_key")

CLERK_JS_BUNDLE = "clerk.browser.js"
"""The file of ``@clerk/clerk-js``'s ``dist`` folder that the page loads (it creates ``window.Clerk``)."""

MAX_URI_LENGTH = 2048
"""Longest URI the QR route renders (an otpauth URI is a few hundred characters)."""

_SVG = "image/svg+xml"


def clerk_js_bundle_dir(config: TOTPKitConfig) -> Path | None:
    """``config.clerk_js_dir`` if it holds ``clerk.browser.js``, else ``None``."""
    directory = config.clerk_js_dir
    if directory is None or not (directory / CLERK_JS_BUNDLE).is_file():
        return None
    return directory.resolve()


def publishable_key(host: str) -> str:
    """Clerk's production publishable key of ``host`` (``host[:port]``): ``pk_live_`` + base64(``host$``).

    clerk-js reads its Frontend API host from the key; with ``proxyUrl`` set it sends every request
    there instead, so the host only has to be well-formed.
    """
    return "pk_live_" + base64.b64encode(f"{host}$".encode()).decode("ascii")


def _missing_bundle_note(config: TOTPKitConfig) -> str:
    where = (
        "no clerk_js_dir is set"
        if config.clerk_js_dir is None
        else f"{config.clerk_js_dir / CLERK_JS_BUNDLE} does not exist"
    )
    return (
        f"Clerk's browser bundle is not available: {where}. Run `npm ci --prefix clerkjs` in the totpkit "
        "repository, then restart the server with `--clerk-js-dir clerkjs/node_modules/@clerk/clerk-js/dist` "
        "(or TOTPKIT_CLERK_JS_DIR, or TOTPKitConfig.clerk_js_dir)."
    )


def example_handlers(config: TOTPKitConfig) -> list[ControllerRouterHandler]:
    """The example page, its QR route and static files; nothing with ``config.production``."""
    if config.production:
        return []
    base = mounted(config.path_prefix, "/examples")
    bundle_dir = clerk_js_bundle_dir(config)
    handlers: list[ControllerRouterHandler] = [
        _page_handler(config, base, bundle_dir is not None),
        _qr_handler(f"{base}/totp/qr"),
        create_static_files_router(
            path=f"{base}/static",
            directories=[STATIC_DIR],
            name="totpkit-example-static",
            include_in_schema=False,
            opt=dict(PAGE_OPT),
        ),
    ]
    if bundle_dir is not None:
        handlers.append(
            create_static_files_router(
                path=f"{base}/clerk-js",
                directories=[bundle_dir],
                name="totpkit-clerk-js",
                include_in_schema=False,
                opt=dict(PAGE_OPT),
            )
        )
    return handlers


def _page_handler(config: TOTPKitConfig, base: str, has_bundle: bool) -> ControllerRouterHandler:
    missing_note = "" if has_bundle else _missing_bundle_note(config)

    @get(f"{base}/totp", media_type=MediaType.HTML, sync_to_thread=False, include_in_schema=False, opt=dict(PAGE_OPT))
    def totp_example_page(request: Request[Any, Any, Any]) -> str:
        """The example page, configured for the host the browser used to reach this server."""
        origin = f"{request.url.scheme}://{request.url.netloc}"
        page_config = {
            "publishableKey": publishable_key(request.url.netloc),
            "proxyUrl": origin + config.path_prefix.rstrip("/"),
            "clerkJsUrl": f"{base}/clerk-js/{CLERK_JS_BUNDLE}" if has_bundle else None,
            "qrUrl": f"{base}/totp/qr",
            "missingBundle": missing_note or None,
        }
        return render_template(
            "example_totp.html",
            static=f"{base}/static",
            application=config.issuer_name,
            config_json=json_for_script(page_config),
        )

    return totp_example_page


def _qr_handler(path: str) -> ControllerRouterHandler:
    @post(path, status_code=200, sync_to_thread=False, include_in_schema=False, opt=dict(PAGE_OPT))
    def otpauth_qr_svg(
        data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)],
    ) -> Response[str]:
        """``uri=otpauth://...`` (form) → the QR code as SVG; 422 for anything else, 501 without segno.

        A POST, so the secret in the URI never lands in a URL (history, logs).
        """
        uri = data.get("uri", "")
        if not isinstance(uri, str) or not uri.startswith("otpauth://") or len(uri) > MAX_URI_LENGTH:
            return Response("uri must be an otpauth:// URI", status_code=422, media_type=MediaType.TEXT)
        try:
            svg = qr_svg(uri, scale=5, title="QR code of the otpauth URI")
        except MissingDependencyError as exc:
            return Response(str(exc), status_code=501, media_type=MediaType.TEXT)
        return Response(svg, media_type=_SVG, headers={"Cache-Control": "no-store"})

    return otpauth_qr_svg
