"""``totpkit serve --workers N``: several uvicorn worker processes accepting on one port.

``--workers`` (``TOTPKIT_WORKERS``) is a setting of :mod:`.cli_settings`.

uvicorn starts each worker as a fresh interpreter that imports an application *factory*, so the
configuration travels to the workers as the command line itself: the parent puts its ``totpkit``
arguments in the environment variable :data:`WORKER_ARGS_VARIABLE` and every worker parses them again
(:func:`worker_app`), making the same configuration as the parent. The parent has already generated
the development keys (if any) before the workers start, so all of them read one keys file; with
``--keys-file`` they all read that file. Every worker re-reads the keys file when it changes.

Workers share nothing in memory: every invariant (each TOTP step and backup code accepted once,
lockout counters, rate-limit windows, sessions) lives in the database, so ``--workers`` is as safe
on SQLite as on PostgreSQL; PostgreSQL scales further (see docs/DEPLOYING.md).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
from typing import Any

from litestar import Litestar

__all__ = ("WORKER_ARGS_VARIABLE", "worker_app", "worker_app_target", "worker_settings")

WORKER_START_TIMEOUT = 120.0
"""Seconds a worker may take to start (and to answer uvicorn's health check)."""

WORKER_ARGS_VARIABLE = "TOTPKIT_WORKER_ARGS"
"""The JSON list of ``totpkit`` arguments that workers configure themselves from."""


def worker_settings(workers: int) -> dict[str, Any]:
    """uvicorn keyword arguments for ``workers`` processes (none for one: it serves in this process).

    A worker has this long to import and start before uvicorn's supervisor counts it as dead; the
    default (5 s) is too short for a busy machine.
    """
    if workers == 1:
        return {}
    import uvicorn

    settings: dict[str, Any] = {"factory": True, "workers": workers}
    if "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        settings["timeout_worker_healthcheck"] = WORKER_START_TIMEOUT
    return settings


def worker_app_target(args: argparse.Namespace) -> str:
    """Hand ``args.argv`` to the workers through the environment; returns uvicorn's factory import string."""
    os.environ[WORKER_ARGS_VARIABLE] = json.dumps(args.argv)
    return f"{__name__}:worker_app"


def worker_app() -> Litestar:
    """The application of one worker, configured from :data:`WORKER_ARGS_VARIABLE` (uvicorn's factory)."""
    from . import cli
    from .app import create_app
    from .keys import keys_file_of, load_keys

    raw = os.environ.get(WORKER_ARGS_VARIABLE)
    if raw is None:
        raise RuntimeError(f"{WORKER_ARGS_VARIABLE} is not set; start workers with `totpkit serve --workers N`")
    args = cli.parse_command_line(json.loads(raw), os.environ)
    config = cli._config(args)
    keys = load_keys(config)
    config.keys_file = keys_file_of(config)
    config.key_ring, config.signing_keys, config.secret_key = keys.key_ring, keys.signing_keys, keys.secret_key
    return create_app(config)
