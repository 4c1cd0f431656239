"""Defaults shared by the SDK's clients: timeouts, retry policy and the Clerk API version."""

from __future__ import annotations

import httpx

__all__ = (
    "DEFAULT_API_VERSION",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "INITIAL_RETRY_DELAY",
    "MAX_RETRY_AFTER",
    "MAX_RETRY_DELAY",
)

DEFAULT_API_VERSION = "2026-05-12"
"""The Clerk FAPI version the SDK speaks (sent as the ``clerk-api-version`` header)."""

DEFAULT_TIMEOUT = httpx.Timeout(timeout=30.0, connect=5.0)
"""30 s for the whole request, 5 s to connect."""

DEFAULT_MAX_RETRIES = 2
"""Retries after the first attempt (429 and unsent requests always; 5xx and timeouts only for reads)."""

INITIAL_RETRY_DELAY = 0.5
"""Seconds before the first retry; doubles on every further retry."""

MAX_RETRY_DELAY = 8.0
"""Upper bound of the exponential backoff, in seconds."""

MAX_RETRY_AFTER = 60.0
"""A ``Retry-After`` longer than this (in seconds) is ignored in favour of the backoff."""
