"""Browser origins: the exact ``scheme://host[:port]`` strings of the CORS allow-list.

Shared by the server and the SDK's fake, so both accept the same origins.
:func:`normalize_origin` checks and canonicalises a configured origin (lowercase, default port
dropped, no path); :func:`origin_allowed` decides whether a request's ``Origin`` header is accepted:
an entry of the configured list, or, without a list (``None``), a loopback origin only (``http``/
``https`` on ``localhost``, ``127.0.0.0/8`` or ``[::1]``, any port). The opaque origin ``null``
(sandboxed frames, ``file:`` pages, some redirects) is never accepted.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ("is_loopback_origin", "normalize_origin", "origin_allowed")

_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(text: str) -> str:
    """``text`` as a canonical origin: ``scheme://host[:port]``, lowercase, without a default port.

    Raises:
        ValueError: not ``http``/``https``, no host, or a path, query, fragment or user name.
    """
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{text!r} is not an origin (scheme://host[:port]): {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES or not parts.hostname:
        raise ValueError(f"{text!r} is not an origin: expected http:// or https:// and a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username is not None:
        raise ValueError(f"{text!r} is not an origin: no path, query, fragment or user name")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{host}{suffix}"


def is_loopback_origin(origin: str) -> bool:
    """Whether ``origin`` is ``http``/``https`` on ``localhost``, ``127.0.0.0/8`` or ``[::1]`` (any port)."""
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        return False
    host = parts.hostname
    if parts.scheme.lower() not in _SCHEMES or not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_allowed(origin: str, allowed: tuple[str, ...] | None) -> bool:
    """Whether a request's ``Origin`` is accepted: listed in ``allowed`` (already normalised), or,
    when ``allowed`` is ``None``, a loopback origin. ``null`` never is."""
    if allowed is None:
        return is_loopback_origin(origin)
    try:
        return normalize_origin(origin) in allowed
    except ValueError:
        return False
