"""Every operator setting in one table: a ``totpkit`` flag, a ``TOTPKIT_*`` variable, and the README row.

:data:`SETTINGS` is the single source. From it come the options of ``totpkit serve`` (and, for the
settings marked ``shared``, of every command that opens the data directory), the environment
variables read when a flag is absent, and the README's settings table (:func:`markdown_table`;
``python -m totpkit_server.cli_settings`` prints it, a test keeps the README equal to it).

A value given as a flag wins over the environment variable, which wins over the default (the
``TOTPKitConfig`` field's default). A setting's help is the first paragraph of the config field's
docstring, so the two cannot drift. An invalid value, as a flag or as a variable, is reported in
one line naming the flag or the variable (exit status 2, see :class:`SettingError`).

Adding a setting is one line in :data:`SETTINGS`: ``Setting("pool_size", positive_int)``; the flag
(``--pool-size``), the variable (``TOTPKIT_POOL_SIZE``) and the help follow from the field name.
A new ``TOTPKitConfig`` field must be added here or to :data:`NOT_SETTINGS` (with the reason); a test
checks that every field is one or the other.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import functools
import inspect
import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import config as config_module
from .config import POSTGRES_URL_SCHEMES, TOTPKitConfig

__all__ = (
    "NOT_SETTINGS",
    "SETTINGS",
    "Setting",
    "SettingError",
    "add_settings",
    "config_settings",
    "explain_config_error",
    "markdown_table",
    "missing_data_dir",
    "resolve_settings",
)

ENV_PREFIX = "TOTPKIT_"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NONE = frozenset({"", "none", "off"})


class SettingError(ValueError):
    """An invalid setting value; the message is one line that names the flag or variable."""


# --- parsers: text -> value, ValueError with a short reason ------------------------------------


def boolean(text: str) -> bool:
    """``1/true/yes/on`` or ``0/false/no/off`` (any case)."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError("expected one of 1/true/yes/on or 0/false/no/off")


def _integer(text: str, minimum: int, maximum: int | None = None) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError("expected a whole number") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValueError(f"must be {bound}")
    return value


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    return _integer(text, 1)


def non_negative_int(text: str) -> int:
    """A whole number of at least 0 (0 usually turns the limit off)."""
    return _integer(text, 0)


def _seconds(text: str) -> float:
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError("expected a number of seconds") from None
    if not 0 <= value < float("inf"):
        raise ValueError("must be a finite number of seconds, 0 or more")
    return value


def positive_seconds(text: str) -> float:
    """A number of seconds above 0 (fractions allowed)."""
    value = _seconds(text)
    if value == 0:
        raise ValueError("must be above 0")
    return value


def seconds_or_off(text: str) -> float:
    """A number of seconds (fractions allowed); 0 turns the feature off."""
    return _seconds(text)


def count_or_auto(text: str) -> int | None:
    """A whole number of at least 1, or ``auto`` for ``None`` (the component picks, e.g. one per core)."""
    return None if text.strip().lower() in ("auto", *_NONE) else _integer(text, 1)


def worker_count(text: str) -> int:
    """1 to 64 worker processes."""
    return _integer(text, 1, 64)


def port_number(text: str) -> int:
    """A TCP port, 0-65535 (0 lets the system choose a free one)."""
    return _integer(text, 0, 65535)


def totp_window(text: str) -> int:
    """0, 1 or 2 time steps."""
    return _integer(text, 0, 2)


def minutes_or_off(text: str) -> int:
    """Minutes (at least 1), or ``off``/``none``/``0`` for ``0`` (turned off)."""
    return 0 if text.strip().lower() in (*_NONE, "0") else _integer(text, 1)


def optional_text(text: str) -> str | None:
    """Any text; ``off``/``none``/empty for ``None``."""
    return None if text.strip().lower() in _NONE else text.strip()


def optional_path(text: str) -> Path | None:
    """A filesystem path; ``off``/``none``/empty for ``None``."""
    return None if text.strip().lower() in _NONE else Path(text.strip())


def text(value: str) -> str:
    """Any non-empty text."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def url_path(value: str) -> str:
    """A path starting with ``/``."""
    if not value.startswith("/"):
        raise ValueError("must start with '/'")
    return value


def http_url(value: str) -> str:
    """An ``http://`` or ``https://`` URL."""
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value.strip()):
        raise ValueError("expected an http:// or https:// URL")
    return value.strip()


