"""The ``totpkit`` command's entry point: the server's CLI, or one line naming the extra it needs.

The command is installed with every install of the distribution, but the server it runs comes with
the ``server`` extra. In an SDK-only install (``pip install totpkit``) the command prints a single
line to stderr that says ``pip install 'totpkit[server]'`` and exits with status 1, instead of an
import traceback. A module missing from inside the project itself is a bug, not a missing extra,
and is raised as usual.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ("SERVER_EXTRA_HINT", "main")

SERVER_EXTRA_HINT = "the totpkit command runs the server, which is not installed: pip install 'totpkit[server]'"
_OWN_PACKAGES = frozenset({"totpkit", "totpkit_server"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``totpkit_server.cli.main(argv)``; returns its exit status, or 1 without the server extra."""
    try:
        from totpkit_server.cli import main as server_main
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.partition(".")[0] in _OWN_PACKAGES:
            raise
        print(f"totpkit: {SERVER_EXTRA_HINT} (missing module {exc.name!r})", file=sys.stderr)
        return 1
    return server_main(argv)
