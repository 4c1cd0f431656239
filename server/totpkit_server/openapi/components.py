"""The document's response schemas, generated from the msgspec wire structs the server encodes with.

The structs in :mod:`totpkit.types` are the one definition of every JSON shape, so their JSON Schema
(``msgspec.json.schema_components``) is what the document publishes; nothing here restates a field.
Two things are tightened because the server's encoder guarantees them: every field without an
``UNSET`` default is listed as required (the structs do not omit defaults), and no other key appears
(``additionalProperties: false``; free-form JSON objects inside stay open).
"""

from __future__ import annotations

from typing import Any

import msgspec

from totpkit.types import (
    JWKS,
    TOTP,
    ActiveSession,
    BackupCodes,
    ClerkErrors,
    Client,
    DeletedObject,
    Environment,
    Session,
    SessionVerification,
    SignIn,
    Token,
    TOTPVerification,
    User,
    UserIdResponse,
)

__all__ = ("DEV_BROWSER", "ERRORS", "OPENAPI_OBJECT", "component_schemas", "ref", "wrapped", "wrapped_name")

ERRORS = "ClerkErrors"
"""Component name of Clerk's error envelope, the body of every 4xx answer."""

DEV_BROWSER = "DevBrowser"
"""Component name of ``POST /v1/dev_browser``'s answer (not a shared struct: only the server makes it)."""

OPENAPI_OBJECT = "OpenAPIDocument"
"""Component name of the document itself (served by ``GET <openapi_path>``)."""

_REF_TEMPLATE = "#/components/schemas/{name}"

_STRUCTS: tuple[type[msgspec.Struct], ...] = (
    User,
    Client,
    Session,
    ActiveSession,
    SignIn,
    SessionVerification,
    TOTP,
    BackupCodes,
    DeletedObject,
    Token,
    JWKS,
    Environment,
    ClerkErrors,
    TOTPVerification,
    UserIdResponse,
)

_WRAPPED_RESOURCES = (
    "Client",
    "Session",
    "SessionVerification",
    "SignIn",
    "TOTP",
    "BackupCodes",
    "DeletedObject",
    "User",
)
"""Resources that FAPI answers inside ``{"response": ..., "client": ...}``."""

_ALWAYS_SENT = {ERRORS: ("clerk_trace_id",)}
"""``UNSET``-default fields the server nevertheless always sends."""


def ref(name: str) -> dict[str, str]:
    """A ``$ref`` to the component schema ``name``."""
    return {"$ref": _REF_TEMPLATE.format(name=name)}


def wrapped_name(resource: str, *, nullable: bool = False) -> str:
    """Component name of ``{"response": <resource>, "client": <Client or null>}``."""
    return f"ClientWrapped{resource}{'OrNull' if nullable else ''}"


def wrapped(resource: str, *, nullable: bool = False) -> dict[str, str]:
    """A ``$ref`` to the wrapped answer of ``resource`` (``nullable``: ``response`` may be ``null``)."""
    return ref(wrapped_name(resource, nullable=nullable))


def component_schemas() -> dict[str, Any]:
    """Every schema the document refers to, keyed by component name."""
    _, components = msgspec.json.schema_components(_STRUCTS, ref_template=_REF_TEMPLATE)
    for struct in _STRUCTS:
        _tighten(components, struct)
    for resource in _WRAPPED_RESOURCES:
        components[wrapped_name(resource)] = _envelope(ref(resource))
    components[wrapped_name("Client", nullable=True)] = _envelope({"anyOf": [ref("Client"), {"type": "null"}]})
    components[DEV_BROWSER] = {
        "type": "object",
        "description": "A new dev-browser token: send it back as the ``__clerk_db_jwt`` query parameter.",
        "properties": {"object": {"const": "dev_browser"}, "id": {"type": "string", "pattern": "^dvb_"}},
        "required": ["object", "id"],
        "additionalProperties": False,
    }
    components[OPENAPI_OBJECT] = {
        "type": "object",
        "description": "This OpenAPI 3.1 document.",
        "required": ["openapi", "info", "paths"],
    }
    return dict(sorted(components.items()))


def _envelope(response: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The resource and the caller's whole Client as it is after the request (null without one).",
        "properties": {"response": response, "client": {"anyOf": [ref("Client"), {"type": "null"}]}},
        "required": ["response", "client"],
        "additionalProperties": False,
    }


def _tighten(components: dict[str, Any], struct: type[msgspec.Struct]) -> None:
    """Require every field the encoder always writes and forbid keys the struct does not have."""
    name = struct.__name__
    schema = components[name]
    info = msgspec.inspect.type_info(struct)
    assert isinstance(info, msgspec.inspect.StructType)  # noqa: S101 - _STRUCTS holds structs only
    always = set(_ALWAYS_SENT.get(name, ()))
    required = [f.encode_name for f in info.fields if f.default is not msgspec.UNSET or f.name in always]
    if info.tag_field is not None:
        required.insert(0, info.tag_field)
    schema["required"] = required
    schema["additionalProperties"] = False
