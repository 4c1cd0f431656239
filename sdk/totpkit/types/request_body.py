"""How FAPI request bodies are read: the rules the server and the SDK's fake share.

Clerk's clients send ``application/x-www-form-urlencoded`` bodies (clerk-js sets the content type
even for an empty body); JSON is accepted too for raw-HTTP users. Unknown fields are ignored
(clerk-js adds several). A body that cannot be parsed is 422 ``form_param_format_invalid`` on
``body``; a field of the wrong type is the same error on that field; any other media type is 415.
The size limit is the caller's (it reads the body).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec

from . import error_answers as errors

__all__ = ("MAX_FIELDS", "MAX_FIELD_LENGTH", "Params", "parse_body")

MAX_FIELDS = 100
"""Most fields a body may carry."""

MAX_FIELD_LENGTH = 4096
"""Longest accepted value of a text field."""


class Params:
    """The fields of a request body, with typed accessors that raise Clerk errors."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def raw(self, name: str) -> Any:
        """The value as decoded (a string, or for JSON bodies any JSON value); ``None`` if absent."""
        return self._values.get(name)

    def optional_str(self, name: str) -> str | None:
        """A text field, or ``None`` if absent. 422 if it is not text or too long."""
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, list):
            value = value[0] if value else None
            if value is None:
                return None
        if not isinstance(value, str):
            raise errors.form_param_format_invalid(name, f"{name} must be a string.")
        if len(value) > MAX_FIELD_LENGTH:
            raise errors.form_param_format_invalid(name, f"{name} is too long.")
        return value

    def required_str(self, name: str) -> str:
        """A non-empty text field; 422 ``form_param_missing`` when absent or empty."""
        value = self.optional_str(name)
        if value is None or not value.strip():
            raise errors.form_param_missing(name)
        return value

    def optional_str_list(self, name: str, *, max_items: int = 100) -> list[str] | None:
        """A list of strings (repeated form keys or a JSON array); a single string becomes a list."""
        value = self._values.get(name)
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        if len(items) > max_items or not all(isinstance(item, str) for item in items):
            raise errors.form_param_format_invalid(name, f"{name} must be a list of strings.")
        if any(len(item) > MAX_FIELD_LENGTH for item in items):
            raise errors.form_param_format_invalid(name, f"{name} has a value that is too long.")
        return list(items)


def parse_body(body: bytes, content_type: str) -> Params:
    """Parse a form or JSON body (by its ``Content-Type`` header) into :class:`Params`.

    An empty or blank body gives no fields, whatever its content type.
    """
    if not body.strip():
        return Params({})
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in ("", "application/x-www-form-urlencoded"):
        return Params(_parse_form(body))
    if media_type == "application/json" or media_type.endswith("+json"):
        return Params(_parse_json(body))
    raise errors.unsupported_content_type(media_type)


def _parse_form(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise errors.form_param_format_invalid("body", "The request body is not a valid form.") from None
    values: dict[str, Any] = {}
    for key, value in pairs:
        if key in values:
            existing = values[key]
            values[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            values[key] = value
    return values


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = msgspec.json.decode(body)
    except (ValueError, RecursionError):  # DecodeError and UnicodeDecodeError are ValueErrors
        raise errors.form_param_format_invalid("body", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise errors.form_param_format_invalid("body", "The request body must be a JSON object.")
    if len(data) > MAX_FIELDS:
        raise errors.form_param_format_invalid("body", "The request body has too many fields.")
    return data
