"""How ``totpkit serve`` logs: uvicorn's own configuration, plus totpkit's records with their trace id.

Every record of a ``totpkit`` logger (one INFO line per audit event, errors) is written to stderr as::

    2026-05-12 10:00:00,123 INFO totpkit.audit clerk_trace_id=3f9c… audit sign_in.first_factor failure user=…

``clerk_trace_id`` is the ``X-Clerk-Trace-Id`` of the request being served (``None`` outside one), so
a line can be matched with the answer a client saw. Host apps that mount the plugin keep their own
logging; they can attach :class:`~totpkit_server.core.request_context.TraceIdFilter` to a handler.
"""

from __future__ import annotations

import copy
from typing import Any

from .core.request_context import TRACE_ID_ATTRIBUTE, TraceIdFilter

__all__ = ("TOTPKIT_LOG_FORMAT", "serve_log_config")

TOTPKIT_LOG_FORMAT = f"%(asctime)s %(levelname)s %(name)s {TRACE_ID_ATTRIBUTE}=%({TRACE_ID_ATTRIBUTE})s %(message)s"


def serve_log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document for uvicorn: its defaults plus a ``totpkit`` logger at ``level``.

    ``level`` is a uvicorn log level name (``critical`` … ``trace``); unknown names raise KeyError.
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
    return config
