"""``totpkit audit``: list the audit log of a data directory's database.

    totpkit audit [--data-dir D] [--user USER_ID] [--since T] [--until T] [--limit N] [--json]

Events are listed oldest first (append order). ``--since`` (inclusive) and ``--until`` (exclusive)
take ISO 8601 (``2026-05-12T10:00:00Z``; without an offset the time is UTC; a bare date is its
midnight UTC) or Unix seconds (``1778580000``, fractions allowed). ``--limit`` caps the number of
events (default 100, at most 100000). The default output is a table; ``--json`` prints one JSON
object per line with every stored field. Exit status: 0 listed (possibly nothing), 2 bad arguments
or no database (the command never creates one).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import msgspec

from .cli_settings import missing_data_dir
from .config import TOTPKitConfig
from .storage.base import Store
from .storage.factory import create_store
from .storage.records import AuditEventRecord

__all__ = ("add_audit_command", "parse_time")

DEFAULT_LIMIT = 100
MAX_LIMIT = 100_000
_PAGE = 1000
_MAX_SECONDS = 95_617_584_000  # 5000-01-01
_COLUMNS = ("seq", "time (UTC)", "event", "outcome", "user", "client", "ip", "trace id")


def parse_time(text: str) -> int:
    """``text`` (ISO 8601 or Unix seconds) as Unix milliseconds.

    Raises ValueError if it is neither, or for seconds that are not finite or beyond year 5000.
    """
    try:
        seconds = float(text)
    except ValueError:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return round(moment.timestamp() * 1000)
    if not math.isfinite(seconds) or abs(seconds) > _MAX_SECONDS:
        raise ValueError(f"{text!r} is out of range")
    return round(seconds * 1000)


def _time_argument(text: str) -> int:
    try:
        return parse_time(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time or Unix seconds: {text!r}") from None


def _limit_argument(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return value


def add_audit_command(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
    make_config: Callable[[argparse.Namespace], TOTPKitConfig],
) -> None:
    """Register ``totpkit audit``; ``make_config`` turns the parsed arguments into a configuration."""
    audit = with_data_dir(commands.add_parser("audit", help="list the audit log (security events)"))
    audit.add_argument("--user", default=None, help="only events of this user id")
    audit.add_argument("--since", type=_time_argument, default=None, help="ISO 8601 or Unix seconds (inclusive)")
    audit.add_argument("--until", type=_time_argument, default=None, help="ISO 8601 or Unix seconds (exclusive)")
    audit.add_argument("--limit", type=_limit_argument, default=DEFAULT_LIMIT, help="at most N events (default 100)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    audit.set_defaults(func=lambda args: _audit(args, make_config(args)))


def _audit(args: argparse.Namespace, config: TOTPKitConfig) -> int:
    if config.database_url is None and (problem := missing_data_dir(config.data_dir, args)):
        print(f"totpkit: {problem}", file=sys.stderr)
        return 2
    if not config.uses_postgres and not config.sqlite_path.is_file():
        print(
            f"totpkit: no database at {config.sqlite_path.resolve()}; point --data-dir or TOTPKIT_DATA_DIR at the "
            "server's data directory",
            file=sys.stderr,
        )
        return 2
    events = asyncio.run(_read(create_store(config), args))
    if args.json:
        for event in events:
            print(msgspec.json.encode(event).decode())
    else:
        print(_table(events))
    return 0


async def _read(store: Store, args: argparse.Namespace) -> list[AuditEventRecord]:
    """Up to ``args.limit`` matching events, fetched a page at a time."""
    events: list[AuditEventRecord] = []
    async with store:
        while len(events) < args.limit:
            page = await store.list_audit_events(
                user_id=args.user,
                since=args.since,
                until=args.until,
                after_seq=(events[-1].seq or 0) if events else 0,
                limit=min(_PAGE, args.limit - len(events)),
            )
            events.extend(page)
            if len(page) < _PAGE:
                break
    return events


def _table(events: list[AuditEventRecord]) -> str:
    rows = [_COLUMNS] + [
        (
            str(e.seq),
            datetime.fromtimestamp(e.at / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            e.event,
            e.outcome,
            e.user_id or "-",
            e.client_id or "-",
            e.ip or "-",
            e.trace_id or "-",
        )
        for e in events
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append(f"({len(events)} event{'' if len(events) == 1 else 's'})")
    return "\n".join(lines)
