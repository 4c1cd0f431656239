"""``totpkit``: run the server, apply migrations, create users, make production keys.

    totpkit serve [--host 127.0.0.1] [--port 8000] [--data-dir .totpkit] [--production --keys-file F]
                  [--allowed-origins O,O] [--log-format json] [...]   (every setting: cli_settings)
                  [--database-url postgresql://...] [--workers N]   (see cli_workers; every command
                  takes --database-url / TOTPKIT_DATABASE_URL; default: SQLite in the data directory)
    totpkit migrate [--data-dir ...]
    totpkit create-user --email E [--password P | --password-stdin] [--totp-secret S]
    totpkit keys generate --output keys.json
    totpkit keys list | rotate [--sealing] [--signing] | reseal [--batch-size N] | retire KEY_ID
    totpkit audit [--user USER_ID] [--since T] [--until T] [--limit N] [--json]   (see cli_audit)
    totpkit gc [--data-dir ...]   (delete expired clients, sign-ins, sessions; see cli_gc)
    totpkit qr URI|- [--svg FILE | --png FILE]   (see cli_qr; extra `qr`)

Development keys are generated into the data directory on first start (mode 0600) with a banner;
``--production`` refuses to start unless ``--keys-file`` (or ``TOTPKIT_KEYS_FILE``) names a private
production keys file and the configuration has ``allowed_origins`` and ``issuer_url`` (one line, exit 2).
In development ``serve`` sets ``issuer_url`` to its bound address unless one is configured.

Every setting is a flag and a ``TOTPKIT_*`` environment variable, declared once in
:data:`~totpkit_server.cli_settings.SETTINGS`; add new ones there, not here. ``serve`` and
``migrate`` create the data directory; the other commands refuse to, and say where they looked.
Errors are one line on stderr: exit status 2 for bad arguments or settings, 1 for a refused action.
A new subcommand goes in its own ``cli_<name>.py`` with an ``add_<name>_command(commands, ...)``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

from . import serving
from .cli_audit import add_audit_command
from .cli_gc import add_gc_command
from .cli_keys import add_key_commands
from .cli_qr import add_qr_command
from .cli_settings import (
    SettingError,
    add_settings,
    config_settings,
    explain_config_error,
    missing_data_dir,
    resolve_settings,
)
from .cli_throttling import uvicorn_proxy_settings
from .cli_workers import worker_app_target, worker_settings
from .config import TOTPKitConfig
from .core import errors
from .key_rotation import check_sealing_keys
from .keys import InstanceKeys, KeyConfigurationError, keys_file_of, load_keys, read_keys_file, write_keys_file
from .logging_config import announce, serve_log_config
from .services import Instance, UserService
from .serving import BindError, bind
from .storage.base import Store
from .storage.factory import create_store

__all__ = ("build_parser", "main", "parse_command_line")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default unless it has none worth showing or its help states it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in help_text:
            return help_text
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """``totpkit``'s parsers: help with defaults, and usage errors in one line (exit status 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _config(args: argparse.Namespace) -> TOTPKitConfig:
    """The configuration the settings describe. Raises :class:`SettingError` naming the flag or variable."""
    try:
        config = TOTPKitConfig(**config_settings(args))
    except ValueError as exc:
        raise SettingError(explain_config_error(args, str(exc))) from None
    keys_file = getattr(args, "keys_file", None)
    if keys_file:
        try:
            keys = read_keys_file(Path(keys_file), production=config.production)
        except KeyConfigurationError as exc:
            raise SettingError(f"{exc} (check {args.given_settings.get('keys_file', '--keys-file')})") from None
        config.key_ring, config.signing_keys, config.secret_key = keys.key_ring, keys.signing_keys, keys.secret_key
        config.keys_file = Path(keys_file)
    return config


def _require_data_dir(config: TOTPKitConfig, args: argparse.Namespace) -> None:
    """Raise :class:`SettingError` if the command would have to create the data directory (for the
    database, or for development keys when no keys file is given)."""
    directories: list[Path] = []
    if config.database_url is None or not getattr(args, "keys_file", None):
        directories.append(config.data_dir)
    if config.database_url is not None and config.database_url.startswith("sqlite:///"):
        directories.append(config.sqlite_path.parent)
    for directory in directories:
        if problem := missing_data_dir(directory, args):
            raise SettingError(problem)


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
    from .app import create_app

    config = _config(args)
    try:
        keys = load_keys(config)
        asyncio.run(_check_sealing_keys(config, keys))
    except (KeyConfigurationError, ValueError) as exc:
        print(f"totpkit: {exc}", file=sys.stderr)
        return 2
    config.keys_file = keys_file_of(config)
    config.key_ring, config.signing_keys, config.secret_key = keys.key_ring, keys.signing_keys, keys.secret_key
    try:
        sock = bind(args.host, args.port)
    except BindError as exc:
        print(f"totpkit: {exc}", file=sys.stderr)
        return 1
    host, port = sock.getsockname()[:2]
    url = _bound_url(host, port)
    if config.issuer_url is None:  # development: the bound address, never a request's Host header
        config.issuer_url = url + config.path_prefix.rstrip("/")
    if args.workers > 1:
        sock.close()  # the port is free: uvicorn's supervisor binds it again for its workers
        return _serve_workers(args, config, keys, host, port)
    return serving.run(
        create_app(config),
        sock,
        lambda: announce(_banner(config, keys, url), args.log_format),
        log_level=args.log_level,
        log_config=serve_log_config(args.log_level, args.log_format),
        access_log=False,
        **uvicorn_proxy_settings(config.trusted_proxy_header),
    )


