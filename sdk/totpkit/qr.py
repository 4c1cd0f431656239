"""QR codes of ``otpauth://`` URIs, for people who enrol an authenticator app by scanning.

Needs the ``qr`` extra (``pip install 'totpkit[qr]'``, which brings ``segno``); without it every
function here raises :class:`~totpkit.MissingDependencyError` naming the extra. Importing
``totpkit`` (or this module) never imports ``segno``.

Every function renders the same symbol: byte mode, error correction level M (raised by segno
when the version has room for more), the smallest version that holds the URI. The URI is the
authenticator's secret: render it for the person enrolling and do not log or store the output.

Usage::

    totp = await user.create_totp()
    print(totp.qr_terminal())          # or qr_terminal(totp.uri)
    svg = totp.qr_svg()                # an <svg> element: inline in HTML, or an image/svg+xml file
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ._exceptions import MissingDependencyError

if TYPE_CHECKING:
    import segno

__all__ = ("qr_png", "qr_svg", "qr_terminal")

_ERROR_LEVEL = "m"
_DARK = "#000"
_LIGHT = "#fff"


def _qr_code(uri: str) -> segno.QRCode:
    """The QR symbol of ``uri``; ValueError for an empty one, MissingDependencyError without segno."""
    if not isinstance(uri, str) or not uri:
        raise ValueError("a QR code needs a non-empty otpauth URI")
    try:
        import segno
    except ImportError as exc:
        raise MissingDependencyError("segno", "qr") from exc
    return segno.make(uri, error=_ERROR_LEVEL, micro=False, boost_error=True)


def qr_svg(uri: str, *, scale: int = 4, border: int = 4, title: str | None = None) -> str:
    """An ``<svg>`` element of ``uri`` (black modules on white), with the SVG namespace and no XML
    declaration: it can be put inline in HTML, served as ``image/svg+xml`` or saved as a ``.svg`` file.

    ``scale`` is pixels per module, ``border`` the quiet zone in modules (4 is the standard's minimum
    for reliable scanning). ``title`` becomes the SVG's ``<title>`` (its accessible name).
    """
    out = io.BytesIO()
    _qr_code(uri).save(
        out,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=scale,
        border=border,
        dark=_DARK,
        light=_LIGHT,
        title=title,
    )
    return out.getvalue().decode("utf-8")


def qr_png(uri: str, *, scale: int = 4, border: int = 4) -> bytes:
    """A PNG image of ``uri`` (one-bit greyscale), ``scale`` pixels per module, ``border`` modules of quiet zone."""
    out = io.BytesIO()
    _qr_code(uri).save(out, kind="png", scale=scale, border=border, dark=_DARK, light=_LIGHT)
    return out.getvalue()


def qr_terminal(uri: str, *, border: int = 2) -> str:
    """``uri`` as text for a terminal: two module rows per line with the block characters ``█▀▄``.

    Light modules are drawn as blocks and dark ones as spaces, so the symbol scans on a terminal
    with light text on a dark background; the quiet zone is ``border`` modules. Ends with a newline.
    """
    out = io.StringIO()
    _qr_code(uri).terminal(out=out, border=border, compact=True)
    return out.getvalue()
