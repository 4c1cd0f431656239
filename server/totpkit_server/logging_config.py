"""How ``totpkit serve`` logs: uvicorn's own configuration, plus totpkit's records with their trace id.

Every record of a ``totpkit`` logger (one INFO line per audit event, errors) is written to stderr as::

    2026-05-12 10:00:00,123 INFO totpkit.audit clerk_trace_id=3f9c… audit sign_in.first_factor failure user=…

``clerk_trace_id`` is the ``X-Clerk-Trace-Id`` of the request being served (``None`` outside one), so
a line can be matched with the answer a client saw. Host apps that mount the plugin keep their own
logging; they can attach :class:`~totpkit_server.core.request_context.TraceIdFilter` to a handler.

With ``--log-format json`` every record (totpkit's, uvicorn's, Litestar's and any library's) is one JSON object per line
(:class:`JsonLinesFormatter`): ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
``clerk_trace_id`` (``null`` outside a request) and, for errors, ``exception``. The start-up
banner is then logged the same way instead of printed (:func:`announce`).
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from .core.request_context import TRACE_ID_ATTRIBUTE, TraceIdFilter

__all__ = ("TOTPKIT_LOG_FORMAT", "JsonLinesFormatter", "announce", "serve_log_config")

_BANNER_LOGGER = "totpkit.serve"


class JsonLinesFormatter(logging.Formatter):
    """Formats a record as one line of JSON carrying the request's ``clerk_trace_id``."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            TRACE_ID_ATTRIBUTE: getattr(record, TRACE_ID_ATTRIBUTE, None),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def announce(banner: str, log_format: str) -> None:
    """Show the start-up banner: printed to stdout as text, or one JSON log record per line."""
    if log_format == "json":
        for line in banner.splitlines():
            logging.getLogger(_BANNER_LOGGER).info(line.strip())
    else:
        print(banner, file=sys.stdout, flush=True)


TOTPKIT_LOG_FORMAT = f"%(asctime)s %(levelname)s %(name)s {TRACE_ID_ATTRIBUTE}=%({TRACE_ID_ATTRIBUTE})s %(message)s"


def serve_log_config(level: str = "info", log_format: str = "text") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for uvicorn: its defaults plus a ``totpkit`` logger at ``level``.

    ``level`` is a uvicorn log level name (``critical`` … ``trace``); unknown names raise KeyError.
    ``log_format`` ``json`` makes every handler write :class:`JsonLinesFormatter` lines.
    """
    from uvicorn.config import LOG_LEVELS, LOGGING_CONFIG

    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})[TRACE_ID_ATTRIBUTE] = {"()": TraceIdFilter}
    config["formatters"]["totpkit"] = {"format": TOTPKIT_LOG_FORMAT}
    config["handlers"]["totpkit"] = {
        "class": "logging.StreamHandler",
        "stream": "ext://sys.stderr",
        "formatter": "totpkit",
        "filters": [TRACE_ID_ATTRIBUTE],
    }
    config["loggers"]["totpkit"] = {"handlers": ["totpkit"], "level": LOG_LEVELS[level.lower()], "propagate": False}
    if log_format == "json":
        for name in config["formatters"]:
            config["formatters"][name] = {"()": JsonLinesFormatter}
        for handler in config["handlers"].values():
            handler["filters"] = [TRACE_ID_ATTRIBUTE]
        # Litestar's own logger and the root logger (libraries) get the JSON handler too, replacing the
        # text handlers Litestar's default logging configuration gave them.
        config["loggers"]["litestar"] = {"handlers": ["totpkit"], "level": "WARNING", "propagate": False}
        config["root"] = {"handlers": ["totpkit"], "level": "WARNING"}
    return config