def origins(value: str) -> tuple[str, ...]:
    """Comma-separated exact origins, ``scheme://host[:port]`` (no path, no trailing slash)."""
    items = tuple(item.strip() for item in value.split(","))
    for item in items:
        if not re.fullmatch(r"https?://[^\s/,]+", item):
            raise ValueError(f"{item!r} is not an origin like https://app.example.com")
    return items


DATABASE_URL_SCHEMES: list[str] = ["sqlite:///", *POSTGRES_URL_SCHEMES]
"""URL prefixes ``--database-url`` accepts; a new storage backend appends its own."""


def database_url(value: str) -> str | None:
    """A database URL starting with one of :data:`DATABASE_URL_SCHEMES`; ``none``/``off`` for ``None``."""
    url = optional_text(value)
    if url is not None and not url.startswith(tuple(DATABASE_URL_SCHEMES)):
        raise ValueError(f"expected a URL starting with {' or '.join(DATABASE_URL_SCHEMES)}")
    return url


def choice(*choices: str) -> Callable[[str], str]:
    """One of ``choices`` (any case)."""

    def parse(value: str) -> str:
        word = value.strip().lower()
        if word not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return word

    parse.__doc__ = f"One of {', '.join(choices)}."
    return parse


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Setting:
    """One operator setting.

    Attributes:
        name: the ``TOTPKitConfig`` field it sets (``config=True``), else the name of a process
            setting (host, port, log format); the flag and variable derive from it.
        parse: text (flag or variable) to value; raises ValueError with a short reason.
        metavar: how the value is shown in ``--help`` and the README.
        config: whether ``name`` is a ``TOTPKitConfig`` field.
        shared: also offered by every command that opens the data directory, not only ``serve``.
        help: the help text; empty takes the config field docstring's first paragraph.
        default: the default shown, for process settings (config fields show the field's default).
    """

    name: str
    parse: Callable[[str], Any]
    metavar: str = "VALUE"
    config: bool = True
    shared: bool = False
    help: str = ""
    default: Any = None

    @property
    def flag(self) -> str:
        """``--name-with-dashes``."""
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """``TOTPKIT_NAME``."""
        return ENV_PREFIX + self.name.upper()

    @property
    def is_switch(self) -> bool:
        """A yes/no setting: ``--flag`` / ``--no-flag`` on the command line."""
        return self.parse is boolean

    def description(self) -> str:
        """The help text: explicit, or the config field's docstring (first paragraph, one line)."""
        return self.help or field_docs().get(self.name, "")

    def shown_default(self) -> str:
        """The default as the README and ``--help`` show it."""
        value = config_defaults().get(self.name) if self.config else None
        if value is None:
            value = self.default
        if value is None:
            return "none"
        if isinstance(value, bool):
            return "on" if value else "off"
        if isinstance(value, tuple):
            return ",".join(value) or "none"
        return str(value)


