"""``totpkit gc``: delete expired leftovers from a data directory's database once, and say what went.

    totpkit gc [--data-dir D]

Runs the same sweep as the server's background task (:func:`~totpkit_server.services.expiry.sweep_expired`):
sign-ins past ``abandon_at``, sessions ended or expired a day (``idle_lifetime``) ago, idle clients
with no session or sign-in left, unbound dev browsers, rate-limit rows of ended windows. Users, MFA
credentials and the audit log are never deleted. Prints one line per kind with its count. Exit
status: 0 swept (possibly nothing), 2 no database (the command never creates one).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from .config import TOTPKitConfig
from .services.expiry import sweep_expired
from .storage.base import Store
from .storage.factory import create_store
from .storage.records import SweepCounts

__all__ = ("add_gc_command", "describe")

_LABELS = (
    ("sign_ins", "sign-ins"),
    ("sessions", "sessions"),
    ("clients", "clients"),
    ("dev_browsers", "dev browsers"),
    ("rate_limits", "rate-limit windows"),
)


def add_gc_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
    make_config: Callable[[argparse.Namespace], TOTPKitConfig],
) -> None:
    """Register ``totpkit gc``; ``make_config`` turns the parsed arguments into a configuration."""
    gc = with_data_dir(commands.add_parser("gc", help="delete expired clients, sign-ins, sessions, dev browsers"))
    gc.set_defaults(func=lambda args: _gc(make_config(args)))


def describe(counts: SweepCounts) -> str:
    """``deleted 2 sign-ins`` ... one line per kind, then the total."""
    lines = [f"deleted {getattr(counts, name)} {label}" for name, label in _LABELS]
    lines.append(f"({counts.total} row{'' if counts.total == 1 else 's'} in all)")
    return "\n".join(lines)


def _gc(config: TOTPKitConfig) -> int:
    if not config.uses_postgres and not config.sqlite_path.is_file():
        print(f"totpkit: no database at {config.sqlite_path}", file=sys.stderr)
        return 2
    print(describe(asyncio.run(_sweep(create_store(config), config))))
    return 0


async def _sweep(store: Store, config: TOTPKitConfig) -> SweepCounts:
    async with store:
        return await sweep_expired(store, config)
