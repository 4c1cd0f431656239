"""Small helpers the pages share: mounting paths under the prefix and reading packaged files."""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template

__all__ = ("PAGES_DIR", "PAGE_OPT", "STATIC_DIR", "json_for_script", "mounted", "render_template")

PAGES_DIR = Path(__file__).resolve().parent
STATIC_DIR = PAGES_DIR / "static"
"""The pages' own scripts and styles (packaged with the server)."""

PAGE_OPT = {"totpkit_page": True}
"""The ``opt`` of every page handler: marks routes that are pages, not API (kept out of the OpenAPI document)."""


def mounted(prefix: str, path: str) -> str:
    """``path`` (starting with ``/``) under ``prefix``: ``mounted("/auth/", "/docs") == "/auth/docs"``."""
    return prefix.rstrip("/") + path


def json_for_script(value: object) -> str:
    """``value`` as JSON that is safe inside ``<script type="application/json">`` (no ``</script>``)."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_template(name: str, **values: str) -> str:
    """The packaged template ``templates/<name>`` with ``$key`` replaced by HTML-escaped ``values``.

    Values whose key ends in ``_json`` are inserted as given (see :func:`json_for_script`).
    """
    template = Template((PAGES_DIR / "templates" / name).read_text("utf-8"))
    escaped = {key: value if key.endswith("_json") else html.escape(value) for key, value in values.items()}
    return template.substitute(escaped)
