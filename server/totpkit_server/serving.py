"""Running uvicorn for ``totpkit serve``: bind first, announce only once the server accepts connections.

:func:`bind` opens the listening socket before anything else, so a taken port is reported in one
line (:class:`BindError`) instead of a uvicorn traceback after the banner. :func:`run` hands that
socket to uvicorn and calls ``announce`` with the bound address only after uvicorn's start-up (the
app's lifespan: database opened, keys checked) has succeeded and the socket accepts connections.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Any

import uvicorn

__all__ = ("STARTUP_FAILURE", "BindError", "bind", "run")

STARTUP_FAILURE = 3
"""Exit status when the app's start-up fails (uvicorn's convention)."""


class BindError(OSError):
    """The address cannot be listened on; the message is one line that says which flag to change."""


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (``port`` 0: any free port), as uvicorn would bind it.

    Raises :class:`BindError` naming ``--port`` when the port is taken, ``--host`` for other failures.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BindError(
                f"port {port} on {host} is already in use; choose another with --port (or TOTPKIT_PORT)"
            ) from None
        raise BindError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; check --host and --port") from None
    sock.set_inheritable(True)
    return sock


class _AnnouncingServer(uvicorn.Server):
    """A uvicorn server that calls ``announce`` once it has started."""

    def __init__(self, config: uvicorn.Config, announce: Callable[[], None]) -> None:
        super().__init__(config)
        self._announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and not self.should_exit:
            self._announce()


def run(app: Any, sock: socket.socket, announce: Callable[[], None], **uvicorn_settings: Any) -> int:
    """Serve ``app`` on the bound ``sock`` until stopped; ``announce()`` once it accepts connections.

    ``uvicorn_settings`` are :class:`uvicorn.Config` keywords. Returns 0 after a normal shutdown,
    :data:`STARTUP_FAILURE` if the app's start-up failed.
    """
    server = _AnnouncingServer(uvicorn.Config(app, **uvicorn_settings), announce)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else STARTUP_FAILURE
