"""Browsers send only GET and POST: clerk-js adds ``?_method=PUT|PATCH|DELETE`` to a POST instead."""

from __future__ import annotations

from typing import Any

from litestar import Request

from ..core import errors

__all__ = ("effective_method",)


def effective_method(request: Request[Any, Any, Any], allowed: tuple[str, ...]) -> str:
    """The method the caller means: ``_method`` on a POST, else the request's own.

    405 ``method_not_allowed`` when it is not in ``allowed``.
    """
    method = request.method.upper()
    override = request.query_params.get("_method")
    if method == "POST" and override:
        method = override.upper()
    if method not in allowed:
        raise errors.method_not_allowed(method)
    return method
