"""``totpkit``: run the server, apply migrations, create users, make production keys.

    totpkit serve [--host 127.0.0.1] [--port 8000] [--data-dir .totpkit] [--production --keys-file F]
                  [--database-url postgresql://...] [--workers N]   (see cli_workers; every command
                  takes --database-url / TOTPKIT_DATABASE_URL; default: SQLite in the data directory)
                  [--rate-limit-per-ip N ... --trusted-proxy-header H]   (see cli_throttling)
                  [--reverification-max-age MINUTES]
    totpkit migrate [--data-dir ...]
    totpkit create-user --email E [--password P | --password-stdin] [--totp-secret S]
    totpkit keys generate --output keys.json
    totpkit keys list | rotate [--sealing] [--signing] | reseal [--batch-size N] | retire KEY_ID
    totpkit audit [--user USER_ID] [--since T] [--until T] [--limit N] [--json]   (see cli_audit)

Development keys are generated into the data directory on first start (mode 0600) with a banner;
``--production`` refuses to start unless ``--keys-file`` (or ``TOTPKIT_KEYS_FILE``) names a keys file.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .cli_audit import add_audit_command
from .cli_keys import add_key_commands
from .cli_throttling import add_throttling_options, throttling_settings, uvicorn_proxy_settings
from .cli_workers import add_workers_option, worker_app_target, worker_settings
from .config import TOTPKitConfig
from .core import errors
from .key_rotation import check_sealing_keys
from .keys import InstanceKeys, KeyConfigurationError, keys_file_of, load_keys, read_keys_file, write_keys_file
from .logging_config import serve_log_config
from .services import Instance, UserService
from .storage.base import Store
from .storage.factory import create_store

__all__ = ("main",)


def _config(args: argparse.Namespace) -> TOTPKitConfig:
    config = TOTPKitConfig(
        data_dir=Path(args.data_dir),
        database_url=getattr(args, "database_url", None),
        production=getattr(args, "production", False),
        issuer_name=getattr(args, "issuer_name", None) or "totpkit",
        reverification_max_age=getattr(args, "reverification_max_age", None),
        **throttling_settings(args),
    )
    keys_file = getattr(args, "keys_file", None) or os.environ.get("TOTPKIT_KEYS_FILE")
    if keys_file:
        keys = read_keys_file(Path(keys_file))
        config.key_ring, config.signing_keys, config.secret_key = keys.key_ring, keys.signing_keys, keys.secret_key
        config.keys_file = Path(keys_file)
    return config


def _banner(config: TOTPKitConfig, keys: InstanceKeys, url: str) -> str:
    lines = [f"totpkit listening on {url}", f"  data directory: {config.data_dir.resolve()}"]
    if keys.generated:
        lines += [
            "  DEVELOPMENT KEYS were generated in " + str((config.data_dir / "keys.json").resolve()) + " (mode 0600).",
            "  They are for development only; use --production --keys-file in production.",
        ]
    if not config.production:
        lines.append(f"  Backend API secret key: {keys.secret_key}")
    return "\n".join(lines)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .app import create_app

    try:
        config = _config(args)
        keys = load_keys(config)
        asyncio.run(_check_sealing_keys(config, keys))
    except KeyConfigurationError as exc:
        print(f"totpkit: {exc}", file=sys.stderr)
        return 2
    config.keys_file = keys_file_of(config)
    config.key_ring, config.signing_keys, config.secret_key = keys.key_ring, keys.signing_keys, keys.secret_key
    print(_banner(config, keys, f"http://{args.host}:{args.port}"), flush=True)
    uvicorn.run(
        worker_app_target(args) if args.workers > 1 else create_app(config),
        **worker_settings(args.workers),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        log_config=serve_log_config(args.log_level),
        access_log=False,
        **uvicorn_proxy_settings(config.trusted_proxy_header),
    )
    return 0


async def _check_sealing_keys(config: TOTPKitConfig, keys: InstanceKeys) -> None:
    """Refuse a database holding secrets under sealing keys that ``keys`` lacks: a clear message
    before uvicorn starts (the plugin's lifespan checks again)."""
    async with create_store(config) as store:
        await check_sealing_keys(store, keys.key_ring)


async def _open(config: TOTPKitConfig) -> tuple[Instance, Store]:
    store = create_store(config)
    await store.open()
    return Instance(config, store, load_keys(config)), store


def _migrate(args: argparse.Namespace) -> int:
    async def run() -> int:
        store = create_store(_config(args))
        await store.open()
        try:
            return await store.schema_version()
        finally:
            await store.close()

    print(f"schema version {asyncio.run(run())}")
    return 0


def _create_user(args: argparse.Namespace) -> int:
    password = args.password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif password is None:
        password = getpass.getpass("Password: ")

    async def run() -> str:
        instance, store = await _open(_config(args))
        try:
            user = await UserService(instance).create_user(
                email=args.email, password=password, totp_secret=args.totp_secret
            )
            return user.id
        finally:
            await store.close()

    try:
        print(asyncio.run(run()))
    except errors.ClerkAPIException as exc:
        print(f"totpkit: {exc.code}: {exc.long_message}", file=sys.stderr)
        return 1
    except KeyConfigurationError as exc:
        print(f"totpkit: {exc}", file=sys.stderr)
        return 2
    return 0


def _keys_generate(args: argparse.Namespace) -> int:
    path = Path(args.output)
    if path.exists():
        print(f"totpkit: {path} exists; refusing to overwrite keys", file=sys.stderr)
        return 1
    write_keys_file(path, TOTPKitConfig(data_dir=path.parent))
    print(f"wrote {path} (mode 0600); start with: totpkit serve --production --keys-file {path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="totpkit", description="Clerk-compatible TOTP MFA server.")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_data_dir(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--data-dir", default=os.environ.get("TOTPKIT_DATA_DIR", ".totpkit"))
        sub.add_argument("--keys-file", default=None, help="keys file made by `totpkit keys generate`")
        sub.add_argument(
            "--database-url",
            default=os.environ.get("TOTPKIT_DATABASE_URL"),
            help="sqlite:///path or postgresql://user@host/db (default: SQLite in the data directory)",
        )
        return sub

    serve = with_data_dir(commands.add_parser("serve", help="run the server (SQLite or PostgreSQL)"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--production", action="store_true", help="refuse to start without explicit keys")
    serve.add_argument("--issuer-name", default=None, help="application name shown in authenticator apps")
    serve.add_argument(
        "--reverification-max-age",
        type=int,
        default=None,
        metavar="MINUTES",
        help="MFA changes need a verification this recent (403 session_reverification_required); default off",
    )
    serve.add_argument("--log-level", default="info")
    add_workers_option(serve)
    add_throttling_options(serve)
    serve.set_defaults(func=_serve)

    migrate = with_data_dir(commands.add_parser("migrate", help="apply database migrations"))
    migrate.set_defaults(func=_migrate)

    create = with_data_dir(commands.add_parser("create-user", help="create a user with a password"))
    create.add_argument("--email", required=True)
    secret = create.add_mutually_exclusive_group()
    secret.add_argument("--password", default=None)
    secret.add_argument("--password-stdin", action="store_true")
    create.add_argument("--totp-secret", default=None, help="import an existing base32 TOTP secret")
    create.set_defaults(func=_create_user)

    add_audit_command(commands, with_data_dir, _config)

    keys = commands.add_parser("keys", help="key management")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    generate = key_commands.add_parser("generate", help="write a new production keys file")
    generate.add_argument("--output", required=True)
    generate.set_defaults(func=_keys_generate)
    add_key_commands(key_commands, with_data_dir)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``totpkit`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    status: int = args.func(args)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
