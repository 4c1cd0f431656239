"""How FAPI request bodies are read: the rules the server and the SDK's fake share.

Clerk's clients send ``application/x-www-form-urlencoded`` bodies (clerk-js sets the content type
even for an empty body); JSON is accepted too for raw-HTTP users. Unknown fields are ignored
(clerk-js adds several). A body that cannot be parsed is 422 ``form_param_format_invalid`` on
``body``; a field of the wrong type is the same error on that field; any other media type is 415.
The size limit is the caller's (it reads the body).

Limits (each answered with 422 ``form_param_format_invalid`` before any field is used):

* at most :data:`MAX_FIELDS` fields: a form body is refused by counting its separators, before any
  field is split off, so a flood of fields costs no memory beyond the (size-limited) body;
* JSON nested at most :data:`MAX_JSON_DEPTH` levels;
* text fields at most :data:`MAX_FIELD_LENGTH` characters, and the fields in
  :data:`FIELD_MAX_LENGTHS` (``code``, ``identifier``, ``email_address``) far less, so a code or
  identifier is refused before it is hashed, looked up or counted as a failed attempt;
* no text field may contain a NUL character (U+0000): no identifier, name or code has one, and
  PostgreSQL cannot store it, so every backend answers the same 422.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import msgspec

from . import error_answers as errors

__all__ = (
    "FIELD_MAX_LENGTHS",
    "MAX_CODE_LENGTH",
    "MAX_FIELDS",
    "MAX_FIELD_LENGTH",
    "MAX_IDENTIFIER_LENGTH",
    "MAX_JSON_DEPTH",
    "SECOND_FACTOR_STRATEGIES",
    "Params",
    "parse_body",
    "password_attempt",
    "second_factor_attempt",
)

MAX_FIELDS = 100
"""Most fields a body may carry."""

MAX_FIELD_LENGTH = 4096
"""Longest accepted value of a text field not named in :data:`FIELD_MAX_LENGTHS`."""

MAX_CODE_LENGTH = 64
"""Longest accepted ``code`` (TOTP or backup code): longer ones are refused without any hashing."""

MAX_IDENTIFIER_LENGTH = 256
"""Longest accepted ``identifier`` (sign-in) or ``email_address`` (user creation)."""

FIELD_MAX_LENGTHS: dict[str, int] = {
    "code": MAX_CODE_LENGTH,
    "identifier": MAX_IDENTIFIER_LENGTH,
    "email_address": MAX_IDENTIFIER_LENGTH,
}
"""Fields with a tighter length limit than :data:`MAX_FIELD_LENGTH` (also each item of a list)."""

MAX_JSON_DEPTH = 32
"""Deepest accepted nesting of a JSON body (the top-level object is depth 1)."""

SECOND_FACTOR_STRATEGIES = ("totp", "backup_code")
"""The ``strategy`` values a second-factor attempt (sign-in or reverification) accepts."""


class _Repeated(list[str]):
    """The values of a form field sent more than once (a JSON array is a plain ``list``)."""


class Params:
    """The fields of a request body, with typed accessors that raise Clerk errors.

    A text field must be text: a JSON array (or object, number...) in its place is 422, while a form
    field sent several times gives its first value. A list field takes a repeated form field, a JSON
    array or a single text value.
    """

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def names(self) -> list[str]:
        """The names of the fields present, in body order (to refuse fields a request does not take)."""
        return list(self._values)

    def raw(self, name: str) -> Any:
        """The value as decoded (a string, or for JSON bodies any JSON value); ``None`` if absent."""
        return self._values.get(name)

    def optional_str(self, name: str) -> str | None:
        """A text field, or ``None`` if absent (or JSON ``null``); of a repeated form field, the first value.

        422 ``form_param_format_invalid`` if it is not text or longer than its limit (see
        :data:`FIELD_MAX_LENGTHS`).
        """
        value = self._values.get(name)
        if value is None:
            return None
        if isinstance(value, _Repeated):
            value = value[0]
        if not isinstance(value, str):
            raise errors.form_param_format_invalid(name, f"{name} must be a string.")
        _check_text(name, value)
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
        for item in items:
            _check_text(name, item)
        return list(items)


def password_attempt(params: Params) -> str:
    """The password of an ``attempt_first_factor`` body (``strategy=password&password=...``).

    422 ``form_param_missing`` without ``strategy`` or ``password``; 422 ``form_param_value_invalid``
    for any strategy but ``password``.
    """
    strategy = params.required_str("strategy")
    if strategy != "password":
        raise errors.form_param_value_invalid("strategy", strategy)
    return params.required_str("password")


def second_factor_attempt(params: Params) -> tuple[str, str]:
    """``(strategy, code)`` of an ``attempt_second_factor`` body (``strategy=totp|backup_code&code=...``).

    422 ``form_param_missing`` without either field; 422 ``form_param_value_invalid`` for a strategy
    outside :data:`SECOND_FACTOR_STRATEGIES` (checked before the code is looked at).
    """
    strategy = params.required_str("strategy")
    if strategy not in SECOND_FACTOR_STRATEGIES:
        raise errors.form_param_value_invalid("strategy", strategy)
    return strategy, params.required_str("code")


def _check_text(name: str, value: str) -> None:
    """422 ``form_param_format_invalid`` for a value over its length limit or holding a NUL character."""
    limit = FIELD_MAX_LENGTHS.get(name, MAX_FIELD_LENGTH)
    if len(value) > limit:
        raise errors.form_param_format_invalid(name, f"{name} must be at most {limit} characters.")
    if "\x00" in value:
        raise errors.form_param_format_invalid(name, f"{name} must not contain NUL characters.")


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
            values[key] = _Repeated([*existing, value] if isinstance(existing, list) else [existing, value])
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
    if _depth_exceeds(data, MAX_JSON_DEPTH):
        raise errors.form_param_format_invalid("body", "The request body is nested too deeply.")
    return data


def _depth_exceeds(document: dict[str, Any], limit: int) -> bool:
    """Whether any value sits deeper than ``limit`` levels (iterative: no recursion on hostile input)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                pending.append((child, depth + 1))
    return False
