"""``totpkit keys list | rotate | reseal | retire``: key rotation from the command line.

    totpkit keys list    [--data-dir D] [--keys-file F]
    totpkit keys rotate  [--sealing] [--signing] [--data-dir D] [--keys-file F]
    totpkit keys reseal  [--batch-size N] [--data-dir D] [--keys-file F]
    totpkit keys retire  KEY_ID [--data-dir D] [--keys-file F]

The commands edit the keys file a server starts with: ``--keys-file`` (or ``TOTPKIT_KEYS_FILE``),
else the development keys in ``<data-dir>/keys.json``. The file is replaced atomically and stays
mode 0600; key material is never printed, only key ids. Every server process that uses the file
re-reads it when it changes, so ``rotate`` and ``retire`` need no restart. ``rotate`` without
``--sealing``/``--signing`` rotates both. Exit status: 0 done, 1 refused or incomplete (the message
says why; nothing was changed by a refusal), 2 no readable keys file or no database.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from .cli_settings import missing_data_dir
from .config import TOTPKitConfig
from .core.tokens import SigningKey
from .key_rotation import (
    DEFAULT_BATCH_SIZE,
    KeyRetirementRefused,
    missing_sealing_keys,
    reseal_all,
    retire_key,
    with_new_sealing_key,
    with_new_signing_key,
)
from .keys import KEYS_FILE, InstanceKeys, KeyConfigurationError, read_keys_file, replace_keys_file
from .storage.base import Store
from .storage.factory import create_store
from .storage.records import SealingKeyUsage

__all__ = ("add_key_commands",)

_RESTART = "Every server process using this keys file re-reads it at its next request (no restart needed)."
_MAX_BATCH_SIZE = 10_000


def add_key_commands(
    key_commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_data_dir: Callable[[argparse.ArgumentParser], argparse.ArgumentParser],
) -> None:
    """Register ``list``, ``rotate``, ``reseal`` and ``retire`` under ``totpkit keys``."""
    listing = with_data_dir(key_commands.add_parser("list", help="show key ids and what each still protects"))
    listing.set_defaults(func=_list)

    rotate = with_data_dir(key_commands.add_parser("rotate", help="add new keys that seal / sign from now on"))
    rotate.add_argument("--sealing", action="store_true", help="rotate the sealing key (default: both)")
    rotate.add_argument("--signing", action="store_true", help="rotate the session-token signing key")
    rotate.set_defaults(func=_rotate)

    reseal = with_data_dir(key_commands.add_parser("reseal", help="re-seal TOTP secrets under the active key"))
    reseal.add_argument(
        "--batch-size", type=_batch_size, default=DEFAULT_BATCH_SIZE, help="secrets re-sealed per transaction"
    )
    reseal.set_defaults(func=_reseal)

    retire = with_data_dir(key_commands.add_parser("retire", help="remove a sealing or signing key"))
    retire.add_argument("key_id", help="the id of the key to remove (`totpkit keys list` shows them)")
    retire.set_defaults(func=_retire)


def _batch_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= _MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"must be between 1 and {_MAX_BATCH_SIZE}")
    return value


def _keys_path(args: argparse.Namespace) -> Path:
    return Path(args.keys_file) if args.keys_file else Path(args.data_dir) / KEYS_FILE


def _read(args: argparse.Namespace) -> tuple[Path, InstanceKeys] | None:
    if not args.keys_file and (problem := missing_data_dir(Path(args.data_dir), args)):
        _fail(problem)
        return None
    path = _keys_path(args)
    if not path.exists():
        _fail(
            f"no keys file at {path.resolve()}; pass --keys-file (or TOTPKIT_KEYS_FILE), point --data-dir "
            "(or TOTPKIT_DATA_DIR) at the server's data directory, or make one with `totpkit keys generate`"
        )
        return None
    try:
        return path, read_keys_file(path)
    except KeyConfigurationError as exc:
        _fail(str(exc))
        return None


def _database(args: argparse.Namespace) -> Store | None:
    """The server's store (not opened); ``None`` (after a message) if its SQLite file does not exist.

    Never creates a SQLite file: a usage count taken from a new, empty database would wrongly allow a
    retire. A PostgreSQL database (``--database-url``) is used as it is.
    """
    config = TOTPKitConfig(data_dir=Path(args.data_dir), database_url=getattr(args, "database_url", None))
    if not config.uses_postgres and (problem := missing_data_dir(Path(args.data_dir), args)):
        _fail(problem)
        return None
    if not config.uses_postgres and not config.sqlite_path.is_file():
        path = config.sqlite_path.resolve()
        _fail(f"no database at {path}; point --data-dir (or TOTPKIT_DATA_DIR) at the server's data directory")
        return None
    return create_store(config)


def _usage(database: Store) -> dict[str, SealingKeyUsage]:
    async def run() -> dict[str, SealingKeyUsage]:
        async with database as store:
            return await store.sealing_key_usage()

    return asyncio.run(run())


def _fail(message: str) -> None:
    print(f"totpkit: {message}", file=sys.stderr)


def _list(args: argparse.Namespace) -> int:
    loaded = _read(args)
    if loaded is None:
        return 2
    _, keys = loaded
    database = _database(args)
    if database is None:
        return 2
    usage = _usage(database)
    ring = keys.key_ring
    print("sealing keys (AES-256-GCM; the active one seals new secrets):")
    for key_id in ring.key_ids:
        print(_usage_line(key_id, "active" if key_id == ring.active_key_id else "", usage))
    for missing in missing_sealing_keys(ring, usage):
        print(_usage_line(missing.key_id, "MISSING", usage))
    print("signing keys (RS256; the first signs new session tokens, all are published in the JWKS):")
    for index, key in enumerate(keys.signing_keys):
        print(f"  {key.kid}  {'signing' if index == 0 else 'published'}")
    return 0


def _usage_line(key_id: str, role: str, usage: Mapping[str, SealingKeyUsage]) -> str:
    counts = usage.get(key_id, SealingKeyUsage(key_id=key_id))
    return f"  {key_id}  {role:<7}  TOTP secrets: {counts.totp_secrets}  unused backup codes: {counts.backup_codes}"


def _rotate(args: argparse.Namespace) -> int:
    loaded = _read(args)
    if loaded is None:
        return 2
    path, keys = loaded
    both = not args.sealing and not args.signing
    config = TOTPKitConfig(data_dir=Path(args.data_dir))
    if args.sealing or both:
        keys = with_new_sealing_key(keys, config.random_bytes)
        print(f"sealing key {keys.key_ring.active_key_id} is now active; kept: {', '.join(keys.key_ring.key_ids)}")
    if args.signing or both:
        keys = with_new_signing_key(keys, SigningKey.generate(config.make_id("ins")))
        published = ", ".join(key.kid for key in keys.signing_keys)
        print(f"signing key {keys.signing_keys[0].kid} now signs; the JWKS publishes: {published}")
    replace_keys_file(path, keys)
    print(f"updated {path}. {_RESTART}")
    if args.sealing or both:
        print("Then run `totpkit keys reseal` to move existing TOTP secrets to the new sealing key.")
    return 0


def _reseal(args: argparse.Namespace) -> int:
    loaded = _read(args)
    if loaded is None:
        return 2
    _, keys = loaded
    ring = keys.key_ring
    database = _database(args)
    if database is None:
        return 2

    async def run() -> tuple[int, int, list[str], dict[str, SealingKeyUsage]]:
        async with database as store:
            report = await reseal_all(store, ring, random_bytes=os.urandom, batch_size=args.batch_size)
            return report.resealed, report.changed_meanwhile, report.unreadable, await store.sealing_key_usage()

    resealed, changed, unreadable, usage = asyncio.run(run())
    print(f"re-sealed {resealed} TOTP secret(s) under {ring.active_key_id}; {changed} changed meanwhile")
    for key_id in sorted(usage):
        if key_id != ring.active_key_id:
            print(_usage_line(key_id, "remains", usage))
    if unreadable:
        _fail(
            f"{len(unreadable)} TOTP secret(s) could not be opened (missing key or tampered): {', '.join(unreadable)}"
        )
        return 1
    return 0


def _retire(args: argparse.Namespace) -> int:
    loaded = _read(args)
    if loaded is None:
        return 2
    path, keys = loaded
    is_sealing = args.key_id in keys.key_ring.key_ids
    database = _database(args) if is_sealing else None
    if is_sealing and database is None:
        return 2
    try:
        retired = retire_key(keys, args.key_id, _usage(database) if database is not None else {})
    except KeyRetirementRefused as exc:
        _fail(f"refusing to retire: {exc}")
        return 1
    replace_keys_file(path, retired)
    print(f"retired {'sealing' if is_sealing else 'signing'} key {args.key_id}; updated {path}. {_RESTART}")
    return 0
