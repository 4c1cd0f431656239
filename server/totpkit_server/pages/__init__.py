"""Browser pages the plugin serves beside its API: the TOTP example (development only) and the API docs.

* ``/examples/totp`` (:mod:`.examples`): Clerk's TOTP example page, live, driving Clerk's unmodified
  clerk-js bundle (served from ``config.clerk_js_dir``, never a CDN). Not served in production.
* ``/docs`` (:mod:`.docs`): Swagger UI over the plugin's own OpenAPI document, its files served from
  the ``docs`` extra.

Both live under ``config.path_prefix`` and stay out of the OpenAPI document (they are pages, not API).
"""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from ..config import TOTPKitConfig
from ._paths import PAGE_OPT
from .docs import docs_handlers
from .examples import example_handlers

__all__ = ("PAGE_OPT", "page_handlers")


def page_handlers(config: TOTPKitConfig) -> list[ControllerRouterHandler]:
    """The route handlers and static-file routers of every page ``config`` enables (full paths)."""
    return [*example_handlers(config), *docs_handlers(config)]
