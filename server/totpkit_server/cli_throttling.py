"""How ``totpkit serve`` tells uvicorn about the trusted proxy (see ``TOTPKitConfig.trusted_proxy_header``).

The rate-limit and proxy options themselves (``--rate-limit-window``, ``--rate-limit-per-client``,
``--rate-limit-per-ip``, ``--trusted-proxy-header``, ``--trusted-proxy-hops`` and their ``TOTPKIT_*``
variables) are rows of :data:`~totpkit_server.cli_settings.SETTINGS`.

Without ``--trusted-proxy-header`` the caller's address is the connection's peer, and uvicorn's own
``X-Forwarded-*`` handling is switched off too (see :func:`uvicorn_proxy_settings`), so a client
cannot choose its rate-limit bucket by sending a header. With it, uvicorn keeps its default handling
(``X-Forwarded-Proto`` from the proxies in ``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default), which
sets the scheme of the default token issuer; totpkit reads the caller's address from the named
header itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ("uvicorn_proxy_settings",)


def uvicorn_proxy_settings(trusted_proxy_header: str | None) -> dict[str, Any]:
    """uvicorn keyword arguments: no proxy headers at all unless a trusted proxy is configured.

    uvicorn would otherwise rewrite the peer address from ``X-Forwarded-For`` for every request
    from 127.0.0.1, letting any local caller pick its rate-limit bucket.
    """
    return {} if trusted_proxy_header else {"proxy_headers": False}
