"""Assembling the OpenAPI 3.1 document from the plugin's route handlers and :data:`.OPERATIONS`.

Each handler contributes its own paths and methods (mounted under ``config.path_prefix``) and its
rate limit (the ``rate_limited`` guard: 429 with ``Retry-After``); the table adds what the handler
cannot say about itself. A handler missing from the table still appears, with only its error
answers and a note, so a new route is never hidden (a test demands a table entry).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from litestar.handlers import HTTPRouteHandler

from totpkit._version import __version__

from ..http.rate_limit import rate_limited as rate_limit_guard
from .components import ERRORS, component_schemas, ref
from .fields import body_schema, query_parameter
from .operations import OPERATIONS, OperationDoc

__all__ = ("build_document", "mounted_path", "operation_key", "operation_statuses")

OPENAPI_VERSION = "3.1.0"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

_STATUS_TEXT = {
    400: "Bad request: an invalid state or strategy for this action; a disallowed Origin; Origin together with "
    "a native Authorization header; native mode without an Authorization header.",
    401: "Not authenticated: no live session (``/v1/me``, ended sessions), an unknown dev-browser token, or a "
    "missing or wrong Backend API secret key. Never for a wrong code.",
    403: "Forbidden: the user is locked out (``user_locked``), or the change needs a recent verification.",
    404: "Not found: an unknown id, an id of another client, or nothing to act on.",
    405: "Method not allowed: a ``_method`` override this route does not serve.",
    408: "The request body did not arrive within the configured time (the connection is then closed).",
    413: "The request body exceeds the configured size limit.",
    415: "The body is neither a form nor JSON.",
    422: "Invalid input: a missing, malformed, too long or out-of-range field, a body over the field or nesting "
    "limits, or a wrong code or password.",
    429: "Too many requests; ``Retry-After`` says when to try again.",
    503: "Not ready: the database does not answer, or its schema is not at this server's version.",
}
_CLIENT_QUERY = ("_is_native", "__clerk_db_jwt", "__dev_session", "_clerk_js_version", "__clerk_api_version")
_PUBLIC_QUERY = ("_clerk_js_version", "__clerk_api_version")
_PATH_PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")

_SECURITY_SCHEMES = {
    "ClientToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Native mode (``?_is_native=1``): the client token, optionally ``Bearer``-prefixed. The "
        "answer carries the (new) token in its own ``Authorization`` header.",
    },
    "ClientCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "__client",
        "description": "Browsers: the HttpOnly client cookie set by the server.",
    },
    "SecretKey": {"type": "http", "scheme": "bearer", "description": "The Backend API secret key (``sk_...``)."},
}
_CLIENT_SECURITY: list[dict[str, list[str]]] = [{}, {"ClientToken": []}, {"ClientCookie": []}]


def mounted_path(prefix: str, path: str) -> str:
    """``path`` (as a handler declares it) under ``prefix``, in OpenAPI form: ``/auth/v1/users/{user_id}``."""
    joined = prefix.rstrip("/") + "/" + path.strip("/")
    return _PATH_PARAMETER.sub(r"{\1}", joined.rstrip("/") or "/")


def operation_key(handler: HTTPRouteHandler) -> str:
    """The handler's key in :data:`.OPERATIONS` and its ``operationId``: ``<module>.<function>``."""
    module = handler.fn.__module__.rsplit(".", 1)[-1]
    return f"{module}.{handler.handler_name}"


def operation_statuses(doc: OperationDoc, *, rate_limited: bool = False) -> list[int]:
    """The 4xx statuses of an operation: its own plus those its access, body, override and guard imply."""
    statuses = set(doc.errors)
    if rate_limited:
        statuses.add(429)
    if doc.access in ("client", "me"):
        statuses |= {400, 401}
    if doc.access in ("me", "secret_key"):
        statuses.add(401)
    if doc.body is not None:
        statuses |= {408, 413, 415, 422}
    if doc.method_override:
        statuses.add(405)
    return sorted(statuses)


def build_document(prefix: str, handlers: Iterable[HTTPRouteHandler], *, title: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``handlers`` mounted under ``prefix``."""
    paths: dict[str, dict[str, Any]] = {}
    for handler in handlers:
        for raw_path in sorted(handler.paths):
            path = mounted_path(prefix, raw_path)
            for method in sorted(handler.http_methods):
                paths.setdefault(path, {})[method.lower()] = _operation(handler, path)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": __version__,
            "description": "totpkit's Clerk-compatible Frontend API (TOTP MFA) and Backend API, as this server "
            "implements them. Errors are Clerk's envelope; wrong codes are 422, never 401.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": component_schemas(), "securitySchemes": _SECURITY_SCHEMES},
    }


def _operation(handler: HTTPRouteHandler, path: str) -> dict[str, Any]:
    name = operation_key(handler)
    description = (handler.fn.__doc__ or "").strip()
    doc = OPERATIONS.get(name)
    if doc is None:
        return {
            "operationId": name,
            "summary": f"Undocumented route {name}",
            "description": description,
            "parameters": _path_parameters(path),
            "responses": {"4XX": _error_response("A Clerk error.")},
        }
    operation: dict[str, Any] = {
        "operationId": name,
        "summary": doc.summary,
        "description": description,
        "tags": [doc.tag],
        "parameters": _parameters(doc, path),
        "responses": _responses(doc, rate_limited=rate_limit_guard in (handler.guards or ())),
    }
    if doc.access == "secret_key":
        operation["security"] = [{"SecretKey": []}]
    elif doc.access != "public":
        operation["security"] = _CLIENT_SECURITY
    if doc.body is not None:
        schema = body_schema(doc.body)
        operation["requestBody"] = {
            "required": doc.body.required,
            "content": {FORM: {"schema": schema}, JSON: {"schema": schema}},
        }
    return operation


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAMETER.findall(path)
    ]


def _parameters(doc: OperationDoc, path: str) -> list[dict[str, Any]]:
    parameters = _path_parameters(path)
    names = _PUBLIC_QUERY if doc.access in ("public", "secret_key") else _CLIENT_QUERY
    parameters.extend(query_parameter(name) for name in names)
    if doc.access == "me":
        parameters.append(query_parameter("_clerk_session_id"))
    if doc.method_override:
        parameters.append(query_parameter("_method", methods=doc.method_override, required=doc.override_required))
    if doc.access != "secret_key":
        parameters.append(
            {
                "name": "Origin",
                "in": "header",
                "required": False,
                "description": "A browser's origin: echoed in the CORS headers when it is an allowed origin "
                "(by default in development: a loopback one); from any other origin, state-changing requests "
                "answer 400 origin_invalid.",
                "schema": {"type": "string"},
            }
        )
    return parameters


def _responses(doc: OperationDoc, *, rate_limited: bool) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "Success.", "content": {JSON: {"schema": doc.ok}}}
    if doc.access in ("client", "me"):
        ok["headers"] = {
            "Authorization": {
                "description": "Native mode: the client token to send on the next request.",
                "schema": {"type": "string"},
            }
        }
    responses: dict[str, Any] = {"200": ok}
    for status in operation_statuses(doc, rate_limited=rate_limited):
        responses[str(status)] = _error_response(_STATUS_TEXT[status])
    if "429" in responses:
        responses["429"]["headers"]["Retry-After"] = {"required": True, "schema": {"type": "string"}}
    return responses


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"X-Clerk-Trace-Id": {"required": True, "schema": {"type": "string"}}},
        "content": {JSON: {"schema": ref(ERRORS)}},
    }
