"""Request inputs as the document states them: query parameters and request-body fields.

Every constraint is taken from the code that enforces it (:mod:`totpkit.types.request_body`'s
limits, the user-creation checks), so the document cannot promise more or less than the server
accepts. Bodies are ``application/x-www-form-urlencoded`` (what Clerk's clients send; a list is a
repeated key) or ``application/json``, with the same fields; unknown fields are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from totpkit.types.request_body import (
    MAX_CODE_LENGTH,
    MAX_FIELD_LENGTH,
    MAX_FIELDS,
    MAX_IDENTIFIER_LENGTH,
    SECOND_FACTOR_STRATEGIES,
)

from ..services.reverification import LEVELS
from ..services.users import (
    MAX_BACKUP_CODE_LENGTH,
    MAX_IMPORTED_BACKUP_CODES,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
)

__all__ = ("EMPTY", "Body", "Field", "body_schema", "query_parameter", "text")

_NOT_BLANK = r"\S"


def text(
    *, max_length: int = MAX_FIELD_LENGTH, min_length: int = 0, non_blank: bool | None = None, description: str = ""
) -> dict[str, Any]:
    """A text field. ``non_blank`` (default: when ``min_length`` is set) demands a non-space character,
    for fields where a blank value counts as missing."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    if non_blank or (non_blank is None and min_length):
        schema["pattern"] = _NOT_BLANK
    if description:
        schema["description"] = description
    return schema


def _choice(*values: str, description: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(values), "description": description}


CODE = text(
    min_length=1, max_length=MAX_CODE_LENGTH, description="A TOTP code (6 digits) or a backup code; longer is 422."
)
IDENTIFIER = text(min_length=1, max_length=MAX_IDENTIFIER_LENGTH, description="The user's email address.")
PASSWORD = text(description="The user's password (empty: none given).")
REQUIRED_PASSWORD = text(min_length=1, description="The user's password.")
NEW_PASSWORD = text(
    min_length=MIN_PASSWORD_LENGTH,
    max_length=MAX_PASSWORD_LENGTH,
    non_blank=False,
    description="The new user's password; omit for none.",
)
NAME = text(max_length=256)


def _one_or_list(item: dict[str, Any], *, min_items: int, max_items: int, description: str) -> dict[str, Any]:
    """A list field: a JSON array or repeated form key of ``item``, or a single ``item``."""
    array = {"type": "array", "items": item, "minItems": min_items, "maxItems": max_items}
    return {"description": description, "anyOf": [item, array]}


EMAIL_LIST = _one_or_list(
    text(min_length=1, max_length=MAX_IDENTIFIER_LENGTH),
    min_items=1,
    max_items=1,
    description="The new user's email address.",
)
TOTP_SECRET = text(max_length=MAX_FIELD_LENGTH, description="An existing base32 TOTP secret to import (verified).")
BACKUP_CODE_LIST = _one_or_list(
    text(min_length=1, max_length=MAX_BACKUP_CODE_LENGTH),
    min_items=0,
    max_items=MAX_IMPORTED_BACKUP_CODES,
    description="Backup codes to import: plain codes or bcrypt digests (replaces any set).",
)
SIGN_IN_STRATEGY = _choice("password", "", description="Omit (or ``password``) to sign in with ``password``.")
FIRST_FACTOR_STRATEGY = _choice("password", description="The only first factor totpkit offers.")
SECOND_FACTOR_STRATEGY = _choice(*SECOND_FACTOR_STRATEGIES, description="Which kind of ``code`` this is.")
LEVEL = _choice(*LEVELS, description="What the reverification asks for.")


@dataclass(frozen=True)
class Field:
    """One body field: its schema and whether the request needs it."""

    schema: dict[str, Any]
    required: bool = False


@dataclass(frozen=True)
class Body:
    """The fields a request body may carry; any other field is ignored, or refused (422) if ``closed``."""

    fields: dict[str, Field]
    description: str = ""
    closed: bool = False

    @property
    def required(self) -> bool:
        """Whether the body must be sent (some field is required)."""
        return any(field.required for field in self.fields.values())


EMPTY = Body({}, "No fields are read; clerk-js sends an empty form. The body is still size- and type-checked.")


def body_schema(body: Body) -> dict[str, Any]:
    """The JSON Schema of ``body`` (the same for both media types).

    An optional field may also be JSON ``null``, which reads as absent.
    """
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            name: field.schema if field.required else {"anyOf": [field.schema, {"type": "null"}]}
            for name, field in body.fields.items()
        },
        "maxProperties": MAX_FIELDS,
    }
    required = [name for name, field in body.fields.items() if field.required]
    if required:
        schema["required"] = required
    if body.closed:
        schema["additionalProperties"] = False
    if body.description:
        schema["description"] = body.description
    return schema


_QUERY: dict[str, dict[str, Any]] = {
    "_is_native": {
        "description": "``1`` or ``true``: native mode, the client token travels in ``Authorization`` both ways.",
        "schema": {"type": "string"},
    },
    "__clerk_db_jwt": {
        "description": "A dev-browser token from ``POST /v1/dev_browser``; unknown ones are 401.",
        "schema": {"type": "string"},
    },
    "__dev_session": {"description": "Older name of ``__clerk_db_jwt``.", "schema": {"type": "string"}},
    "_clerk_session_id": {
        "description": "Which of the client's sessions ``/v1/me`` acts on (default: the last active one).",
        "schema": {"type": "string"},
    },
    "_clerk_js_version": {"description": "Accepted and ignored.", "schema": {"type": "string"}},
    "__clerk_api_version": {"description": "Accepted and ignored.", "schema": {"type": "string"}},
}


def _any_case(word: str) -> str:
    """A regular expression matching ``word`` in any letter case (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def query_parameter(name: str, *, methods: tuple[str, ...] = (), required: bool = False) -> dict[str, Any]:
    """The OpenAPI parameter object of query parameter ``name``.

    ``_method`` is the browser method override: its allowed values are ``methods``; ``required``
    when the route serves only overridden requests (a plain POST is 405 there).
    """
    if name == "_method":
        allowed = [*methods] if required else ["", *methods]
        return {
            "name": "_method",
            "in": "query",
            "required": required,
            "description": f"Browsers send only GET and POST: the method meant, one of {', '.join(methods)} in any "
            "case" + ("" if required else " (empty: the request's own)") + ". Any other value is 405.",
            "schema": {"type": "string", "pattern": "^(" + "|".join(map(_any_case, allowed)) + ")$"},
        }
    return {"name": name, "in": "query", "required": False, **_QUERY[name]}