def _serve_workers(args: argparse.Namespace, config: TOTPKitConfig, keys: InstanceKeys, host: str, port: int) -> int:
    """``--workers N``: uvicorn's supervisor runs N processes on ``host:port`` (see :mod:`.cli_workers`).

    The workers configure themselves from the same command line and environment; the issuer this
    process chose (the bound address, in development) is handed to them through ``TOTPKIT_ISSUER_URL``
    so that every worker mints and checks the same ``iss``. The banner is printed before the workers
    start (each worker's start-up failure is logged by uvicorn).
    """
    import uvicorn

    if config.issuer_url is not None:
        os.environ["TOTPKIT_ISSUER_URL"] = config.issuer_url
    announce(_banner(config, keys, _bound_url(host, port)) + f"\n  workers: {args.workers}", args.log_format)
    uvicorn.run(
        worker_app_target(args),
        **worker_settings(args.workers),
        host=host,
        port=port,
        log_level=args.log_level,
        log_config=serve_log_config(args.log_level, args.log_format),
        access_log=False,
        **uvicorn_proxy_settings(config.trusted_proxy_header),
    )
    return 0


def _bound_url(host: str, port: int) -> str:
    """``http://host:port`` of the listening socket (IPv6 hosts in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


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


def _read_password(args: argparse.Namespace) -> str:
    """``--password``, a line of stdin (``--password-stdin``), or a prompt on the terminal.

    Raises :class:`SettingError` when there is no terminal to prompt on (or it is closed).
    """
    if args.password is not None:
        return str(args.password)
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    no_terminal = "no terminal to ask for the password on; pass --password-stdin (or --password)"
    if not sys.stdin.isatty():
        raise SettingError(no_terminal)
    try:
        return getpass.getpass("Password: ")
    except EOFError:
        raise SettingError(no_terminal) from None


def _create_user(args: argparse.Namespace) -> int:
    config = _config(args)
    _require_data_dir(config, args)
    password = _read_password(args)

    async def run() -> str:
        instance, store = await _open(config)
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
    write_keys_file(path, TOTPKitConfig(data_dir=path.parent), production=True)
    print(f"wrote {path} (mode 0600); start with: totpkit serve --production --keys-file {path}")
    return 0


def _subcommands(parser: argparse.ArgumentParser, dest: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Required subcommands of ``parser``, made as :class:`_Parser` (one-line errors, defaults in help)."""
    return cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest=dest, required=True, parser_class=_Parser),
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``totpkit`` command line: every subcommand, each with a description and explained options."""
    parser = _Parser(prog="totpkit", description="Clerk-compatible TOTP MFA server.")
    commands = _subcommands(parser, "command")

    def with_data_dir(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        return add_settings(sub, shared_only=True)

    serve = add_settings(commands.add_parser("serve", help="run the server (embedded SQLite)"))
    serve.set_defaults(func=_serve)

    migrate = with_data_dir(commands.add_parser("migrate", help="apply database migrations"))
    migrate.set_defaults(func=_migrate)

    create = with_data_dir(commands.add_parser("create-user", help="create a user with a password"))
    create.add_argument("--email", required=True, help="the new user's email address")
    secret = create.add_mutually_exclusive_group()
    secret.add_argument("--password", default=None, help="the password (visible to other local users; prefer stdin)")
    secret.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    create.add_argument("--totp-secret", default=None, help="import an existing base32 TOTP secret")
    create.set_defaults(func=_create_user)

    add_audit_command(commands, with_data_dir, _config)
    add_gc_command(commands, with_data_dir, _config)
    add_qr_command(commands)

    keys = commands.add_parser("keys", help="key management")
    key_commands = _subcommands(keys, "keys_command")
    generate = key_commands.add_parser("generate", help="write a new production keys file")
    generate.add_argument("--output", required=True, help="where to write it (refused if it exists)")
    generate.set_defaults(func=_keys_generate)
    add_key_commands(key_commands, with_data_dir)
    _describe_subcommands(parser)
    return parser


def _describe_subcommands(parser: argparse.ArgumentParser) -> None:
    """Give every subcommand without a description its one-line help, so ``--help`` explains it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                sub.description = sub.description or helps.get(name)
                _describe_subcommands(sub)


def parse_command_line(argv: Sequence[str] | None, environ: Mapping[str, str]) -> argparse.Namespace:
    """The parsed command line, each setting taken from its flag, else from ``environ``, else its default.

    Usage errors exit (status 2, one line); an invalid ``TOTPKIT_*`` value raises :class:`SettingError`.
    """
    args = build_parser().parse_args(argv)
    resolve_settings(args, environ)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``totpkit`` command; returns the exit status.

    Invalid settings (flags or ``TOTPKIT_*`` variables) and refusals found before any work print one
    line on stderr and return 2.
    """
    try:
        args = parse_command_line(argv, os.environ)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        status: int = args.func(args)
    except SettingError as exc:
        print(f"totpkit: {exc}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    raise SystemExit(main())