SETTINGS: tuple[Setting, ...] = (
    # where and how the process runs
    Setting("host", text, "HOST", config=False, help="Address to listen on.", default="127.0.0.1"),
    Setting("port", port_number, "PORT", config=False, help="TCP port to listen on (0: any free port).", default=8000),
    Setting("data_dir", Path, "DIR", shared=True, default=Path(".totpkit")),
    Setting("database_url", database_url, "URL", shared=True),
    Setting("database_pool_min_size", positive_int, "N"),
    Setting("database_pool_max_size", positive_int, "N"),
    Setting(
        "workers",
        worker_count,
        "N",
        config=False,
        help="Worker processes accepting on the one port (uvicorn's supervisor); see docs/DEPLOYING.md.",
        default=1,
    ),
    Setting(
        "keys_file",
        Path,
        "FILE",
        config=False,
        shared=True,
        help="Keys file made by `totpkit keys generate`; without it, development keys in the data directory.",
    ),
    Setting("production", boolean),
    Setting(
        "log_format",
        choice("text", "json"),
        "FORMAT",
        config=False,
        help="`text` lines, or `json`: one JSON object per line, each with the request's `clerk_trace_id`.",
        default="text",
    ),
    Setting(
        "log_level",
        choice("critical", "error", "warning", "info", "debug", "trace"),
        "LEVEL",
        config=False,
        help="Lowest level logged.",
        default="info",
    ),
    # the browser-facing surface (a new TOTPKitConfig field is one more row, e.g.
    # Setting("cookie_same_site", choice("lax", "strict", "none"), "POLICY"); test_cli_settings insists)
    Setting("allowed_origins", origins, "ORIGINS"),
    Setting("issuer_url", http_url, "URL"),
    Setting("secure_cookies", boolean),
    Setting("path_prefix", url_path, "PATH"),
    Setting("issuer_name", text, "NAME"),
    Setting("openapi_path", optional_text, "PATH"),
    Setting("docs_path", optional_text, "PATH"),
    Setting("clerk_js_dir", optional_path, "DIR"),
    Setting("max_body_bytes", positive_int, "BYTES"),
    Setting("request_body_timeout", positive_seconds, "SECONDS"),
    # tokens, sessions, MFA
    Setting("session_token_lifetime", positive_int, "SECONDS"),
    Setting("session_lifetime", positive_int, "SECONDS"),
    Setting("sign_in_lifetime", positive_int, "SECONDS"),
    Setting("totp_window", totp_window, "STEPS"),
    Setting("backup_codes_enabled", boolean),
    Setting("lockout_max_attempts", non_negative_int, "N"),
    Setting("lockout_duration", positive_int, "SECONDS"),
    Setting("reverification_max_age", minutes_or_off, "MINUTES"),
    # rate limits and the proxy in front
    Setting("rate_limit_window", positive_int, "SECONDS"),
    Setting("rate_limit_per_client", non_negative_int, "N"),
    Setting("rate_limit_per_ip", non_negative_int, "N"),
    Setting("trusted_proxy_header", optional_text, "HEADER"),
    Setting("trusted_proxy_hops", positive_int, "N"),
    Setting("rate_limit_creations_per_ip", non_negative_int, "N"),
    # password hashing and housekeeping
    Setting("hashing_threads", count_or_auto, "N"),
    Setting("hashing_queue", non_negative_int, "N"),
    Setting("idle_lifetime", positive_int, "SECONDS"),
    Setting("sweep_interval", seconds_or_off, "SECONDS"),
)
"""Every setting, in the order ``--help`` and the README list them."""

NOT_SETTINGS: Mapping[str, str] = {
    "totp_digits": "Clerk supports only 6",
    "totp_period": "Clerk supports only 30",
    "totp_algorithm": "Clerk supports only SHA1",
    "backup_code_count": "Clerk's clients expect 10",
    "keys_file": "set from --keys-file (a process setting above), which also loads the keys",
    "key_ring": "from --keys-file",
    "signing_keys": "from --keys-file",
    "secret_key": "from --keys-file",
    "clock": "a Python callable (tests)",
    "random_bytes": "a Python callable (tests)",
    "id_factory": "a Python callable (tests)",
    "trace_id_factory": "a Python callable (tests)",
    "password_hasher": "a Python object",
    "store_dependency_key": "only for host apps embedding the plugin",
    "session_dependency_key": "only for host apps embedding the plugin",
    "set_default_exception_handler": "only for host apps embedding the plugin",
}
"""``TOTPKitConfig`` fields that are deliberately not operator settings, with the reason."""


# --- docstrings and defaults of the config fields ---------------------------------------------------


@functools.cache
def field_docs() -> dict[str, str]:
    """The first paragraph of each ``TOTPKitConfig`` field's docstring, on one line."""
    tree = ast.parse(inspect.getsource(config_module))
    docs: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == TOTPKitConfig.__name__:
            body = node.body
            for field_node, doc_node in itertools.pairwise(body):
                if (
                    isinstance(field_node, ast.AnnAssign)
                    and isinstance(field_node.target, ast.Name)
                    and isinstance(doc_node, ast.Expr)
                    and isinstance(doc_node.value, ast.Constant)
                    and isinstance(doc_node.value.value, str)
                ):
                    paragraph = inspect.cleandoc(doc_node.value.value).split("\n\n")[0]
                    docs[field_node.target.id] = " ".join(paragraph.split())
    return docs


@functools.cache
def config_defaults() -> dict[str, Any]:
    """Each ``TOTPKitConfig`` field's default (``None`` for fields built by a factory)."""
    return {
        f.name: (f.default if f.default is not dataclasses.MISSING else None) for f in dataclasses.fields(TOTPKitConfig)
    }


# --- argparse and the environment -------------------------------------------------------------------


def _argument_type(setting: Setting) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return setting.parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"invalid value {value!r}: {exc}") from None

    return parse


