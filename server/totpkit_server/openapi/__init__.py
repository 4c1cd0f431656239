"""totpkit's own OpenAPI 3.1 document: every route the plugin registers, as it really behaves.

The handlers read their bodies and write their answers by hand (Clerk's form bodies, hand-rolled
envelopes), so Litestar cannot describe them; this package does, from the handlers' own paths and
methods, the msgspec wire structs and one table (:data:`OPERATIONS`). The plugin serves it at
``config.openapi_path`` under ``config.path_prefix`` (``/openapi.json`` by default; ``None`` serves
none), and keeps its routes out of the host app's Litestar-generated schema.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from .document import build_document, operation_key
from .operations import OPERATIONS, OperationDoc

__all__ = ("OPERATIONS", "OperationDoc", "build_document", "openapi_handler", "operation_key")


def openapi_handler(path: str, prefix: str, handlers: Sequence[HTTPRouteHandler], *, title: str) -> HTTPRouteHandler:
    """A ``GET path`` handler serving the document of ``handlers`` (and of itself) under ``prefix``.

    The document is built on the first request and kept: it depends only on code and configuration.
    """
    built: list[bytes] = []

    @get(path, sync_to_thread=False, include_in_schema=False)
    def get_openapi_document() -> Response[bytes]:
        """totpkit's OpenAPI 3.1 document (JSON)."""
        if not built:
            document = build_document(prefix, [*handlers, get_openapi_document], title=title)
            built.append(msgspec.json.encode(document))
        return Response(built[0], media_type="application/json")

    return get_openapi_document
