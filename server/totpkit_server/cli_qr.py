"""``totpkit qr URI``: show an ``otpauth://`` URI as a QR code, to enrol an authenticator app by scanning.

    totpkit qr URI              the QR code in block characters on stdout (light text on dark terminals)
    totpkit qr -                read the URI from the first line of stdin (keeps the secret out of
                                the shell history and the process list)
    totpkit qr URI --svg FILE   write an SVG image instead (mode 0600: the URI holds the secret)
    totpkit qr URI --png FILE   write a PNG image instead (mode 0600)

Needs the ``qr`` extra (``pip install 'totpkit[qr]'``). Exit status: 0 done, 2 not an otpauth URI,
an unwritable or existing file, or the extra missing (the message says which).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from totpkit import MissingDependencyError
from totpkit.qr import qr_png, qr_svg, qr_terminal

__all__ = ("add_qr_command",)

_SCHEME = "otpauth://"


def add_qr_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``totpkit qr``."""
    qr = commands.add_parser("qr", help="show an otpauth:// URI as a QR code (extra `qr`)")
    qr.add_argument("uri", help="the otpauth:// URI, or - to read it from stdin")
    output = qr.add_mutually_exclusive_group()
    output.add_argument("--svg", type=Path, default=None, metavar="FILE", help="write an SVG file")
    output.add_argument("--png", type=Path, default=None, metavar="FILE", help="write a PNG file")
    qr.set_defaults(func=_qr)


def _qr(args: argparse.Namespace) -> int:
    uri = sys.stdin.readline().strip() if args.uri == "-" else args.uri.strip()
    if not uri.lower().startswith(_SCHEME):
        print(f"totpkit: not an otpauth URI (it must start with {_SCHEME})", file=sys.stderr)
        return 2
    try:
        if args.svg is not None:
            return _write(args.svg, qr_svg(uri).encode())
        if args.png is not None:
            return _write(args.png, qr_png(uri))
        sys.stdout.write(qr_terminal(uri))
    except MissingDependencyError as exc:
        print(f"totpkit: {exc}", file=sys.stderr)
        return 2
    return 0


def _write(path: Path, data: bytes) -> int:
    """Create ``path`` (never overwrite) readable by the owner only, and write ``data``."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        print(f"totpkit: cannot create {path}: {exc.strerror}", file=sys.stderr)
        return 2
    with os.fdopen(fd, "wb") as sink:
        sink.write(data)
    print(f"wrote {path}")
    return 0
