"""Request-rate limits: the policy (fixed windows per client and per IP address) and who the caller is.

Framework-free: the HTTP layer (:mod:`totpkit_server.http.rate_limit`) finds the caller's address and
client, the store counts atomically (:meth:`Store.hit_rate_limits
<totpkit_server.storage.base.Store.hit_rate_limits>`), and this module decides.

Windows. Time is cut into fixed windows of ``window_seconds``, aligned to the Unix epoch. Each bucket
(``client:<client id>``, ``ip:<address key>``) counts the requests it made in the current window; the
request that takes a count above its limit, and every later one in that window, is refused (429
``too_many_requests``) with ``Retry-After`` = whole seconds until the window ends (at least 1). Refused
requests count too, so hammering does not shorten the wait. Edge case of fixed windows: a caller can
fit up to twice the limit around a window boundary (the end of one window and the start of the next);
that is the price of one row per bucket.

Addresses. By default the caller's address is the direct peer of the connection and every proxy
header is ignored, so a client cannot choose its own bucket. Behind a reverse proxy, the operator
names the header the proxy sets (see :func:`client_address`). An IPv6 caller is counted per /64
network (one host usually holds a whole /64); an IPv4-mapped IPv6 address counts as its IPv4 address;
a peer that is not an IP address (Litestar's test client says ``testclient``) is used as text, and an
unknown peer is ``unknown`` (all unknown peers share one bucket).
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = (
    "FORWARDED_FOR",
    "Bucket",
    "RateLimitPolicy",
    "address_key",
    "client_address",
)

FORWARDED_FOR = "x-forwarded-for"
"""The one proxy header read as a comma-separated chain (every other header holds one address)."""

_UNKNOWN = "unknown"
_MAX_KEY_LENGTH = 64
_IPV6_NETWORK_PREFIX = 64


@dataclass(frozen=True, slots=True)
class Bucket:
    """One counter a request is charged to: its ``key`` in the store and the ``limit`` per window."""

    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class RateLimitPolicy:
    """How many requests a client and an IP address may send per window (``0`` turns a limit off)."""

    window_seconds: int
    per_client: int
    per_ip: int

    def __post_init__(self) -> None:
        if self.window_seconds < 1:
            raise ValueError("the rate-limit window must be at least 1 second")
        if self.per_client < 0 or self.per_ip < 0:
            raise ValueError("rate limits must be 0 (off) or positive")

    @property
    def window_ms(self) -> int:
        """The window length in milliseconds."""
        return self.window_seconds * 1000

    def window_start(self, now_ms: int) -> int:
        """Start (Unix ms) of the window that contains ``now_ms``."""
        return now_ms - now_ms % self.window_ms

    def retry_after(self, now_ms: int) -> int:
        """Whole seconds until the window containing ``now_ms`` ends, rounded up: 1 to ``window_seconds``."""
        remaining_ms = self.window_start(now_ms) + self.window_ms - now_ms
        return max(1, math.ceil(remaining_ms / 1000))

    def buckets(self, *, address: str, client_id: str | None) -> tuple[Bucket, ...]:
        """The buckets a request is charged to: its IP address, and its client if it has one.

        A request without a known client (a first sign-in, an unknown token) has no client bucket:
        inventing client tokens is free, so only the address can hold such callers back.
        """
        buckets = []
        if self.per_ip > 0:
            buckets.append(Bucket(f"ip:{address_key(address)}", self.per_ip))
        if self.per_client > 0 and client_id is not None:
            buckets.append(Bucket(f"client:{client_id}", self.per_client))
        return tuple(buckets)

    @staticmethod
    def exceeded(buckets: Sequence[Bucket], counts: Sequence[int]) -> bool:
        """Whether any bucket's count in this window (this request included) is above its limit."""
        return any(count > bucket.limit for bucket, count in zip(buckets, counts, strict=True))


def client_address(peer: str | None, header_values: Sequence[str], *, header: str | None, hops: int = 1) -> str:
    """The caller's address: the direct ``peer``, or what a trusted proxy put in ``header``.

    Args:
        peer: The connection's peer host (``None`` when the server does not know it).
        header_values: Every value of ``header`` in the request, in order (ignored when ``header``
            is ``None``).
        header: The trusted proxy's header, lower-case, or ``None`` to trust no header.
        hops: With ``x-forwarded-for``: how many trusted proxies append to the chain. The caller is
            the entry ``hops`` places from the right (each proxy appends the peer it saw, so entries
            further left were written by the client and are not trusted). A chain shorter than
            ``hops`` means fewer proxies were passed; its leftmost entry is used.

    Returns:
        The address text (not yet normalised, see :func:`address_key`). When the header is absent
        or empty the direct peer is used, or ``unknown`` without one. Any other header is read as
        one address; if it appears more than once, the last value (the nearest proxy's) wins.
    """
    fallback = peer or _UNKNOWN
    if header is None:
        return fallback
    if header == FORWARDED_FOR:
        chain = [entry.strip() for value in header_values for entry in value.split(",") if entry.strip()]
        if not chain:
            return fallback
        return chain[-hops] if len(chain) >= hops else chain[0]
    values = [value.strip() for value in header_values if value.strip()]
    return values[-1] if values else fallback


def address_key(address: str) -> str:
    """The bucket key of an address: IPv4 as is, IPv6 as its /64 network, anything else as bounded text.

    Ports (``1.2.3.4:5678``, ``[2001:db8::1]:443``) are dropped; an IPv4-mapped IPv6 address becomes
    its IPv4 address. Text that is no IP address is lower-cased and cut to 64 characters.
    """
    parsed = _parse_ip(address.strip())
    if parsed is None:
        return address.strip().lower()[:_MAX_KEY_LENGTH] or _UNKNOWN
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, _IPV6_NETWORK_PREFIX), strict=False))
    return str(parsed)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    candidates = [text]
    if text.startswith("[") and "]" in text:
        candidates.append(text[1 : text.index("]")])
    elif text.count(":") == 1:
        candidates.append(text.split(":", 1)[0])
    for candidate in candidates:
        try:
            return ipaddress.ip_address(candidate.split("%", 1)[0])
        except ValueError:
            continue
    return None