NOT_GIVEN: Any = argparse.SUPPRESS
"""Default of every settings flag: ``argparse`` leaves the attribute out unless the flag is given."""


def add_settings(parser: argparse.ArgumentParser, *, shared_only: bool = False) -> argparse.ArgumentParser:
    """Add the settings' flags to ``parser`` (only the ``shared`` ones if ``shared_only``).

    A flag not given leaves no attribute, so :func:`resolve_settings` can tell a flag from a
    variable from a default.
    """
    offered = tuple(s.name for s in SETTINGS if s.shared or not shared_only)
    group = parser.add_argument_group("settings (flag, else TOTPKIT_* environment variable, else default)")
    for setting in SETTINGS:
        if setting.name not in offered:
            continue
        help_text = f"{setting.description()} [env {setting.env}; default: {setting.shown_default()}]"
        help_text = help_text.replace("%", "%%")
        if setting.is_switch:
            group.add_argument(setting.flag, action=argparse.BooleanOptionalAction, default=NOT_GIVEN, help=help_text)
        else:
            group.add_argument(
                setting.flag, type=_argument_type(setting), default=NOT_GIVEN, metavar=setting.metavar, help=help_text
            )
    parser.set_defaults(offered_settings=offered)
    return parser


def resolve_settings(args: argparse.Namespace, environ: Mapping[str, str]) -> None:
    """Give every setting the command offers its value: the flag, else its variable, else the default.

    Afterwards ``args.<name>`` exists for each offered setting (``None``: the config default applies)
    and ``args.given_settings`` maps each setting given by flag or variable to that flag or variable.
    Raises :class:`SettingError` (one line, naming the variable) for an invalid variable.
    """
    given: dict[str, str] = {}
    for setting in SETTINGS:
        if setting.name not in getattr(args, "offered_settings", ()):
            continue
        if hasattr(args, setting.name):
            given[setting.name] = setting.flag
            continue
        if setting.env in environ:
            raw = environ[setting.env]
            try:
                setattr(args, setting.name, setting.parse(raw))
            except ValueError as exc:
                raise SettingError(f"{setting.env}: invalid value {raw!r}: {exc}") from None
            given[setting.name] = setting.env
            continue
        default = config_defaults().get(setting.name) if setting.config else None
        setattr(args, setting.name, setting.default if default is None else default)
    args.given_settings = given


def config_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The ``TOTPKitConfig`` fields given by flag or variable; the others keep the config defaults."""
    config_names = {s.name for s in SETTINGS if s.config}
    return {name: getattr(args, name) for name in getattr(args, "given_settings", {}) if name in config_names}


def explain_config_error(args: argparse.Namespace, message: str) -> str:
    """``message`` (a ``TOTPKitConfig`` ValueError) plus the flags or variables that set the fields it names.

    A message that already names its flags (``... (--issuer-url)``) is returned as it is.
    """
    if "(--" in message:
        return message
    given: dict[str, str] = getattr(args, "given_settings", {})
    sources = [source for name, source in given.items() if re.search(rf"\b{name}\b", message)]
    return f"{message} (check {', '.join(sources)})" if sources else message


def missing_data_dir(directory: Path, args: argparse.Namespace) -> str | None:
    """A one-line refusal if ``directory`` (the data directory, or the database's) does not exist.

    Commands other than ``serve`` and ``migrate`` use it so a mistyped ``--data-dir`` is reported
    instead of creating a new, empty instance.
    """
    if directory.is_dir():
        return None
    source = getattr(args, "given_settings", {}).get("data_dir", "the default")
    return (
        f"no data directory at {directory.resolve()} (from {source}); point --data-dir or TOTPKIT_DATA_DIR at "
        "the server's data directory, or create one with `totpkit migrate`"
    )


# --- the README table -----------------------------------------------------------------------------


def markdown_table(settings: Sequence[Setting] = SETTINGS) -> str:
    """The README's settings table (a Markdown table, one row per setting)."""
    rows = ["| Flag | Environment variable | Default | Meaning |", "| --- | --- | --- | --- |"]
    for setting in settings:
        flag = (
            f"`{setting.flag}` / `--no-{setting.flag[2:]}`"
            if setting.is_switch
            else f"`{setting.flag} {setting.metavar}`"
        )
        meaning = setting.description().replace("|", "\\|")
        rows.append(f"| {flag} | `{setting.env}` | {setting.shown_default()} | {meaning} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(markdown_table())
