"""The wire policy shared by every Clerk resource struct.

These structs are the single definition of Clerk's JSON shapes: the server encodes them, the SDK
decodes them. The options are chosen so that one struct serves both sides:

* ``kw_only=True`` - fields are keyword-only, so optional and required fields can be interleaved in
  Clerk's own key order.
* no ``omit_defaults`` - Clerk's schemas mark many keys *required but nullable* (``TOTP.secret``),
  so ``None`` must be encoded as ``null``, never dropped.
* ``UNSET`` for truly optional keys - a field whose default is :data:`msgspec.UNSET` is left out
  of the JSON, which is how keys that Clerk omits (``SignInFactor.safe_identifier``) stay absent.
* no ``forbid_unknown_fields`` - a newer server (or Clerk itself) may add keys; an older SDK must
  still decode its answers (msgspec schema evolution).
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ("ClerkStruct", "JSONObject")

JSONObject = dict[str, Any]
"""A free-form JSON object (metadata, ``meta``); kept as a plain dict on both sides."""


class ClerkStruct(msgspec.Struct, kw_only=True):
    """Base of every wire struct; see the module docstring for why these options."""
