"""Reading request bodies like the server: size limit, media types, form and JSON, typed fields.

Bodies over the limit are 413; a media type other than form or JSON is 415; a body that cannot be
parsed is 422 ``form_param_format_invalid`` on ``body``; a field of the wrong type is the same error
on that field.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx
import msgspec

from . import errors

__all__ = ("Params", "read_params")

MAX_FIELDS = 100
MAX_FIELD_LENGTH = 4096


class Params:
    """The fields of a request body, with typed accessors that raise Clerk errors."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def raw(self, name: str) -> Any:
        """The value as decoded (a string, or for JSON bodies any JSON value); ``None`` if absent."""
        return self._values.get(name)

    def optional_str(self, name: str) -> str | None:
        """A text field, or ``None`` if absent. 422 if it is not text or too long."""
        value = self._values.get(name)
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
        """A non-empty text field; 422 ``form_param_missing`` when absent or blank."""
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


def read_params(request: httpx.Request, max_bytes: int) -> Params:
    """Parse a form or JSON body into :class:`Params`; an empty body gives no fields."""
    declared = request.headers.get("content-length")
    body = request.content
    if (declared is not None and declared.strip().isdigit() and int(declared) > max_bytes) or len(body) > max_bytes:
        raise errors.request_body_too_large(max_bytes)
    if not body.strip():
        return Params({})
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
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
    except msgspec.DecodeError:
        raise errors.form_param_format_invalid("body", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise errors.form_param_format_invalid("body", "The request body must be a JSON object.")
    if len(data) > MAX_FIELDS:
        raise errors.form_param_format_invalid("body", "The request body has too many fields.")
    return data
