"""``totpkit serve`` options for request-rate limits and the trusted proxy (see ``TOTPKitConfig``).

    --rate-limit-window SECONDS  --rate-limit-per-client N  --rate-limit-per-ip N  (0 turns a limit off)
    --trusted-proxy-header HEADER [--trusted-proxy-hops N]

Without ``--trusted-proxy-header`` the caller's address is the connection's peer, and uvicorn's own
``X-Forwarded-*`` handling is switched off too (see :func:`uvicorn_proxy_settings`), so a client
cannot choose its rate-limit bucket by sending a header. With it, uvicorn keeps its default handling
(``X-Forwarded-Proto`` from the proxies in ``FORWARDED_ALLOW_IPS``, 127.0.0.1 by default), which
sets the scheme of the default token issuer; totpkit reads the caller's address from the named
header itself.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ("add_throttling_options", "throttling_settings", "uvicorn_proxy_settings")

_FIELDS = (
    "rate_limit_window",
    "rate_limit_per_client",
    "rate_limit_per_ip",
    "trusted_proxy_header",
    "trusted_proxy_hops",
)


def add_throttling_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the rate-limit and proxy options to ``parser`` (unset options keep the config defaults)."""
    group = parser.add_argument_group("rate limits")
    group.add_argument("--rate-limit-window", type=int, default=None, metavar="SECONDS")
    group.add_argument("--rate-limit-per-client", type=int, default=None, metavar="N")
    group.add_argument("--rate-limit-per-ip", type=int, default=None, metavar="N")
    group.add_argument(
        "--trusted-proxy-header",
        default=None,
        metavar="HEADER",
        help="read the caller's address from this header (x-forwarded-for, x-real-ip) set by your proxy",
    )
    group.add_argument("--trusted-proxy-hops", type=int, default=None, metavar="N")
    return parser


def uvicorn_proxy_settings(trusted_proxy_header: str | None) -> dict[str, Any]:
    """uvicorn keyword arguments: no proxy headers at all unless a trusted proxy is configured.

    uvicorn would otherwise rewrite the peer address from ``X-Forwarded-For`` for every request
    from 127.0.0.1, letting any local caller pick its rate-limit bucket.
    """
    return {} if trusted_proxy_header else {"proxy_headers": False}


def throttling_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ``TOTPKitConfig`` fields given on the command line (none for commands without the options)."""
    return {name: getattr(args, name) for name in _FIELDS if getattr(args, name, None) is not None}
