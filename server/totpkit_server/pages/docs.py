"""``/docs``: Swagger UI over the plugin's own OpenAPI document (``config.openapi_path``).

Swagger UI's files come from the ``swagger-ui-py`` package (extra ``docs``) and are served by this
server under ``/docs/assets/``; the page loads nothing from elsewhere (Swagger UI's online validator
is turned off). Without the package the page still answers, saying how to install it and where the
raw document is. Nothing is registered when ``config.docs_path`` or ``config.openapi_path`` is
``None``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from litestar import MediaType, get
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from ..config import TOTPKitConfig
from ._paths import PAGE_OPT, STATIC_DIR, json_for_script, mounted, render_template

__all__ = ("docs_handlers", "swagger_ui_dir")

_SWAGGER_UI_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")


def swagger_ui_dir() -> Path | None:
    """The folder of Swagger UI's files shipped by ``swagger-ui-py`` (not imported), or ``None``."""
    try:
        spec = importlib.util.find_spec("swagger_ui")
    except (ImportError, ValueError):  # ValueError: a module set to None in sys.modules (tests)
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    directory = Path(next(iter(spec.submodule_search_locations))) / "static"
    if not all((directory / name).is_file() for name in _SWAGGER_UI_FILES):
        return None
    return directory


def docs_handlers(config: TOTPKitConfig) -> list[ControllerRouterHandler]:
    """The docs page and Swagger UI's files, when both the document and the page are configured."""
    if config.docs_path is None or config.openapi_path is None:
        return []
    page_path = mounted(config.path_prefix, config.docs_path)
    assets = page_path.rstrip("/") + "/assets"
    assets_dir = swagger_ui_dir()
    page_config = {
        "openapiUrl": mounted(config.path_prefix, config.openapi_path),
        "assets": assets if assets_dir is not None else None,
    }
    title = f"{config.issuer_name} (totpkit) API"

    @get(page_path, media_type=MediaType.HTML, sync_to_thread=False, include_in_schema=False, opt=dict(PAGE_OPT))
    def api_docs_page() -> str:
        """Swagger UI over the OpenAPI document, or how to install it."""
        return render_template(
            "docs.html",
            title=title,
            assets=assets,
            static=page_path.rstrip("/") + "/static",
            openapi_url=page_config["openapiUrl"] or "",
            config_json=json_for_script(page_config),
        )

    handlers: list[ControllerRouterHandler] = [
        api_docs_page,
        create_static_files_router(
            path=page_path.rstrip("/") + "/static",
            directories=[STATIC_DIR],
            name="totpkit-docs-static",
            include_in_schema=False,
            opt=dict(PAGE_OPT),
        ),
    ]
    if assets_dir is not None:
        handlers.append(
            create_static_files_router(
                path=assets,
                directories=[assets_dir],
                name="totpkit-swagger-ui",
                include_in_schema=False,
                opt=dict(PAGE_OPT),
            )
        )
    return handlers
